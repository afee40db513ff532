package rpo

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// poison sets the first value of the U-Net variable named (upstream) name to x.
func poison(t *testing.T, store *model.Store, name string, x float32) {
	t.Helper()
	v := store.GetVariable(weights.VariablePath(diffusion.UNetScope, name))
	if v == nil {
		t.Fatalf("no U-Net variable %s", name)
	}
	values := tensors.MustCopyFlatData[float32](v.MustValue())
	values[0] = x
	if err := v.SetValue(tensors.FromFlatDataAndDimensions(values, v.Shape().Dimensions...)); err != nil {
		t.Fatal(err)
	}
}

// allFinite fails unless every tensor of the checkpoint's U-Net is finite.
func allFinite(t *testing.T, checkpoint string) {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(checkpoint, CheckpointUNetDir, "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if bad := f.NonFinite(); len(bad) > 0 {
		t.Errorf("%s holds non-finite weights: %v", checkpoint, bad)
	}
}

// A NaN that enters the weights between validations makes the next step's loss NaN: the run
// stops there with a *NonFiniteError naming the step, latest/ and best/ keep the last validation's
// finite weights, and the step is not recorded.
func TestTrainerStopsOnNonFiniteLoss(t *testing.T) {
	env := newTinyEnv(t)
	pipe := env.pipe(t)
	cfg := testConfig(ObjectiveRPO)
	cfg.Steps, cfg.ValidateEvery = 8, 2
	out := t.TempDir()
	hooks := Hooks{OnStep: func(step int, _ Losses) {
		if step == 3 {
			poison(t, pipe.UNet.Store(), "conv_in.weight", float32(math.NaN()))
		}
	}}
	_, err := mustTrainer(t, cfg, pipe, testReferences(2), quiet(out, WithHooks(hooks))...).Run(context.Background())
	var nf *NonFiniteError
	if !errors.Is(err, ErrNonFinite) || !errors.As(err, &nf) {
		t.Fatalf("Run: %v, want an error wrapping ErrNonFinite", err)
	}
	t.Log(err)
	if nf.Step != 4 || !strings.HasPrefix(nf.What, "loss") || !math.IsNaN(nf.Value) || nf.LatestStep != 2 {
		t.Errorf("NonFiniteError %+v, want step 4, a NaN loss, latest at step 2", *nf)
	}
	if !strings.Contains(err.Error(), "step 4") || !strings.Contains(err.Error(), "learning rate") {
		t.Errorf("error %q should name the step and suggest a lower learning rate", err)
	}
	for _, dir := range []string{LatestCheckpoint, BestCheckpoint} {
		st, err := LoadCheckpointState(filepath.Join(out, dir))
		if err != nil || st.Step != 2 {
			t.Errorf("%s: step %d (%v), want the finite step 2", dir, st.Step, err)
		}
		allFinite(t, filepath.Join(out, dir))
	}
	if n := len(stepLosses(t, out)); n != 3 {
		t.Errorf("metrics.jsonl has %d steps, want 3 (the diverged step 4 is not recorded)", n)
	}
	if _, err := os.Stat(filepath.Join(out, FinalCheckpoint)); err == nil {
		t.Error("final/ written by a diverged run")
	}
}

// Weights that turn non-finite before a validation are never made best/ nor written to latest/.
func TestTrainerNeverSavesNonFiniteWeights(t *testing.T) {
	env := newTinyEnv(t)
	pipe := env.pipe(t)
	cfg := testConfig(ObjectiveRPO)
	cfg.Steps, cfg.ValidateEvery = 4, 2
	out := t.TempDir()
	hooks := Hooks{OnStep: func(step int, _ Losses) {
		if step == 2 {
			poison(t, pipe.UNet.Store(), "conv_out.bias", float32(math.Inf(1)))
		}
	}}
	_, err := mustTrainer(t, cfg, pipe, testReferences(2), quiet(out, WithHooks(hooks))...).Run(context.Background())
	var nf *NonFiniteError
	if !errors.As(err, &nf) {
		t.Fatalf("Run: %v, want a *NonFiniteError", err)
	}
	if nf.Step != 2 || nf.What != "weights" || len(nf.Tensors) != 1 || !strings.HasPrefix(nf.Tensors[0], "conv_out.bias (1 of") || nf.LatestStep != 0 {
		t.Errorf("NonFiniteError %+v, want the weights at step 2, conv_out.bias, no latest", *nf)
	}
	for _, dir := range []string{LatestCheckpoint, BestCheckpoint, FinalCheckpoint} {
		if _, err := os.Stat(filepath.Join(out, dir)); err == nil {
			t.Errorf("%s/ written with non-finite weights", dir)
		}
	}
}
