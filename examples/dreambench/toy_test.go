package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/examples/internal/toypreset"
)

// TestToyBench runs the toy bench's code path (the toy world's subjects, the toy reward model,
// the judge, the toy preset) on one subject, with the tiny fixture Stable Diffusion as
// --base-model so that the test does not depend on the shipped base model's architecture (at 16×16; the judge
// resizes to its 32×32).
func TestToyBench(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(t.TempDir(), "toy")
	o, err := parseFlags([]string{"--toy", "--subjects", "stripy_ball", "--base-model", e.model, "--out", out,
		"--steps", "2", "--validate-every", "2", "--lr", "1e-3", "--gen-steps", "2", "--images-per-prompt", "1",
		"--val-images", "1", "--eval-prompts", "2", "--eval-images", "1", "--size", "16"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Objectives != toyObjectives || o.ValidateEvery != 2 || o.Beta != toypreset.Flags()["beta"] || o.GenSteps != 2 || o.Guidance != 2 {
		t.Errorf("--toy: objectives %q, size %q, β %g; want the toy preset's", o.Objectives, o.Size, o.Beta)
	}
	o.log = logWriter{t}
	o.getenv = func(string) string { return "" }
	var stdout bytes.Buffer
	sum, err := run(context.Background(), o, &stdout)
	t.Logf("stdout:\n%s", stdout.String())
	if err != nil || sum.ran != 3 || sum.failed != 0 {
		t.Fatalf("toy bench: %+v, %v; want 3 runs", sum, err)
	}
	r, err := readResult(filepath.Join(out, "stripy_ball", "rpo-lambda0.3"))
	if err != nil || r == nil {
		t.Fatal(r, err)
	}
	for _, k := range []string{mSubjectFi, mPromptFi, mHarmonic} {
		if _, ok := r.Metrics[k]; !ok {
			t.Errorf("toy result lacks %s: %v", k, r.Metrics)
		}
	}
	if !strings.Contains(r.Prompts[0].Prompt, "[V] ball") {
		t.Errorf("toy prompts %+v, want the toy world's", r.Prompts)
	}
	var tab table
	if err := readJSON(filepath.Join(out, tableJSON), &tab); err != nil {
		t.Fatal(err)
	}
	if len(tab.Checks) != 1 || tab.Checks[0].SimPromptFidelity == nil || tab.Expected != 3 {
		t.Errorf("toy table: checks %+v, expected %d; want stripy_ball's checks with sim", tab.Checks, tab.Expected)
	}
}
