package basemodel

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/toyworld/autoencoder"
)

// tinyVAE is a random autoencoder of the toy one's shape (f = 2, 4 latent channels), narrower.
func tinyVAE(t *testing.T) *diffusion.AutoencoderKL {
	t.Helper()
	cfg := autoencoder.DefaultConfig()
	cfg.BlockOutChannels, cfg.NormNumGroups = []int{8, 8}, 4
	cfg.ScalingFactor = 1.7
	vae, err := diffusion.NewVAE(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	return vae
}

// tinyConfig is DefaultConfig shrunk for tests: one layer, narrow channels.
func tinyConfig(vocabSize int, vae diffusion.VAEConfig) Config {
	cfg := DefaultConfig(vocabSize, vae)
	cfg.Text.NumHiddenLayers, cfg.Text.HiddenSize, cfg.Text.IntermediateSize, cfg.Text.NumAttentionHeads = 1, 16, 32, 2
	cfg.UNet.BlockOutChannels = []int{8, 16, 16}
	cfg.UNet.LayersPerBlock = diffusion.Int(1)
	cfg.UNet.AttentionHeadDim = diffusion.Int(2)
	cfg.UNet.CrossAttentionDim = diffusion.Int(16)
	return cfg
}

func newTiny(t *testing.T, scenes int, prediction string) (*Model, *Dataset) {
	t.Helper()
	v, err := DefaultVocab()
	if err != nil {
		t.Fatal(err)
	}
	b := backend.MustDefault()
	vae := tinyVAE(t)
	cfg := tinyConfig(len(v.Tokens), vae.Config())
	cfg.Scheduler.PredictionType = prediction
	m, err := New(b, cfg, v, vae, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := v.WriteTokenizer(dir); err != nil {
		t.Fatal(err)
	}
	tok, err := diffusion.LoadCLIPTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDataset(context.Background(), scenes, tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Encode(context.Background(), vae); err != nil {
		t.Fatal(err)
	}
	return m, d
}

// The default configuration, freshly initialised, exports a folder that diffusion.LoadPipeline
// reads and that generates a 32×32 image.
func TestExportLoadsAsPipeline(t *testing.T) {
	v, err := DefaultVocab()
	if err != nil {
		t.Fatal(err)
	}
	vae, err := diffusion.NewVAE(autoencoder.DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(backend.MustDefault(), DefaultConfig(len(v.Tokens), vae.Config()), v, vae, 1)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for v := range m.Store().IterVariables() {
		counts[strings.Split(v.Path(), "/")[1]] += v.Shape().Size()
	}
	t.Logf("parameters: U-Net %d, text encoder %d (EMA copies %d)", counts["unet"], counts["text_model"], counts["ema"])
	dir := filepath.Join(t.TempDir(), "model")
	if err := m.Export(dir, true, map[string][]byte{"TRAINING.md": []byte("untrained\n")}); err != nil {
		t.Fatal(err)
	}
	p, err := diffusion.LoadPipeline(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.VAE == nil || p.Tokenizer.MaxLength() != MaxLength {
		t.Fatalf("VAE %v, max length %d", p.VAE, p.Tokenizer.MaxLength())
	}
	imgs, err := p.Generate(context.Background(), []string{"a photo of [V] dog on the Moon"}, diffusion.Steps(2), diffusion.Seed(1))
	if err != nil {
		t.Fatal(err)
	}
	if got := imgs[0].Bounds().Size(); got != image.Pt(32, 32) {
		t.Fatalf("image size %v", got)
	}
	d, err := Denoise(context.Background(), p, 2, []int{500}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := d.Images(); err != nil || len(rows) != 3 || len(rows[0]) != 2 || !(d.MSE[0] > 0) {
		t.Fatalf("denoise: %d rows, x̂0 MSE %v, %v", len(rows), d.MSE, err)
	}
	var size int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, _ error) error {
		if !fi.IsDir() {
			size += fi.Size()
		}
		return nil
	})
	t.Logf("folder: %.1f MB; notes %q", float64(size)/1e6, p.Notes)
	if size > 20e6 {
		t.Fatalf("folder is %d bytes, want ≤ 20 MB", size)
	}
}

// A few steps on a tiny data set lower the loss; a run resumed from a checkpoint goes on
// exactly as the uninterrupted one. The model predicts ε here: 40 steps learn its scale
// (ε-MSE falls from ≈ 1), whereas v-MSE (the default) starts lower and needs the picture's
// structure to fall, which takes more than a unit test's steps; the v target is package
// schedule's VelocityGraph, tested against diffusers there.
func TestTrainLowersLossAndResumes(t *testing.T) {
	m, d := newTiny(t, 8, "epsilon")
	s := DefaultSettings()
	s.Steps, s.Batch, s.Scenes, s.WarmupSteps, s.LearningRate = 40, 8, 8, 0, 3e-3
	ck := t.TempDir()
	tr := &Trainer{Model: m, Data: d, Settings: s, Checkpoints: ck, CheckpointEvery: 20}
	defer tr.Finalize()
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := tr.State().Losses
	mean := func(x []float32) float64 {
		var s float64
		for _, v := range x {
			s += float64(v)
		}
		return s / float64(len(x))
	}
	first, last := mean(l[:4]), mean(l[len(l)-4:])
	t.Logf("loss: first 4 steps %.3f, last 4 %.3f", first, last)
	if !(last < 0.9*first) { // 40 steps take the ε-MSE from ≈ 1.06 to ≈ 0.86; without learning it stays ≈ 1
		t.Fatalf("the loss did not fall: %v", l)
	}

	// Keep the step-40 checkpoint aside, go on to 42 in place, then resume a fresh model from
	// the copy and go on to 42 too.
	aside := t.TempDir()
	if err := os.CopyFS(filepath.Join(aside, CheckpointDir), os.DirFS(filepath.Join(ck, CheckpointDir))); err != nil {
		t.Fatal(err)
	}
	s.Steps = 42
	tr.Settings = s
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	m2, _ := newTiny(t, 8, "epsilon")
	tr2 := &Trainer{Model: m2, Data: d, Settings: s, Checkpoints: aside}
	defer tr2.Finalize()
	if ok, err := tr2.Resume(); err != nil || !ok || tr2.State().Step != 40 {
		t.Fatalf("resume: %v %v at step %d", ok, err, tr2.State().Step)
	}
	if err := tr2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	a, b := tr.State().Losses[40:], tr2.State().Losses[40:]
	if len(a) != 2 || len(b) != 2 || a[0] != b[0] || a[1] != b[1] {
		t.Fatalf("steps 41-42: in place %v, resumed %v", a, b)
	}

	// Other settings do not resume.
	s.Batch = 4
	tr3 := &Trainer{Model: m2, Data: d, Settings: s, Checkpoints: aside}
	if _, err := tr3.Resume(); err == nil {
		t.Fatal("a checkpoint of batch 8 resumed with batch 4")
	}
}
