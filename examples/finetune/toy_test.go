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

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/internal/toyworld/autoencoder"
	"github.com/gorpo/gorpo/internal/toyworld/basemodel"
	"github.com/gorpo/gorpo/rpo"
)

// writeToyBase writes a random-weight toy base model, basemodel.DefaultConfig shrunk to one
// text layer and channels 8/16/16 on a random autoencoder of channels 8/8, as basemodel's own
// tests do.
func writeToyBase(t *testing.T) string {
	t.Helper()
	v, err := basemodel.DefaultVocab()
	if err != nil {
		t.Fatal(err)
	}
	vcfg := autoencoder.DefaultConfig()
	vcfg.BlockOutChannels, vcfg.NormNumGroups = []int{8, 8}, 4
	vae, err := diffusion.NewVAE(vcfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg := basemodel.DefaultConfig(len(v.Tokens), vae.Config())
	cfg.Text.NumHiddenLayers, cfg.Text.HiddenSize, cfg.Text.IntermediateSize, cfg.Text.NumAttentionHeads = 1, 16, 32, 2
	cfg.UNet.BlockOutChannels = []int{8, 16, 16}
	cfg.UNet.LayersPerBlock = diffusion.Int(1)
	cfg.UNet.AttentionHeadDim = diffusion.Int(2)
	cfg.UNet.CrossAttentionDim = diffusion.Int(16)
	m, err := basemodel.New(backend.MustDefault(), cfg, v, vae, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "toybase")
	if err := m.Export(dir, true, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tinyToy are the toy path's options (the preset, as parseFlags applies it) shrunk for 2 cores:
// 2 steps validating at step 2, 2 sampling steps, 3 evaluation prompts × 1 image.
func tinyToy(t *testing.T, base, out string) options {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.BaseModel, o.Out = base, out
	o.Steps, o.ValidateEvery, o.LR = 2, 2, 1e-3
	o.GenSteps, o.ImagesPerPrompt, o.ValImages = 2, 1, 1
	o.EvalPrompts, o.EvalImages = 3, 1
	o.log = logWriter{t}
	return o
}

// TestToyRun runs the toy path end to end: the first subject by default, the toy reward model,
// the judge's grades in report.json for the base model and the run, and report.md.
func TestToyRun(t *testing.T) {
	start := time.Now()
	base := writeToyBase(t)
	out := filepath.Join(t.TempDir(), "out")
	var stdout bytes.Buffer
	if err := run(context.Background(), tinyToy(t, base, out), &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	t.Logf("stdout (%s):\n%s", time.Since(start).Round(time.Millisecond), stdout.String())
	mustExist(t, out, reportFile, reportMD, beforeFile, afterFile, rpo.MetricsFile)

	data, err := os.ReadFile(filepath.Join(out, reportFile))
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]json.RawMessage
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	shares := []string{"subject_fidelity", "prompt_fidelity", "align_i", "align_t", "harmonic_0_3"}
	for _, key := range []string{"base", "rpo"} {
		var entry map[string]any
		if err := json.Unmarshal(rep[key], &entry); err != nil {
			t.Fatalf("report.json[%q]: %v\n%s", key, err, data)
		}
		for _, k := range append(shares, "steps_trained", "best_step", "seconds") {
			if _, ok := entry[k].(float64); !ok {
				t.Errorf("report.json[%q][%q] = %v, want a number", key, k, entry[k])
			}
		}
		for _, k := range shares {
			// ALIGN's cosines may be negative in principle; the fidelities are shares.
			if x, _ := entry[k].(float64); (k == "subject_fidelity" || k == "prompt_fidelity") && !(x >= 0 && x <= 1) {
				t.Errorf("report.json[%q][%q] = %v, want a share in [0, 1]", key, k, x)
			}
		}
		if key == "rpo" && (entry["steps_trained"] != 2.0 || entry["best_step"] != 2.0) {
			t.Errorf("report.json[rpo]: steps %v, best step %v; want 2 and 2", entry["steps_trained"], entry["best_step"])
		}
	}
	first := toyworld.Subjects()[0]
	var rest struct {
		Inputs struct {
			Subject string `json:"subject"`
		} `json:"inputs"`
		Config struct {
			Class             string   `json:"class"`
			TrainingTemplates []string `json:"training_templates"`
		} `json:"config"`
		Generation struct {
			Height int `json:"height"`
		} `json:"generation"`
		Evaluation struct {
			Prompts []string `json:"prompts"`
		} `json:"evaluation"`
	}
	if err := json.Unmarshal(data, &rest); err != nil {
		t.Fatal(err)
	}
	if rest.Inputs.Subject != first.Name || rest.Config.Class != first.Class || len(rest.Config.TrainingTemplates) != 8 {
		t.Errorf("report.json: subject %q, class %q, %d training templates; want %s, %s, 8",
			rest.Inputs.Subject, rest.Config.Class, len(rest.Config.TrainingTemplates), first.Name, first.Class)
	}
	want, _ := toyworld.EvaluationPrompts(first.Name, "[V]")
	if len(rest.Evaluation.Prompts) != 3 || rest.Evaluation.Prompts[0] != want[0].Text {
		t.Errorf("evaluation prompts %q, want 3 of the toy world's, from %q", rest.Evaluation.Prompts, want[0].Text)
	}
	md, err := os.ReadFile(filepath.Join(out, reportMD))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report.md:\n%s", md)
	for _, row := range []string{"| base |", "| rpo |", "subject_fidelity"} {
		if !bytes.Contains(md, []byte(row)) {
			t.Errorf("report.md lacks %q:\n%s", row, md)
		}
	}
	if !strings.Contains(stdout.String(), "subject / prompt fidelity") {
		t.Errorf("summary lacks the judge's grades:\n%s", stdout.String())
	}
}

// TestToyFlags checks the toy path's command line: the preset fills only what is not given, an
// unknown subject lists the subjects, toy flags clash with --model, and no flags at all is the
// toy world on its preset.
func TestToyFlags(t *testing.T) {
	o, err := parseFlags([]string{"--base-model", "b", "--steps", "7"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Steps != 7 || o.LR != toyPreset()["lr"] || o.Size != "32" || o.EvalPrompts != 25 {
		t.Errorf("toy flags: steps %d, lr %g, size %q, eval prompts %d; want 7 and the preset", o.Steps, o.LR, o.Size, o.EvalPrompts)
	}
	if o, _ := parseFlags([]string{"--model", "m"}, io.Discard); o.Steps != defaultOptions().Steps {
		t.Errorf("--model run got the toy preset: steps %d", o.Steps)
	}

	dir := t.TempDir()
	o = defaultOptions()
	o.BaseModel, o.Subject, o.Out = filepath.Join(dir, "nomodel"), "purple_unicorn", filepath.Join(dir, "out")
	err = run(context.Background(), o, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `--subject "purple_unicorn": unknown`) || !strings.Contains(err.Error(), toySubjectNames()) {
		t.Errorf("unknown subject: %v, want an error listing %s", err, toySubjectNames())
	}
	o.Subject, o.SubjectDir = "", dir
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "--subject-dir") {
		t.Errorf("--subject-dir with --base-model: %v", err)
	}
	o = defaultOptions()
	o.Model, o.Subject = filepath.Join(dir, "sd"), toyworld.Subjects()[1].Name
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "--subject names a toy-world subject") {
		t.Errorf("--subject with --model: %v", err)
	}
	o.Subject, o.BaseModel = "", filepath.Join(dir, "toy")
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "--model and --base-model") {
		t.Errorf("--base-model with --model: %v", err)
	}
	if o, err := parseFlags(nil, io.Discard); err != nil || !o.toy() || o.Steps != toyPreset()["steps"] {
		t.Errorf("no flags: %+v, %v; want the toy path with its preset", o, err)
	}

	// The preset captions each reference with its context, unless a subject prompt is given;
	// both given is an error.
	if o, err := parseFlags(nil, io.Discard); err != nil || o.ReferencePrompts != referenceContexts || o.Beta != toyPreset()["beta"] {
		t.Errorf("no flags: reference prompts %q, β %g; want %q and the preset's β", o.ReferencePrompts, o.Beta, referenceContexts)
	}
	o, err = parseFlags([]string{"--subject-prompt", "a photo of {V} {class}"}, io.Discard)
	if err != nil || o.ReferencePrompts != "" || o.SubjectPrompt != "a photo of {V} {class}" {
		t.Errorf("--subject-prompt: reference prompts %q, subject prompt %q, %v; want none and the given one", o.ReferencePrompts, o.SubjectPrompt, err)
	}
	o, err = parseFlags([]string{"--subject-prompt", "a {V} {class}", "--reference-prompts", referenceContexts}, io.Discard)
	if err == nil {
		_, err = settingsOf(o)
	}
	if err == nil || !strings.Contains(err.Error(), "--subject-prompt and --reference-prompts: choose one") {
		t.Errorf("--subject-prompt with --reference-prompts: %v", err)
	}
}
