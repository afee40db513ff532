package basemodel

import (
	"context"
	"testing"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/toyworld/autoencoder"
)

// BenchmarkTrainStep is one whole training step of the shipped design (DefaultConfig on the toy
// autoencoder's latents: text encoder, U-Net, AdamW, EMA) at toypretrain's batch, reported as
// ms per image; compilation is left out. Compare designs and backends with benchstat:
//
//	GOEXPERIMENT=simd go test ./internal/toyworld/basemodel -run '^$' -bench TrainStep -benchtime 10x -count 5
func BenchmarkTrainStep(b *testing.B) {
	v, err := DefaultVocab()
	if err != nil {
		b.Fatal(err)
	}
	vae, err := diffusion.NewVAE(autoencoder.DefaultConfig(), 1)
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(backend.MustDefault(), DefaultConfig(len(v.Tokens), vae.Config()), v, vae, 1)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := v.WriteTokenizer(dir); err != nil {
		b.Fatal(err)
	}
	tok, err := diffusion.LoadCLIPTokenizer(dir)
	if err != nil {
		b.Fatal(err)
	}
	d, err := NewDataset(context.Background(), 64, tok)
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Encode(context.Background(), vae); err != nil {
		b.Fatal(err)
	}
	s := DefaultSettings()
	s.Scenes = d.N
	s.Steps = 1 // compiles
	tr := &Trainer{Model: m, Data: d, Settings: s}
	defer tr.Finalize()
	if err := tr.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	s.Steps = 1 + b.N
	tr.Settings = s
	if err := tr.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*s.Batch), "ms/image")
}
