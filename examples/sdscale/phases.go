package main

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/align/clip"
	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/rpo"
	"github.com/gorpo/gorpo/schedule"
)

// configs holds the published config.json files of the models measured (see configs/README.md).
//
//go:embed configs
var configs embed.FS

// sdConfigs are one Stable Diffusion's three model configurations.
type sdConfigs struct {
	unet diffusion.UNetConfig
	vae  diffusion.VAEConfig
	text diffusion.TextEncoderConfig
}

// readSD reads the configurations of --model: a name under configs/ or a diffusers folder.
func readSD(name string) (sdConfigs, error) {
	var c sdConfigs
	dir, embedded := "configs/"+name, true
	if _, err := configs.ReadDir(dir); err != nil {
		dir, embedded = name, false
		if _, err := os.Stat(filepath.Join(dir, "unet", "config.json")); err != nil {
			return c, fmt.Errorf("--model %q: not sd15 or sd21-base, nor a diffusers folder with unet/config.json", name)
		}
	}
	read := func(part string) (string, error) {
		if embedded {
			data, err := configs.ReadFile(dir + "/" + part + ".json")
			if err != nil {
				return "", err
			}
			tmp, err := os.CreateTemp("", "sdscale-*.json")
			if err != nil {
				return "", err
			}
			defer tmp.Close()
			if _, err := tmp.Write(data); err != nil {
				return "", err
			}
			return tmp.Name(), nil
		}
		return filepath.Join(dir, part, "config.json"), nil
	}
	var err error
	for _, part := range []struct {
		name string
		load func(path string) error
	}{
		{"unet", func(p string) (err error) { c.unet, err = diffusion.LoadUNetConfig(p); return }},
		{"vae", func(p string) (err error) { c.vae, err = diffusion.LoadVAEConfig(p); return }},
		{"text_encoder", func(p string) (err error) { c.text, err = clip.LoadTextConfig(p); return }},
	} {
		var path string
		if path, err = read(part.name); err != nil {
			return c, fmt.Errorf("--model %s: %s: %w", name, part.name, err)
		}
		if embedded {
			defer os.Remove(path)
		}
		if err = part.load(path); err != nil {
			return c, fmt.Errorf("--model %s: %w", name, err)
		}
	}
	return c, nil
}

// readALIGN reads the configuration of --align.
func readALIGN(name string) (*align.AlignConfig, error) {
	if data, err := configs.ReadFile("configs/" + name + "/config.json"); err == nil {
		return align.ParseAlignConfig(data)
	}
	cfg, err := align.LoadAlignConfig(filepath.Join(name, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("--align %q: not align-base, nor a folder with an ALIGN config.json: %w", name, err)
	}
	return cfg, nil
}

// peakRSS is the process's peak resident memory so far (VmHWM), in bytes; 0 where /proc is not.
func peakRSS() int64 { return procStatus("VmHWM:") }

// procStatus reads a kB figure of /proc/self/status, in bytes; 0 where /proc is not.
func procStatus(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// paramCount is the number of values of store's variables.
func paramCount(store *model.Store) int64 {
	var n int64
	for v := range store.IterVariables() {
		n += int64(v.Shape().Size())
	}
	return n
}

// timed runs fn twice (once if twice is false) and records the two wall times.
func timed(r *result, twice bool, fn func() error) error {
	start := time.Now()
	if err := fn(); err != nil {
		return err
	}
	r.FirstSec = time.Since(start).Seconds()
	if twice {
		start = time.Now()
		if err := fn(); err != nil {
			return err
		}
		r.SteadySec = time.Since(start).Seconds()
	}
	return nil
}

// runChild measures one phase and writes its result as a JSON line.
func runChild(phase string, o options, w io.Writer) error {
	b, err := backend.Default()
	if err != nil {
		return err
	}
	r := result{Phase: phase, GoMaxProcs: runtime.GOMAXPROCS(0), BackendName: b.Name()}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x5d5ca1e))
	start := time.Now()
	if phase == "align" {
		err = measureALIGN(ctx, o, &r, rng, start)
	} else {
		var c sdConfigs
		if c, err = readSD(o.Model); err == nil {
			err = measureSD(ctx, phase, o, c, &r, rng, start)
		}
	}
	if err != nil {
		return err
	}
	r.PeakRSS = peakRSS()
	return json.NewEncoder(w).Encode(r)
}

// built records the models' build time, size and the memory after building.
func built(r *result, start time.Time, stores ...*model.Store) {
	r.BuildSec = time.Since(start).Seconds()
	for _, s := range stores {
		r.Params += paramCount(s)
	}
	runtime.GC()
	r.BuildRSS = peakRSS()
}

// measureSD runs the text, unet, vae and sample phases.
func measureSD(ctx context.Context, phase string, o options, c sdConfigs, r *result, rng *rand.Rand, start time.Time) error {
	if o.Size%8 != 0 || o.Size < 64 {
		return fmt.Errorf("--size %d: want a multiple of 8, at least 64", o.Size)
	}
	lat := o.Size / 8
	tokens := min(c.text.MaxPositionEmbeddings, 77)
	ctxShape := [3]int{2, tokens, c.text.HiddenSize}
	switch phase {
	case "text":
		te, err := diffusion.NewTextEncoder(c.text, o.Seed)
		if err != nil {
			return err
		}
		built(r, start, te.Store())
		r.What = fmt.Sprintf("CLIP text encoder, 2 × %d tokens", tokens)
		ids := randomIDs(rng, 2, tokens, c.text.VocabSize)
		if r.FLOPs, err = textFLOPs(te, 2, tokens); err != nil {
			return err
		}
		return timed(r, true, func() error { _, _, err := te.Encode(ctx, ids); return err })

	case "unet":
		u, err := newUNet(c.unet, o)
		if err != nil {
			return err
		}
		built(r, start, u.Store())
		r.What = fmt.Sprintf("U-Net forward, 2 × %d × %d × %d latents, %s", c.unet.InChannels, lat, lat, cmp.Or(o.Precision, "fp32"))
		x := randomNormal(rng, 2*c.unet.InChannels*lat*lat)
		states := randomNormal(rng, ctxShape[0]*ctxShape[1]*ctxShape[2])
		if r.FLOPs, err = unetFLOPs(u, 2, lat, ctxShape); err != nil {
			return err
		}
		return timed(r, true, func() error {
			_, err := u.Predict(ctx, x, [4]int{2, c.unet.InChannels, lat, lat}, []float64{500}, states, ctxShape)
			return err
		})

	case "vae":
		v, err := diffusion.NewVAE(c.vae, o.Seed)
		if err != nil {
			return err
		}
		built(r, start, v.Store())
		r.What = fmt.Sprintf("VAE encode + decode, one %d×%d image", o.Size, o.Size)
		img := randomUniform(rng, 3*o.Size*o.Size)
		encF, err := forwardFLOPs(v.Store(), func(scope *model.Scope, in []*graph.Node) {
			v.ForwardEncode(scope.Store().Scope(diffusion.VAEScope), in[0])
		}, shapes.Make(dtypes.Float32, 1, o.Size, o.Size, c.vae.InChannels))
		if err != nil {
			return err
		}
		decF, err := decodeFLOPs(v, lat)
		if err != nil {
			return err
		}
		r.FLOPs = encF + decF
		return timed(r, true, func() error {
			mean, _, ls, err := v.Encode(ctx, img, [4]int{1, 3, o.Size, o.Size})
			if err != nil {
				return err
			}
			_, _, err = v.Decode(ctx, mean, ls)
			return err
		})

	case "sample":
		return measureSample(ctx, o, c, r, start)

	case "checkpoint":
		return measureCheckpoint(o, c, r, start)

	case "rpo-lora", "rpo-full":
		u, err := diffusion.NewUNet(c.unet, o.Seed)
		if err != nil {
			return err
		}
		built(r, start, u.Store())
		cfg := rpo.DefaultConfig()
		cfg.Class, cfg.BatchSize, cfg.Precision = "dog", 1, rpo.Precision(o.Precision)
		cfg.GradientCheckpointing = o.Checkpoint
		kind := "full fine-tune"
		if phase == "rpo-lora" {
			cfg.LoRARank, cfg.LoRAAlpha = 4, 4
			kind = "LoRA rank 4"
		}
		sched, err := schedule.Defaults("DDIMScheduler")
		if err != nil {
			return err
		}
		if o.Checkpoint {
			kind += ", gradient checkpointing"
		}
		r.What = fmt.Sprintf("RPO step, %s, one pair at %d px, AdamW, %s", kind, o.Size, cmp.Or(cfg.Precision, rpo.PrecisionFP32))
		// Forward and backward of the trained U-Net (the backward about twice the forward's
		// matmuls) and the frozen forward, on the pair's two images; the model's FLOPs, so the
		// forward that checkpointing repeats is not counted.
		unetF, err := unetFLOPs(u, 2, lat, [3]int{2, tokens, c.unet.CrossAttentionDim.Value})
		if err != nil {
			return err
		}
		r.FLOPs = 4 * unetF
		m, err := rpo.MeasureStep(ctx, cfg, u, sched, lat, tokens, 2)
		if err != nil {
			return err
		}
		r.FirstSec, r.SteadySec = m.Steps[0].Seconds(), m.Steps[1].Seconds()
		return nil
	}
	return fmt.Errorf("unknown phase %q", phase)
}

// textFLOPs counts the text encoder on n prompts of the given length.
func textFLOPs(te *diffusion.TextEncoder, n, tokens int) (float64, error) {
	return forwardFLOPs(te.Store(), func(scope *model.Scope, in []*graph.Node) {
		te.Forward(scope.Store().Scope(diffusion.TextEncoderScope), in[0])
	}, shapes.Make(dtypes.Int32, n, tokens))
}

// decodeFLOPs counts the VAE decoding one lat×lat latent.
func decodeFLOPs(v *diffusion.AutoencoderKL, lat int) (float64, error) {
	return forwardFLOPs(v.Store(), func(scope *model.Scope, in []*graph.Node) {
		v.ForwardDecode(scope.Store().Scope(diffusion.VAEScope), in[0])
	}, shapes.Make(dtypes.Float32, 1, lat, lat, v.Config().LatentChannels))
}

// newUNet builds the U-Net with random weights, computing in --precision (as the trainer's
// sampling does; the VAE and the text encoder stay in float32, as in the trainer).
func newUNet(cfg diffusion.UNetConfig, o options) (*diffusion.UNet, error) {
	dtype, err := rpo.Precision(o.Precision).DType()
	if err != nil {
		return nil, fmt.Errorf("--precision %q: %w", o.Precision, err)
	}
	u, err := diffusion.NewUNet(cfg, o.Seed)
	if err != nil {
		return nil, err
	}
	return u, u.SetComputeDType(dtype)
}

// unetFLOPs counts one U-Net forward at batch n on lat×lat latents.
func unetFLOPs(u *diffusion.UNet, n, lat int, ctxShape [3]int) (float64, error) {
	cfg := u.Config()
	return forwardFLOPs(u.Store(), func(scope *model.Scope, in []*graph.Node) {
		u.Forward(scope.Store().Scope(diffusion.UNetScope), in[0], in[1], in[2])
	}, shapes.Make(dtypes.Float32, n, lat, lat, cfg.InChannels), shapes.Make(dtypes.Float32, n),
		shapes.Make(dtypes.Float32, n, ctxShape[1], ctxShape[2]))
}

// measureSample times the whole pipeline drawing one image with classifier-free guidance.
func measureSample(ctx context.Context, o options, c sdConfigs, r *result, start time.Time) error {
	u, err := newUNet(c.unet, o)
	if err != nil {
		return err
	}
	v, err := diffusion.NewVAE(c.vae, o.Seed+1)
	if err != nil {
		return err
	}
	te, err := diffusion.NewTextEncoder(c.text, o.Seed+2)
	if err != nil {
		return err
	}
	tokDir, err := os.MkdirTemp("", "sdscale-tokenizer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tokDir)
	if err := writeByteTokenizer(tokDir, min(c.text.MaxPositionEmbeddings, 77), c.text.VocabSize); err != nil {
		return err
	}
	tok, err := diffusion.LoadCLIPTokenizer(tokDir)
	if err != nil {
		return err
	}
	sched, err := schedule.Defaults("DDIMScheduler")
	if err != nil {
		return err
	}
	p := &diffusion.Pipeline{UNet: u, VAE: v, TextEncoder: te, Tokenizer: tok, Scheduler: sched}
	built(r, start, u.Store(), v.Store(), te.Store())
	lat := o.Size / 8
	r.What = fmt.Sprintf("one %d×%d image, %d DDIM steps, guidance 7.5, U-Net in %s", o.Size, o.Size, o.SampleSteps, cmp.Or(o.Precision, "fp32"))
	tokens := min(c.text.MaxPositionEmbeddings, 77)
	ctxShape := [3]int{2, tokens, c.text.HiddenSize}
	unetF, err := unetFLOPs(u, 2, lat, ctxShape)
	if err != nil {
		return err
	}
	textF, err := textFLOPs(te, 2, tokens)
	if err != nil {
		return err
	}
	decF, err := decodeFLOPs(v, lat)
	if err != nil {
		return err
	}
	r.FLOPs = float64(o.SampleSteps)*unetF + textF + decF
	return timed(r, false, func() error {
		_, err := p.Generate(ctx, []string{"a photo of a dog on the moon"},
			diffusion.Steps(o.SampleSteps), diffusion.Guidance(7.5), diffusion.Seeds(uint64(o.Seed)),
			diffusion.Size(o.Size, o.Size))
		return err
	})
}

// measureALIGN times ALIGN embedding 8 images and one prompt.
func measureALIGN(ctx context.Context, o options, r *result, rng *rand.Rand, start time.Time) error {
	cfg, err := readALIGN(o.Align)
	if err != nil {
		return err
	}
	m, err := align.NewALIGN(cfg, o.Seed)
	if err != nil {
		return err
	}
	built(r, start, m.Store())
	vc, tc := cfg.VisionConfig, cfg.TextConfig
	const images = 8
	side, length := vc.ImageSize, min(align.ALIGNTextLength, tc.MaxPositionEmbeddings)
	r.What = fmt.Sprintf("ALIGN: %d images of %d×%d and one %d-token prompt embedded", images, side, side, length)
	pixels := randomNormal(rng, images*vc.NumChannels*side*side)
	ids := randomIDs(rng, 1, length, tc.VocabSize)
	mask, types := [][]int{make([]int, length)}, [][]int{make([]int, length)}
	for i := range mask[0] {
		mask[0][i] = 1
	}
	imgF, err := forwardFLOPs(m.Store(), func(scope *model.Scope, in []*graph.Node) {
		m.ImageFeatures(scope, in[0])
	}, shapes.Make(dtypes.Float32, images, side, side, vc.NumChannels))
	if err != nil {
		return err
	}
	txtF, err := forwardFLOPs(m.Store(), func(scope *model.Scope, in []*graph.Node) {
		m.TextFeatures(scope, in[0], in[1], in[2])
	}, shapes.Make(dtypes.Int32, 1, length), shapes.Make(dtypes.Int32, 1, length), shapes.Make(dtypes.Int32, 1, length))
	if err != nil {
		return err
	}
	r.FLOPs = imgF + txtF
	return timed(r, true, func() error {
		if _, err := m.ImageFeaturesNCHW(ctx, pixels, []int{images, vc.NumChannels, side, side}); err != nil {
			return err
		}
		_, err := m.TextFeaturesIDs(ctx, ids, mask, types)
		return err
	})
}

func randomNormal(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

func randomUniform(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(2*rng.Float64() - 1)
	}
	return out
}

func randomIDs(rng *rand.Rand, rows, length, vocab int) [][]int {
	out := make([][]int, rows)
	for i := range out {
		out[i] = make([]int, length)
		for j := range out[i] {
			out[i][j] = rng.IntN(vocab)
		}
	}
	return out
}

// measureCheckpoint writes a full fine-tune's checkpoint (the U-Net in diffusers layout and
// AdamW's two moments, as rpo.WriteCheckpoint writes it: streamed, atomic) and reads it back
// (verified, the U-Net loaded, the moments bound), reporting the extra resident memory each
// needs beyond the model's: the streaming writer should need about one tensor's.
func measureCheckpoint(o options, c sdConfigs, r *result, start time.Time) error {
	u, err := diffusion.NewUNet(c.unet, o.Seed)
	if err != nil {
		return err
	}
	store := u.Store()
	built(r, start, store)
	// AdamW's first and second moments, one of each per weight, as a step leaves them.
	var vars []*model.Variable
	for v := range store.IterVariables() {
		vars = append(vars, v)
	}
	for _, v := range vars {
		rel := strings.TrimPrefix(v.Path(), diffusion.UNetScope)
		for _, moment := range []string{"m", "v"} {
			value, err := v.Value()
			if err != nil {
				return err
			}
			clone, err := value.LocalClone()
			if err != nil {
				return err
			}
			if _, err := store.CreateVariable(rpo.DefaultOptimizerScope+"/"+moment+rel, clone); err != nil {
				return err
			}
		}
	}
	dir, err := os.MkdirTemp(o.Scratch, "sdscale-checkpoint-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ck := filepath.Join(dir, "latest")
	var size int64
	write := func() error {
		return rpo.WriteCheckpoint(ck, rpo.CheckpointContents{
			State:          rpo.CheckpointState{Step: 1},
			Weights:        func(d string) error { return u.Save(filepath.Join(d, rpo.CheckpointUNetDir)) },
			Optimizer:      store,
			OptimizerScope: rpo.DefaultOptimizerScope,
		})
	}
	read := func() error {
		if _, err := rpo.VerifyCheckpoint(ck); err != nil {
			return err
		}
		back, err := diffusion.LoadUNet(filepath.Join(ck, rpo.CheckpointUNetDir))
		if err != nil {
			return err
		}
		return rpo.LoadCheckpointOptimizer(ck, back.Store(), rpo.DefaultOptimizerScope)
	}
	var writeExtra, readExtra int64
	start = time.Now()
	if writeExtra, err = extraRSS(write); err != nil {
		return err
	}
	r.FirstSec = time.Since(start).Seconds()
	if err := filepath.Walk(ck, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			size += info.Size()
		}
		return err
	}); err != nil {
		return err
	}
	start = time.Now()
	if readExtra, err = extraRSS(read); err != nil {
		return err
	}
	r.SteadySec = time.Since(start).Seconds()
	r.What = fmt.Sprintf("checkpoint, U-Net + AdamW moments, %.2f GiB: written (first call; %.2f GiB extra RSS), verified and read back (next; %.2f GiB extra)",
		float64(size)/(1<<30), float64(writeExtra)/(1<<30), float64(readExtra)/(1<<30))
	return nil
}

// extraRSS runs fn and returns the most resident memory it added over what the process held
// when it started, sampled every 20 ms.
func extraRSS(fn func() error) (int64, error) {
	runtime.GC()
	base := currentRSS()
	peak := base
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				peak = max(peak, currentRSS())
			}
		}
	}()
	err := fn()
	close(done)
	<-sampled
	return peak - base, err
}

// currentRSS is the process's resident memory now (VmRSS), in bytes.
func currentRSS() int64 { return procStatus("VmRSS:") }
