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

	"github.com/gorpo/gorpo/rpo"
)

// --precision reaches the trainer's configuration (fp32 by default), an unknown name is an error
// naming the flag, and a bf16 run on the fixtures reports its compute type and the graphs the
// trainer compiled, on stdout and in report.json.
func TestPrecisionFlag(t *testing.T) {
	args := []string{"--model", "sd", "--reward", "align", "--subject-dir", "photos", "--class", "dog"}
	for flagValue, want := range map[string]rpo.Precision{"": rpo.PrecisionFP32, "bf16": rpo.PrecisionBF16, "fp16": rpo.PrecisionFP16} {
		a := args
		if flagValue != "" {
			a = append(a, "--precision", flagValue)
		}
		o, err := parseFlags(a, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if s, err := settingsOf(o); err != nil || s.cfg.Precision != want {
			t.Errorf("--precision %q: config precision %q, %v; want %q", flagValue, s.cfg.Precision, err, want)
		}
	}
	o, _ := parseFlags(append(args, "--precision", "no"), io.Discard)
	if _, err := settingsOf(o); err == nil || !strings.Contains(err.Error(), `--precision no: unknown precision, want "fp32"`) {
		t.Errorf("--precision no: %v, want an error naming the flag and the accepted values", err)
	}

	e := newEnv(t)
	out := filepath.Join(t.TempDir(), "bf16")
	o = e.tiny(t, out)
	o.Steps, o.Objective, o.Precision = 2, "rpo", "bf16"
	var stdout bytes.Buffer
	if err := run(context.Background(), o, &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	for _, want := range []string{"bf16 compute", "graphs compiled by the trainer: ", "U-Net compute bf16"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	rep, _ := readReport(t, out, string(rpo.ObjectiveRPO))
	data, err := os.ReadFile(filepath.Join(out, reportFile))
	if err != nil {
		t.Fatal(err)
	}
	var entry struct {
		RPO struct {
			Graphs rpo.GraphCounts `json:"graphs"`
		} `json:"rpo"`
	}
	if err := json.Unmarshal(data, &entry); err != nil {
		t.Fatal(err)
	}
	g := entry.RPO.Graphs
	t.Logf("report.json: precision %q, graphs %s", rep.Config.Precision, g)
	// The training step is the trainer's own graph; the sampling graphs may already exist (before.png
	// was drawn at the same shapes), so the other phases can count 0.
	if rep.Config.Precision != rpo.PrecisionBF16 || g.Train == 0 {
		t.Errorf("report.json: precision %q, graphs %s; want bf16 and the training step's graph", rep.Config.Precision, g)
	}
}

// --gradient-checkpointing reaches the trainer's configuration (off by default).
func TestGradientCheckpointingFlag(t *testing.T) {
	args := []string{"--model", "sd", "--reward", "align", "--subject-dir", "photos", "--class", "dog"}
	for _, on := range []bool{false, true} {
		a := args
		if on {
			a = append(a, "--gradient-checkpointing")
		}
		o, err := parseFlags(a, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if s, err := settingsOf(o); err != nil || s.cfg.GradientCheckpointing != on {
			t.Errorf("--gradient-checkpointing %v: config %v, %v", on, s.cfg.GradientCheckpointing, err)
		}
	}
}
