package main

import (
	"io"
	"strings"
	"testing"
)

// --lambda-val reaches the trainer's configuration, and a λ outside [0, 1] is an error naming
// the flag; --subject all points at the DreamBench harness that took it over.
func TestLambdaValFlag(t *testing.T) {
	args := []string{"--model", "sd", "--reward", "align", "--subject-dir", "photos", "--class", "dog"}
	o, err := parseFlags(append(args, "--lambda-val", "0.5"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := settingsOf(o)
	if err != nil || s.cfg.LambdaVal != 0.5 {
		t.Errorf("--lambda-val 0.5: config λ_val %g, %v", s.cfg.LambdaVal, err)
	}
	if o, err = parseFlags(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	if s, _ := settingsOf(o); s.cfg.LambdaVal != 0.3 {
		t.Errorf("default λ_val %g, want the paper's 0.3", s.cfg.LambdaVal)
	}
	o, _ = parseFlags(append(args, "--lambda-val", "1.5"), io.Discard)
	if _, err := settingsOf(o); err == nil || !strings.Contains(err.Error(), "--lambda-val 1.5") {
		t.Errorf("--lambda-val 1.5: %v, want an error naming the flag", err)
	}
	if _, err := parseFlags([]string{"--subject", "all"}, io.Discard); err == nil || !strings.Contains(err.Error(), "examples/dreambench --toy") {
		t.Errorf("--subject all: %v, want it to point at examples/dreambench --toy", err)
	}
}
