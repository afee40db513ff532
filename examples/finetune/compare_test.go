package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorpo/gorpo/rpo"
)

// TestToyCompare runs --compare on the toy path: every objective trains from the base model in
// its own subfolder, one before.png and base entry, an after-<objective>.png each, and one
// report.json and report.md with a row per objective.
func TestToyCompare(t *testing.T) {
	start := time.Now()
	base := writeToyBase(t)
	out := filepath.Join(t.TempDir(), "out")
	o := tinyToy(t, base, out)
	o.Compare, o.ClassImages = true, 2
	var stdout bytes.Buffer
	if err := run(context.Background(), o, &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	t.Logf("stdout (%s):\n%s", time.Since(start).Round(time.Millisecond), stdout.String())
	mustExist(t, out, reportFile, reportMD, beforeFile)
	if _, err := os.Stat(filepath.Join(out, afterFile)); err == nil {
		t.Errorf("--compare wrote %s; want one after-<objective>.png per objective", afterFile)
	}

	data, err := os.ReadFile(filepath.Join(out, reportFile))
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]json.RawMessage
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, reportMD))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report.md:\n%s", md)
	var names []string
	for _, ob := range objectives {
		names = append(names, string(ob.obj))
	}
	var order []string
	if err := json.Unmarshal(rep["compare"], &order); err != nil || strings.Join(order, ",") != strings.Join(names, ",") {
		t.Errorf("report.json[compare] = %s, want %q", rep["compare"], names)
	}
	fields := []string{"subject_fidelity", "prompt_fidelity", "align_i", "align_t", "harmonic_0_3", "steps_trained", "best_step", "seconds"}
	for _, key := range append([]string{"base"}, names...) {
		var entry map[string]any
		if err := json.Unmarshal(rep[key], &entry); err != nil {
			t.Errorf("report.json[%q]: %v", key, err)
			continue
		}
		for _, k := range fields {
			if _, ok := entry[k].(float64); !ok {
				t.Errorf("report.json[%q][%q] = %v, want a number", key, k, entry[k])
			}
		}
		if !bytes.Contains(md, []byte("| "+key+" |")) {
			t.Errorf("report.md lacks a row for %s", key)
		}
		if key == "base" {
			continue
		}
		if entry["steps_trained"] != 2.0 {
			t.Errorf("report.json[%q]: %v steps, want 2", key, entry["steps_trained"])
		}
		if entry["dir"] != filepath.Join(out, key) {
			t.Errorf("report.json[%q][dir] = %v, want %s", key, entry["dir"], filepath.Join(out, key))
		}
		mustExist(t, out, "after-"+key+".png", filepath.Join(key, rpo.MetricsFile), filepath.Join(key, rpo.RunFile))
		var runFile struct {
			Config rpo.Config `json:"config"`
		}
		if data, err := os.ReadFile(filepath.Join(out, key, rpo.RunFile)); err == nil {
			if err := json.Unmarshal(data, &runFile); err != nil || string(runFile.Config.Objective) != key {
				t.Errorf("%s/%s: objective %q, %v; want %s", key, rpo.RunFile, runFile.Config.Objective, err, key)
			}
		}
	}
	// The objectives that keep the best-validated weights say so.
	for key, best := range map[string]string{"rpo": "best", "sim_early_stopping": "best", "sim": "final", "dreambooth": "final"} {
		var entry struct {
			Weights string `json:"weights"`
		}
		if err := json.Unmarshal(rep[key], &entry); err == nil && !strings.HasPrefix(entry.Weights, filepath.Join(out, key, best)) {
			t.Errorf("report.json[%q][weights] = %q, want under %s", key, entry.Weights, filepath.Join(out, key, best))
		}
	}
	if !strings.Contains(stdout.String(), "compared 5 objectives") {
		t.Errorf("summary:\n%s", stdout.String())
	}

	// The same command again: the objectives' folders hold runs.
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("rerun into a comparison's folder: %v, want an error pointing at --overwrite", err)
	}
}

// TestCompareFlags checks that --compare refuses --objective and --resume, naming both flags,
// before any model is loaded.
func TestCompareFlags(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--compare", "--objective", "sim"}, []string{"--compare", "--objective"}},
		{[]string{"--compare", "--objective", "rpo"}, []string{"--compare", "--objective"}},
		{[]string{"--compare", "--resume"}, []string{"--compare", "--resume", "not supported yet"}},
	} {
		for _, path := range [][]string{{"--base-model", filepath.Join(dir, "nomodel")},
			{"--model", filepath.Join(dir, "nomodel"), "--reward", dir, "--subject-dir", dir, "--class", "dog"}} {
			args := append(append([]string{}, path...), c.args...)
			args = append(args, "--out", filepath.Join(dir, "out"))
			o, err := parseFlags(args, io.Discard)
			if err != nil {
				t.Fatalf("%q: %v", args, err)
			}
			err = run(context.Background(), o, io.Discard)
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("%q: %v, want an error with %q", args, err, w)
				}
			}
		}
	}
	o, err := parseFlags([]string{"--base-model", "b", "--compare"}, io.Discard)
	if err != nil || !o.Compare {
		t.Errorf("--compare: %+v, %v", o.Compare, err)
	}
}

// TestCompareFolders runs --compare on the real-folder path (--model, --reward, --subject-dir)
// with the fixtures' tiny Stable Diffusion and ALIGN, training LoRA adapters (each objective on a
// fresh copy of the base model). About 12 s on 2 cores; -short skips it.
func TestCompareFolders(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: TestToyCompare covers --compare")
	}
	e := newEnv(t)
	out := filepath.Join(t.TempDir(), "out")
	o := e.tiny(t, out)
	o.Compare, o.Steps, o.EvalPrompts, o.EvalImages, o.LoRA = true, 2, 1, 1, 2
	var stdout bytes.Buffer
	if err := run(context.Background(), o, &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	mustExist(t, out, reportFile, reportMD, beforeFile)
	for _, ob := range objectives {
		key := string(ob.obj)
		mustExist(t, out, "after-"+key+".png", filepath.Join(key, rpo.MetricsFile))
		if _, r := readReport(t, out, key); r.StepsTrained != 2 || r.AlignI == nil {
			t.Errorf("report.json[%q]: %+v, want 2 steps and scores", key, r)
		}
	}
	if rep, _ := readReport(t, out, "rpo"); rep.Base == nil {
		t.Error("report.json lacks the base entry")
	}
}
