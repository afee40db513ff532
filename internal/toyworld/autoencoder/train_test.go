package autoencoder

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/toyworld"
)

// tinyVAE is DefaultConfig at channels 8/8.
func tinyVAE(t *testing.T, seed int64) *diffusion.AutoencoderKL {
	t.Helper()
	cfg := DefaultConfig()
	cfg.BlockOutChannels, cfg.NormNumGroups = []int{8, 8}, 4
	v, err := diffusion.NewVAE(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A few steps lower the reconstruction error; a run resumed from a checkpoint goes on exactly
// as the uninterrupted one; other settings do not resume.
func TestTrainLowersLossAndResumes(t *testing.T) {
	s := DefaultSettings()
	s.Steps, s.Batch, s.WarmupSteps, s.LearningRate = 30, 4, 0, 3e-3
	ck := t.TempDir()
	tr := &Trainer{VAE: tinyVAE(t, 1), Settings: s, Checkpoints: ck, CheckpointEvery: 15}
	defer tr.Finalize()
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := tr.State().Losses
	mean := func(x [][3]float32) float64 {
		var s float64
		for _, v := range x {
			s += float64(v[1])
		}
		return s / float64(len(x))
	}
	first, last := mean(l[:4]), mean(l[len(l)-4:])
	t.Logf("L1: first 4 steps %.3f, last 4 %.3f", first, last)
	if !(last < 0.8*first) {
		t.Fatalf("the L1 error did not fall: %v", l)
	}

	aside := t.TempDir()
	if err := os.CopyFS(filepath.Join(aside, CheckpointDir), os.DirFS(filepath.Join(ck, CheckpointDir))); err != nil {
		t.Fatal(err)
	}
	s.Steps = 32
	tr.Settings = s
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr2 := &Trainer{VAE: tinyVAE(t, 2), Settings: s, Checkpoints: aside}
	defer tr2.Finalize()
	if ok, err := tr2.Resume(); err != nil || !ok || tr2.State().Step != 30 {
		t.Fatalf("resume: %v %v at step %d", ok, err, tr2.State().Step)
	}
	if err := tr2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	a, b := tr.State().Losses[30:], tr2.State().Losses[30:]
	if len(a) != 2 || len(b) != 2 || a[0] != b[0] || a[1] != b[1] {
		t.Fatalf("steps 31-32: in place %v, resumed %v", a, b)
	}
	s.KLWeight = 1e-3
	if _, err := (&Trainer{VAE: tinyVAE(t, 3), Settings: s, Checkpoints: aside}).Resume(); err == nil {
		t.Fatal("a checkpoint of kl_weight 1e-6 resumed with 1e-3")
	}
}

// The held-out scenes hold every subject equally, only outside its reference contexts, and
// generic scenes for the rest; MeasureScale gives 1/std of the latents.
func TestEvalScenesAndScale(t *testing.T) {
	scenes, err := EvalScenes(480)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, s := range scenes {
		counts[s.Subject]++
		if s.Subject == "" {
			continue
		}
		sub, err := toyworld.SubjectByName(s.Subject)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(sub.ReferenceContexts(), s.Context) {
			t.Errorf("%s %q: a reference context", s.Subject, s.Context)
		}
	}
	if len(scenes) != 480 || counts[""] != 360 || counts["stripy_ball"] != 20 || counts["tabby_cat"] != 20 {
		t.Fatalf("%d scenes, by subject %v", len(scenes), counts)
	}
	scale, err := MeasureScale(context.Background(), tinyVAE(t, 1), 60)
	if err != nil {
		t.Fatal(err)
	}
	if !(scale > 0.1 && scale < 100) {
		t.Fatalf("scaling factor %v", scale)
	}
}
