package rpo

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSteps(t *testing.T, w *MetricsWriter, from, to int) {
	t.Helper()
	for s := from; s <= to; s++ {
		if err := w.WriteStep(StepMetrics{Step: s, Losses: Losses{LossTotal: float64(s), LossSim: 0.5}, LearningRate: 5e-6, GradNorm: 0.1}); err != nil {
			t.Fatal(err)
		}
	}
}

// One line per step and per validation; read back, with non-finite values kept.
func TestMetricsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	w, err := CreateMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	writeSteps(t, w, 1, 2)
	if err := w.WriteStep(StepMetrics{Step: 3, Losses: Losses{LossTotal: math.NaN(), LossLogit: math.Inf(1)}}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteValidation(ValidationMetrics{Step: 3, Reward: 0.61, PromptRewards: []float64{0.6, 0.62}, Best: true, BestStep: 3, BestReward: 0.61}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteStep(StepMetrics{Step: 4}); err == nil {
		t.Error("wrote to a closed writer")
	}
	data, _ := os.ReadFile(path)
	if lines := strings.Count(string(data), "\n"); lines != 4 {
		t.Fatalf("%d lines:\n%s", lines, data)
	}
	m, err := ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Steps) != 3 || len(m.Validations) != 1 {
		t.Fatalf("%+v", m)
	}
	if s := m.Steps[2]; !math.IsNaN(s.Losses.Total()) || !math.IsInf(s.Losses[LossLogit], 1) {
		t.Errorf("non-finite losses read back as %v", s.Losses)
	}
	if s := m.Steps[0]; s.Step != 1 || s.Losses.Total() != 1 || s.LearningRate != 5e-6 || s.GradNorm != 0.1 {
		t.Errorf("step record %+v", s)
	}
	if v := m.Validations[0]; v.Step != 3 || v.Reward != 0.61 || !v.Best || v.BestStep != 3 || len(v.PromptRewards) != 2 {
		t.Errorf("validation record %+v", v)
	}
	if pts := RewardCurve(m); len(pts) != 1 || pts[0] != (RewardPoint{3, 0.61}) {
		t.Errorf("reward curve %v", pts)
	}
}

// A resumed run drops what the interrupted one logged after its checkpoint, including a torn
// last line, and appends after the rest.
func TestResumeMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	w, err := CreateMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	writeSteps(t, w, 1, 40)
	if err := w.WriteValidation(ValidationMetrics{Step: 40, Reward: 0.5, Best: true, BestStep: 40, BestReward: 0.5}); err != nil {
		t.Fatal(err)
	}
	writeSteps(t, w, 41, 47)
	w.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind":"step","step":48,"los`) // killed mid-write
	f.Close()
	if m, err := ReadMetrics(path); err != nil || len(m.Steps) != 47 {
		t.Fatalf("reading a file with a torn line: %v", err)
	}

	w, err = ResumeMetrics(path, 40)
	if err != nil {
		t.Fatal(err)
	}
	writeSteps(t, w, 41, 42)
	w.Close()
	m, err := ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Steps) != 42 || len(m.Validations) != 1 {
		t.Fatalf("%d steps, %d validations after resume", len(m.Steps), len(m.Validations))
	}
	for i, s := range m.Steps {
		if s.Step != i+1 {
			t.Fatalf("record %d is step %d", i, s.Step)
		}
	}

	// A corrupt line that is not the last is an error naming the file.
	os.WriteFile(path, []byte("{\"kind\":\"step\",\"step\":1}\nnot json\n{\"kind\":\"step\",\"step\":2}\n"), 0o644)
	if _, err := ResumeMetrics(path, 5); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("corrupt line: %v", err)
	}
	// No file yet: a fresh one.
	w, err = ResumeMetrics(filepath.Join(t.TempDir(), "new.jsonl"), 10)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
}
