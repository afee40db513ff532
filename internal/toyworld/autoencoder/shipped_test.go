package autoencoder

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gorpo/gorpo/internal/toyworld/judge"
)

// The shipped autoencoder loads as a diffusers vae/ folder and keeps held-out renders, generic
// and subjects outside their reference contexts, as its TRAINING.md measured on 2000 of them
// (the bounds here leave room for 48 images' sampling noise).
func TestShipped(t *testing.T) {
	vae, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg := vae.Config()
	if want := DefaultConfig(); cfg.LatentChannels != want.LatentChannels || len(cfg.BlockOutChannels) != len(want.BlockOutChannels) {
		t.Errorf("shipped config %+v, want DefaultConfig's shape", cfg)
	}
	if s := vae.ScalingFactor(); !(s > 0) || s == 1 {
		t.Errorf("scaling_factor %v: not measured", s)
	}
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "TRAINING.md")); err != nil {
		t.Error(err)
	}
	j, err := judge.Load()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Finalize()
	scenes, err := EvalScenes(48)
	if err != nil {
		t.Fatal(err)
	}
	r, err := RoundTrip(context.Background(), vae, j, scenes)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PSNR generic %.2f, subjects %.2f, boxes %.2f dB; agreement %v; subject kept %.3f of %d",
		r.PSNRGeneric, r.PSNRSubjects, r.PSNRSubjectBox, r.Agreement, r.SubjectKept, r.SubjectSeen)
	if r.PSNRGeneric < minPSNRGeneric || r.PSNRSubjects < minPSNRSubjects {
		t.Errorf("PSNR generic %.2f dB, subjects %.2f dB: want ≥ %.0f and ≥ %.0f", r.PSNRGeneric, r.PSNRSubjects, minPSNRGeneric, minPSNRSubjects)
	}
	for head, a := range r.Agreement {
		if a < minAgreement {
			t.Errorf("judge agreement on %s %.3f, want ≥ %.2f", head, a, minAgreement)
		}
	}
}

// The shipped model's round trip on 2000 held-out renders (TRAINING.md): PSNR 30.95 dB generic,
// 27.49 dB subjects, judge agreement ≥ 0.994. The bounds leave room for 48 images.
const (
	minPSNRGeneric  = 28.0
	minPSNRSubjects = 24.0
	minAgreement    = 0.9
)
