package rpo

import (
	"context"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
)

// BenchmarkStep times one optimiser step of the fixture U-Net (unet_sd1: block_out_channels
// 32/64/64, its default 16×16 latents, i.e. 32×32 images through the fixture VAE): the host-side
// draws and the compiled graph (noising, ε_θ and for RPO ε_base, the loss, the gradient and
// AdamW), one pair per step as in the paper, in float32 and (rpo/pairs=1/bf16) with the U-Net in
// bfloat16. Run with GOEXPERIMENT=simd on the Go backend:
//
//	GOEXPERIMENT=simd go test ./rpo/ -run '^$' -bench BenchmarkStep
func BenchmarkStep(b *testing.B) {
	for _, c := range []struct {
		name      string
		obj       Objective
		batch     int
		precision Precision
	}{
		{"rpo/pairs=1", ObjectiveRPONoEarlyStopping, 1, PrecisionFP32},
		{"rpo/pairs=1/bf16", ObjectiveRPONoEarlyStopping, 1, PrecisionBF16},
		{"rpo/pairs=4", ObjectiveRPONoEarlyStopping, 4, PrecisionFP32},
		{"sim/pairs=1", ObjectiveSim, 1, PrecisionFP32},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			if err := fixtures.WriteTinySD(dir); err != nil {
				b.Fatal(err)
			}
			pipe, err := loadTinySD(dir)
			if err != nil {
				b.Fatal(err)
			}
			cfg := testConfig(c.obj)
			cfg.ValidateEvery, cfg.BatchSize, cfg.Precision = 0, c.batch, c.precision
			tr, err := NewTrainer(cfg, pipe, newFakeEmbedder(), testReferences(3), OutDir(b.TempDir()), Logger(io.Discard),
				WithGeneration(Generation{Steps: 2, Guidance: 7.5, BatchSize: 4})) // the model's own size
			if err != nil {
				b.Fatal(err)
			}
			r := tr.newRun()
			r.rep = newReporter(io.Discard, DisplayNone, nil)
			if r.modelKey, err = modelKey(pipe, ""); err != nil {
				b.Fatal(err)
			}
			d, err := r.setup(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			restore, err := useUNetPrecision(pipe.UNet, cfg.Precision)
			if err != nil {
				b.Fatal(err)
			}
			defer restore()
			m := &trainedModel{unet: pipe.UNet}
			if cfg.Objective.Preference() {
				if err := m.copyBase(cfg.Precision); err != nil {
					b.Fatal(err)
				}
			}
			s, err := newStepper(cfg, m, tr.sched, tr.prediction)
			if err != nil {
				b.Fatal(err)
			}
			defer s.finalize()
			rng := rand.New(rand.NewPCG(1, 2))
			step := 0
			run := func() {
				step++
				visits, err := d.plan.step(step)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.run(d.data.makeBatch(visits, s.withOthers, s.withLabels, rng), d.data.shape, d.data.embShape); err != nil {
					b.Fatal(err)
				}
			}
			run() // compile
			b.ReportAllocs()
			for b.Loop() {
				run()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/step")
		})
	}
}
