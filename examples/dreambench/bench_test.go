package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/rpo"
)

// The harness end to end on the tiny random-weight fixture models (fixtures.WriteTinySD, and
// fixtures.WriteTinyJudges for ALIGN, CLIP and DINO) and a DreamBench-layout folder made of the
// fixtures' DreamBench photos: two subjects of DreamBench's 30 and one unknown folder without a
// class.txt, which fails.

type env struct{ model, judges, data string }

func newEnv(t *testing.T) env {
	t.Helper()
	dir := t.TempDir()
	e := env{filepath.Join(dir, "sd"), filepath.Join(dir, "judges"), filepath.Join(dir, "dataset")}
	if err := fixtures.WriteTinySD(e.model); err != nil {
		t.Fatal(err)
	}
	if err := fixtures.WriteTinyJudges(e.judges); err != nil {
		t.Fatal(err)
	}
	photo := func(name string) []byte {
		data, err := os.ReadFile(fixtures.Path(t, "parity", "preprocess", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for sub, photos := range map[string][]string{
		"backpack": {"img0.png", "img1.png"},
		"dog":      {"img1.png", "img2.png", "img0.png"},
		"mything":  {"img2.png"}, // no class.txt: fails
	} {
		for k, p := range photos {
			path := filepath.Join(e.data, sub, string(rune('0'+k))+".png")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, photo(p), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e
}

// tiny are a bench's options for 4-step runs validating every 2 steps, at 16×16 with 2 sampling
// steps and 2 evaluation prompts × 1 image.
func (e env) tiny(t *testing.T, out string) options {
	o := defaultOptions()
	o.Data, o.Model, o.Out = e.data, e.model, out
	o.Reward, o.CLIP, o.DINO = filepath.Join(e.judges, "align"), filepath.Join(e.judges, "clip"), filepath.Join(e.judges, "dino")
	o.Objectives, o.LambdaVal = "base,rpo", "0.3"
	o.Steps, o.ValidateEvery, o.LR = 4, 2, 2e-3
	o.GenSteps, o.Size = 2, "16"
	o.ImagesPerPrompt, o.ValImages, o.ClassImages = 1, 1, 2
	o.EvalPrompts, o.EvalImages = 2, 1
	o.explicit = map[string]bool{}
	o.log = logWriter{t}
	o.getenv = func(string) string { return "" }
	return o
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestBenchShardsResumeMerge runs the bench in two shards, the first killed (cancelled) in the
// middle of a fine-tune and run again, merges them, and runs a shard again.
func TestBenchShardsResumeMerge(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(t.TempDir(), "bench")
	ctx := context.Background()

	// Shard 0 of 2 (backpack, mything), cancelled after step 2 of backpack's fine-tune.
	o := e.tiny(t, out)
	o.Shard = "0/2"
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o.onStep = func(subject, run string, step int) {
		if subject == "backpack" && step == 2 {
			cancel()
		}
	}
	var stdout bytes.Buffer
	if _, err := run(cctx, o, &stdout); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled shard: err %v, want context.Canceled\n%s", err, stdout.String())
	}
	rpoDir := filepath.Join(out, "backpack", "rpo-lambda0.3")
	if r, _ := readResult(rpoDir); r != nil {
		t.Fatalf("a cancelled run has a result.json: %+v", r)
	}
	if st, err := rpo.LoadCheckpointState(filepath.Join(rpoDir, rpo.LatestCheckpoint)); err != nil || st.Step != 2 {
		t.Fatalf("cancelled run's latest checkpoint: %+v, %v; want step 2", st, err)
	}
	if r, _ := readResult(filepath.Join(out, "backpack", "base")); r == nil || r.Status != statusOK {
		t.Fatalf("backpack's base run, before the cancelled one: %+v, want finished", r)
	}

	// The same shard again: skips the base run, resumes the fine-tune from step 2, records
	// mything's failure and goes on.
	var steps []int
	o.onStep = func(subject, run string, step int) { steps = append(steps, step) }
	stdout.Reset()
	sum, err := run(ctx, o, &stdout)
	t.Logf("shard 0/2, again:\n%s", stdout.String())
	if err != nil {
		t.Fatalf("shard 0/2 again: %v", err)
	}
	if sum.skipped != 1 || sum.ran != 1 || sum.failed != 2 {
		t.Errorf("shard 0/2 again: %+v, want 1 skipped (backpack/base), 1 ran (the resumed fine-tune), 2 failed (mything's runs)", sum)
	}
	if fmt.Sprint(steps) != "[3 4]" {
		t.Errorf("the rerun trained steps %v, want [3 4]: it resumes from the latest checkpoint", steps)
	}
	r, err := readResult(rpoDir)
	if err != nil || r == nil || r.Status != statusOK || !r.Resumed || r.StepsTrained != 4 {
		t.Fatalf("resumed run's result: %+v, %v; want ok, resumed, 4 steps", r, err)
	}
	for _, k := range []string{mDINO, mCLIPI, mCLIPT, mAlignI, mAlignT, mHarmonic} {
		if _, ok := r.Metrics[k]; !ok {
			t.Errorf("result.json lacks %s: %v", k, r.Metrics)
		}
	}
	if len(r.Prompts) != 2 || !strings.Contains(r.Prompts[0].Prompt, "[V] backpack") || r.Images != 2 {
		t.Errorf("result.json prompts %+v, images %d; want 2 backpack prompts, 2 images", r.Prompts, r.Images)
	}
	for _, f := range []string{gridFile, "best/unet/config.json"} {
		if _, err := os.Stat(filepath.Join(rpoDir, f)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(stdout.String(), "class.txt") {
		t.Errorf("stdout does not name mything's missing class.txt:\n%s", stdout.String())
	}

	// Before shard 1 runs, the merge names dog's runs as missing.
	tab := e.tiny(t, out)
	tab.TableOnly = true
	stdout.Reset()
	if _, err := run(ctx, tab, &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "dog/base, dog/rpo-lambda0.3") {
		t.Errorf("--table-only before shard 1: does not name dog's runs missing:\n%s", stdout.String())
	}

	// Shard 1 of 2 from a Kubernetes Indexed Job's index.
	o1 := e.tiny(t, out)
	o1.Shards = 2
	o1.getenv = func(k string) string { return map[string]string{envK8sIndex: "1"}[k] }
	stdout.Reset()
	if sum, err := run(ctx, o1, &stdout); err != nil || sum.ran != 2 {
		t.Fatalf("shard 1/2: %+v, %v\n%s", sum, err, stdout.String())
	}

	// The merge holds both subjects, and mything's failure.
	stdout.Reset()
	if _, err := run(ctx, tab, &stdout); err != nil {
		t.Fatal(err)
	}
	var tj table
	if err := readJSON(filepath.Join(out, tableJSON), &tj); err != nil {
		t.Fatal(err)
	}
	if tj.Finished != 4 || tj.Expected != 6 || len(tj.Failed) != 2 || strings.Join(tj.Missing, ",") != "mything/base,mything/rpo-lambda0.3" {
		t.Errorf("table.json: %d of %d finished, missing %v, failed %v; want 4 of 6, mything's two runs missing and failed", tj.Finished, tj.Expected, tj.Missing, tj.Failed)
	}
	for _, row := range tj.Summary {
		if row.Subjects != 2 || row.Metrics[mDINO].N != 2 {
			t.Errorf("summary row %s: %d subjects, want backpack and dog", row.Run, row.Subjects)
		}
	}
	if tj.References == nil || tj.References.Subjects != 2 {
		t.Errorf("table.json: reference row %+v, want one over 2 subjects (mything has one photo: no pair)", tj.References)
	}
	md, err := os.ReadFile(filepath.Join(out, tableMD))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| backpack | rpo-lambda0.3 | ok |", "| dog | base | ok |", "mything/base: subject mything is not one of DreamBench's 30", "0.652"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("table.md lacks %q:\n%s", want, md)
		}
	}

	// A rerun of shard 1 skips both of dog's runs.
	stdout.Reset()
	if sum, err := run(ctx, o1, &stdout); err != nil || sum.skipped != 2 || sum.ran != 0 {
		t.Errorf("shard 1/2 again: %+v, %v; want both runs skipped", sum, err)
	}
}
