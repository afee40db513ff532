package rpo

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
)

// MeasureStep runs the trainer's step on synthetic inputs, for a full fine-tune and for LoRA, and
// leaves the U-Net as it found it: no frozen copy, no optimiser state, no adapters, its dtype.
func TestMeasureStep(t *testing.T) {
	env := newTinyEnv(t)
	pipe := env.pipe(t)
	u := pipe.UNet
	for _, c := range []struct {
		name string
		lora int
		prec Precision
	}{{"full", 0, PrecisionFP32}, {"lora", 2, PrecisionFP32}, {"full-bf16", 0, PrecisionBF16}} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(ObjectiveRPONoEarlyStopping)
			cfg.BatchSize, cfg.LoRARank, cfg.Precision = 1, c.lora, c.prec
			if c.lora > 0 {
				cfg.LoRAAlpha = float64(c.lora)
			}
			before := u.Store().NumVariables()
			m, err := MeasureStep(context.Background(), cfg, u, pipe.Scheduler, 8, 5, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Steps) != 2 || m.Images != 2 {
				t.Fatalf("%d steps of %d images, want 2 of 2", len(m.Steps), m.Images)
			}
			for name, v := range m.Losses {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("loss %s = %g", name, v)
				}
			}
			if _, ok := m.Losses[LossTotal]; !ok {
				t.Fatalf("no total loss in %v", m.Losses)
			}
			if got := u.Store().NumVariables(); got != before {
				t.Fatalf("the U-Net's Store has %d variables after, %d before", got, before)
			}
			for v := range u.Store().IterVariables() {
				if strings.HasPrefix(v.Path(), BaseUNetScope) || strings.HasPrefix(v.Path(), LoRAScope) ||
					strings.HasPrefix(v.Path(), DefaultOptimizerScope) {
					t.Fatalf("%s left in the U-Net's Store", v.Path())
				}
			}
			if u.ComputeDType() != dtypes.Float32 {
				t.Fatalf("compute dtype left at %s", u.ComputeDType())
			}
		})
	}
}
