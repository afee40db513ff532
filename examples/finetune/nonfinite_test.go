package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/rpo"
)

// tinyToyFlags are tinyToy's settings as a command line.
func tinyToyFlags(base, out string, extra ...string) []string {
	return append([]string{"--base-model", base, "--out", out, "--steps", "2", "--validate-every", "2",
		"--gen-steps", "2", "--images-per-prompt", "1", "--val-images", "1", "--eval-prompts", "3", "--eval-images", "1"}, extra...)
}

// A diverging run through the command line (issue 12: --lr 1e30 used to print "done", exit 0
// and leave NaN weights in best/): the run stops with an error wrapping rpo.ErrNonFinite that
// names the step and suggests a lower --lr (main exits 1 on it), and leaves no best/, no after
// images and no report.
func TestToyDivergedRun(t *testing.T) {
	base := writeToyBase(t)
	out := filepath.Join(t.TempDir(), "out")
	o, err := parseFlags(tinyToyFlags(base, out, "--lr", "1e30"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.log = logWriter{t}
	var stdout bytes.Buffer
	err = run(context.Background(), o, &stdout)
	var nf *rpo.NonFiniteError
	if !errors.Is(err, rpo.ErrNonFinite) || !errors.As(err, &nf) {
		t.Fatalf("run: %v, want an error wrapping rpo.ErrNonFinite\n%s", err, stdout.String())
	}
	t.Logf("finetune: %v", err)
	if nf.Step < 1 || nf.Step > 2 || !strings.Contains(err.Error(), "--lr") || !strings.Contains(err.Error(), "1e+30") {
		t.Errorf("error %q: want the step (1 or 2) and a lower --lr than 1e+30 suggested", err)
	}
	for _, name := range []string{rpo.BestCheckpoint, rpo.FinalCheckpoint, afterFile, reportFile, reportMD} {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			t.Errorf("%s written by a diverged run", name)
		}
	}
	if _, err := os.Stat(filepath.Join(out, rpo.LatestCheckpoint)); err == nil {
		allFiniteCheckpoint(t, filepath.Join(out, rpo.LatestCheckpoint))
	}
}

// A base model with one NaN weight is refused before anything is drawn, naming the flag, the
// file and the tensor.
func TestToyNonFiniteBaseModel(t *testing.T) {
	base := writeToyBase(t)
	path := filepath.Join(base, "unet", "diffusion_pytorch_model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []*safetensors.Tensor
	for _, name := range f.Names() {
		tt, _ := f.Tensor(name)
		if name == "conv_in.weight" {
			v, _ := tt.Float32()
			v[0] = float32(math.NaN())
			tt = safetensors.FromFloat32(name, tt.Shape, v)
		}
		ts = append(ts, tt)
	}
	if err := safetensors.Write(path, ts, f.Metadata); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	o, err := parseFlags(tinyToyFlags(base, out), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.log = logWriter{t}
	err = run(context.Background(), o, io.Discard)
	if !errors.Is(err, diffusion.ErrNonFiniteWeights) || !strings.HasPrefix(err.Error(), "--base-model: ") ||
		!strings.Contains(err.Error(), "conv_in.weight (1 of") {
		t.Fatalf("run: %v, want an error wrapping diffusion.ErrNonFiniteWeights naming --base-model and conv_in.weight", err)
	}
	if _, err := os.Stat(filepath.Join(out, beforeFile)); err == nil {
		t.Error("before.png drawn from a NaN model")
	}
}

func allFiniteCheckpoint(t *testing.T, dir string) {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(dir, rpo.CheckpointUNetDir, "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if bad := f.NonFinite(); len(bad) > 0 {
		t.Errorf("%s holds non-finite weights: %v", dir, bad)
	}
}
