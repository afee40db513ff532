package diffusion_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/schedule"
)

func TestFolderLoad(t *testing.T) {
	p := tinyPipeline(t)
	if p.VAE == nil || p.UNet == nil || p.TextEncoder == nil || p.Tokenizer == nil {
		t.Fatal("a component is missing")
	}
	if p.Scheduler.ClassName != schedule.ClassPNDM {
		t.Errorf("scheduler %s, want the folder's %s", p.Scheduler.ClassName, schedule.ClassPNDM)
	}
	if f := p.ScaleFactor(); f != 1<<(len(p.VAE.Config().BlockOutChannels)-1) {
		t.Errorf("ScaleFactor %d", f)
	}
	if len(p.Notes) != 2 || !strings.Contains(p.Notes[1], "safety_checker") {
		t.Errorf("notes %q, want the feature extractor and the safety checker", p.Notes)
	}
	if p.Tokenizer.MaxLength() != 77 {
		t.Errorf("tokenizer max length %d, want 77", p.Tokenizer.MaxLength())
	}
}

// model_index.json's scheduler class wins over scheduler_config.json's, as in diffusers.
func TestFolderSchedulerClass(t *testing.T) {
	dir := tinyDir(t)
	editJSON(t, filepath.Join(dir, "model_index.json"), func(m map[string]any) {
		m["scheduler"] = []any{"diffusers", schedule.ClassDDIM}
	})
	p, err := diffusion.LoadPipeline(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Scheduler.ClassName != schedule.ClassDDIM || p.Scheduler.BetaSchedule != schedule.BetaScaledLinear {
		t.Errorf("scheduler %s (%s), want DDIM with the folder's scaled_linear betas", p.Scheduler.ClassName, p.Scheduler.BetaSchedule)
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), "read as model_index.json's DDIMScheduler") {
		t.Errorf("notes %q", p.Notes)
	}
}

func TestFolderModelIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model_index.json")
	// stabilityai/stable-diffusion-2-1's, with an image encoder entry as newer diffusers write.
	if err := os.WriteFile(path, []byte(`{
		"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.10.0.dev0",
		"feature_extractor": ["transformers", "CLIPImageProcessor"],
		"image_encoder": [null, null], "requires_safety_checker": false,
		"safety_checker": [null, null], "scheduler": ["diffusers", "DDIMScheduler"],
		"text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
		"unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := diffusion.ReadModelIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	if idx.ClassName != "StableDiffusionPipeline" || idx.DiffusersVersion != "0.10.0.dev0" {
		t.Errorf("class %q version %q", idx.ClassName, idx.DiffusersVersion)
	}
	if len(idx.Components) != 6 || idx.Components["unet"] != (diffusion.Component{Library: "diffusers", Class: "UNet2DConditionModel"}) {
		t.Errorf("components %v", idx.Components)
	}
	if !slices.Equal(idx.Null, []string{"image_encoder", "safety_checker"}) {
		t.Errorf("null components %v", idx.Null)
	}
	if err := os.WriteFile(path, []byte(`{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := diffusion.ReadModelIndex(path); err == nil || !strings.Contains(err.Error(), `"unet"`) {
		t.Errorf("a one-element entry: err = %v", err)
	}
}

// editJSON rewrites a JSON object file through edit.
func editJSON(t *testing.T, path string, edit func(m map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFolderErrors(t *testing.T) {
	index := func(edit func(m map[string]any)) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) { editJSON(t, filepath.Join(dir, "model_index.json"), edit) }
	}
	remove := func(name string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		name        string
		edit        func(t *testing.T, dir string)
		want        string
		unsupported bool
	}{
		{"no model_index.json", remove("model_index.json"), "model_index.json", false},
		{"no text_encoder folder", remove("text_encoder"), filepath.Join("text_encoder"), false},
		{"no vae folder", remove("vae"), "component vae", false},
		{"no unet weights", remove(filepath.Join("unet", "diffusion_pytorch_model.safetensors")), "diffusion_pytorch_model.safetensors", false},
		{"no vocab", remove(filepath.Join("tokenizer", "vocab.json")), "vocab.json", false},
		{"no scheduler config", remove(filepath.Join("scheduler", "scheduler_config.json")), "scheduler_config.json", false},
		{"no tokenizer entry", index(func(m map[string]any) { delete(m, "tokenizer") }), `no "tokenizer" component`, false},
		{"unknown component", index(func(m map[string]any) { m["controlnet"] = []any{"diffusers", "ControlNetModel"} }),
			"controlnet", true},
		{"unknown class", index(func(m map[string]any) { m["vae"] = []any{"diffusers", "AutoencoderTiny"} }),
			"AutoencoderTiny", true},
		{"SDXL", index(func(m map[string]any) { m["_class_name"] = "StableDiffusionXLPipeline" }),
			"StableDiffusionXLPipeline", true},
		{"scheduler class", func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "scheduler", "scheduler_config.json"), func(m map[string]any) {
				m["_class_name"] = "LMSDiscreteScheduler"
			})
		}, "LMSDiscreteScheduler", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := tinyDir(t)
			c.edit(t, dir)
			_, err := diffusion.LoadPipeline(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if c.unsupported != errors.Is(err, diffusion.ErrUnsupportedConfig) {
				t.Errorf("errors.Is(err, ErrUnsupportedConfig) = %v, want %v", !c.unsupported, c.unsupported)
			}
			t.Log(err)
		})
	}
}

// shard splits dir/<from> into two shards named after base and an index
// <base>.safetensors.index.json, and removes <from>.
func shard(t *testing.T, dir, from, base string) {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(dir, from))
	if err != nil {
		t.Fatal(err)
	}
	var all []*safetensors.Tensor
	for _, name := range f.Names() {
		tt, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, tt)
	}
	weightMap := map[string]string{}
	for i, part := range [][]*safetensors.Tensor{all[:len(all)/2], all[len(all)/2:]} {
		name := fmt.Sprintf("%s-%05d-of-00002.safetensors", base, i+1)
		if err := safetensors.Write(filepath.Join(dir, name), part, nil); err != nil {
			t.Fatal(err)
		}
		for _, tt := range part {
			weightMap[tt.Name] = name
		}
	}
	idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap})
	if err := os.WriteFile(filepath.Join(dir, base+".safetensors.index.json"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, from)); err != nil {
		t.Fatal(err)
	}
}

// Sharded weights and the fp16 variant load, and give the single-file folder's images.
func TestFolderVariantAndShards(t *testing.T) {
	want, _ := generate(t, tinyPipeline(t), []string{"a dog"}, diffusion.Steps(2), diffusion.Size(16, 16))
	check := func(t *testing.T, dir string, opts ...diffusion.LoadOption) {
		t.Helper()
		p, err := diffusion.LoadPipeline(dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := generate(t, p, []string{"a dog"}, diffusion.Steps(2), diffusion.Size(16, 16))
		if !slices.Equal(got, want) {
			t.Fatalf("images differ from the single-file folder's: max |a-b| = %g", maxAbsDiff(got, want))
		}
	}

	t.Run("sharded", func(t *testing.T) {
		dir := tinyDir(t)
		shard(t, filepath.Join(dir, "unet"), "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model")
		shard(t, filepath.Join(dir, "text_encoder"), "model.safetensors", "model")
		check(t, dir)
	})

	t.Run("fp16", func(t *testing.T) {
		// The variant files (float32 inside: the name is what selects them) beside corrupt
		// full-precision ones, which only a load without Variant reads.
		dir := tinyDir(t)
		for _, c := range []struct{ sub, file, variant string }{
			{"vae", "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"},
			{"text_encoder", "model.safetensors", "model.fp16.safetensors"},
		} {
			from, to := filepath.Join(dir, c.sub, c.file), filepath.Join(dir, c.sub, c.variant)
			if err := os.Rename(from, to); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(from, []byte("not a safetensors file"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		unet := filepath.Join(dir, "unet")
		shard(t, unet, "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16")
		if err := os.WriteFile(filepath.Join(unet, "diffusion_pytorch_model.safetensors"), []byte("corrupt"), 0o644); err != nil {
			t.Fatal(err)
		}
		check(t, dir, diffusion.Variant("fp16"))
		if _, err := diffusion.LoadPipeline(dir); err == nil {
			t.Error("without Variant the corrupt full-precision files loaded")
		}
		_, err := diffusion.LoadPipeline(dir, diffusion.Variant("bf16"))
		if err == nil || !strings.Contains(err.Error(), "diffusion_pytorch_model.bf16.safetensors") {
			t.Errorf("a missing variant: err = %v", err)
		}
		t.Log(err)
	})
}

// A pixel-space model: no VAE, the U-Net (in and out channels 3) denoises the image itself.
func TestFolderPixelSpace(t *testing.T) {
	src := tinyDir(t)
	dir := t.TempDir()
	for _, sub := range []string{"text_encoder", "tokenizer", "scheduler"} {
		if err := os.Rename(filepath.Join(src, sub), filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	te, err := diffusion.LoadTextEncoder(filepath.Join(dir, "text_encoder"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := diffusion.DefaultUNetConfig()
	groups, size := 8, diffusion.Int(12)
	cfg.InChannels, cfg.OutChannels, cfg.SampleSize = 3, 3, &size
	cfg.BlockOutChannels = []int{16, 32}
	cfg.DownBlockTypes = []string{"CrossAttnDownBlock2D", "DownBlock2D"}
	cfg.UpBlockTypes = []string{"UpBlock2D", "CrossAttnUpBlock2D"}
	cfg.LayersPerBlock, cfg.NormNumGroups, cfg.AttentionHeadDim = diffusion.Int(1), &groups, diffusion.Int(2)
	cfg.CrossAttentionDim = diffusion.Int(te.Config().HiddenSize)
	u, err := diffusion.NewUNet(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Save(filepath.Join(dir, "unet")); err != nil {
		t.Fatal(err)
	}
	index := strings.Replace(fixtures.SD15ModelIndex, `["diffusers", "AutoencoderKL"]`, `[null, null]`, 1)
	if err := os.WriteFile(filepath.Join(dir, "model_index.json"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}

	p, err := diffusion.LoadPipeline(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.VAE != nil || p.ScaleFactor() != 1 {
		t.Fatalf("VAE %v, scale factor %d: want none and 1", p.VAE, p.ScaleFactor())
	}
	images, err := p.Generate(context.Background(), []string{"a red ball", "a blue box"}, diffusion.Steps(3), diffusion.Seed(4))
	if err != nil {
		t.Fatal(err)
	}
	if got := images[0].Bounds().Size(); got != image.Pt(12, 12) {
		t.Fatalf("image size %v, want sample_size 12", got)
	}
	again, err := p.Generate(context.Background(), []string{"a red ball", "a blue box"}, diffusion.Steps(3), diffusion.Seed(4))
	if err != nil {
		t.Fatal(err)
	}
	for i := range images {
		if !bytes.Equal(images[i].(*imaging.RGB).Pix, again[i].(*imaging.RGB).Pix) {
			t.Fatalf("image %d: same seed gave other pixels", i)
		}
	}
	latents, shape, err := p.GenerateLatents(context.Background(), []string{"a red ball"}, diffusion.Steps(3), diffusion.Seed(4))
	if err != nil {
		t.Fatal(err)
	}
	pixels, pshape, err := p.GenerateTensors(context.Background(), []string{"a red ball"}, diffusion.Steps(3), diffusion.Seed(4))
	if err != nil {
		t.Fatal(err)
	}
	if shape != pshape || shape != [4]int{1, 3, 12, 12} || !slices.Equal(latents, pixels) {
		t.Fatalf("pixel space: latents %v and pixels %v differ", shape, pshape)
	}

	// No vae entry at all is pixel space too; a latent U-Net (in_channels 4) without a VAE is
	// refused.
	editJSON(t, filepath.Join(dir, "model_index.json"), func(m map[string]any) { delete(m, "vae") })
	if _, err := diffusion.LoadPipeline(dir); err != nil {
		t.Fatalf("no vae entry: %v", err)
	}
	editJSON(t, filepath.Join(src, "model_index.json"), func(m map[string]any) { m["vae"] = []any{nil, nil} })
	for _, sub := range []string{"text_encoder", "tokenizer", "scheduler"} {
		if err := os.Rename(filepath.Join(dir, sub), filepath.Join(src, sub)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := diffusion.LoadPipeline(src); err == nil || !strings.Contains(err.Error(), "in_channels 4") {
		t.Fatalf("latent U-Net without a VAE: err = %v", err)
	} else {
		t.Log(err)
	}
}
