package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/examples/internal/imagesize"
	"github.com/gorpo/gorpo/examples/internal/tinyrun"
	"github.com/gorpo/gorpo/rpo"
)

// The program runs end to end on the tiny folders of examples/internal/tinyrun (the fixtures'
// tiny random-weight Stable Diffusion, the fixture ALIGN and four synthetic photos), at 16×16
// with 2 sampling steps.

// env is a test's model, reward and photo folders.
type env struct{ model, reward, photos string }

func newEnv(t *testing.T) env {
	t.Helper()
	f := tinyrun.Write(t)
	return env{f.Model, f.Reward, f.Photos}
}

// tiny are the options of a 4-step run validating every 2 steps, small enough for 2 cores.
func (e env) tiny(t *testing.T, out string) options {
	o := defaultOptions()
	o.Model, o.Reward, o.SubjectDir, o.Class, o.Out = e.model, e.reward, e.photos, "dog", out
	o.Steps, o.ValidateEvery, o.LR = 4, 2, 2e-3
	o.GenSteps, o.Size = 2, "16"
	o.ImagesPerPrompt, o.ValImages, o.ClassImages = 1, 1, 2
	o.EvalPrompts, o.EvalImages = 2, 2
	o.log = logWriter{t}
	return o
}

// logWriter sends the run's progress to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// reportJSON is what the tests read of report.json.
type reportJSON struct {
	Base *struct {
		AlignI  float64 `json:"align_i"`
		AlignT  float64 `json:"align_t"`
		Harmony float64 `json:"harmonic_0_3"`
	} `json:"base"`
	Config     rpo.Config     `json:"config"`
	Generation rpo.Generation `json:"generation"`
	Evaluation struct {
		Prompts []string `json:"prompts"`
		Seeds   []uint64 `json:"seeds"`
	} `json:"evaluation"`
}

type runJSON struct {
	StepsTrained int      `json:"steps_trained"`
	BestStep     int      `json:"best_step"`
	BestReward   *float64 `json:"best_reward"`
	Weights      string   `json:"weights"`
	Resumed      bool     `json:"resumed"`
	AlignI       *float64 `json:"align_i"`
	Harmony      *float64 `json:"harmonic_0_3"`
}

func readReport(t *testing.T, out, objective string) (reportJSON, runJSON) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, reportFile))
	if err != nil {
		t.Fatal(err)
	}
	var rep reportJSON
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		t.Fatal(err)
	}
	var r runJSON
	if err := json.Unmarshal(all[objective], &r); err != nil {
		t.Fatalf("report.json[%q]: %v (%s)", objective, err, data)
	}
	return rep, r
}

func mustExist(t *testing.T, out string, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
}

// TestRun fine-tunes, refuses to overwrite the run, is interrupted in a new run after the first
// validation (the best checkpoint intact), and resumes it to the end.
func TestRun(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(t.TempDir(), "out")
	ctx := context.Background()

	var stdout bytes.Buffer
	if err := run(ctx, e.tiny(t, out), &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	t.Logf("stdout:\n%s", stdout.String())
	mustExist(t, out, "best/unet/diffusion_pytorch_model.safetensors", "best/unet/config.json", rpo.MetricsFile,
		"reward_curve.png", reportFile, beforeFile, afterFile, "validation/step-0002.png", "validation/step-0004.png")
	rep, r := readReport(t, out, "rpo")
	if r.StepsTrained != 4 || (r.BestStep != 2 && r.BestStep != 4) || r.BestReward == nil || r.Resumed {
		t.Errorf("report.json: %+v, want 4 steps, best at step 2 or 4 with a reward, not resumed", r)
	}
	if r.Weights != filepath.Join(out, "best", "unet") {
		t.Errorf("report.json weights %q, want %s", r.Weights, filepath.Join(out, "best", "unet"))
	}
	if rep.Base == nil || r.AlignI == nil || r.Harmony == nil || !(rep.Base.AlignI >= 0 && rep.Base.AlignI <= 1) {
		t.Errorf("report.json lacks the base or fine-tuned scores: base %+v, run %+v", rep.Base, r)
	}
	if rep.Config.Class != "dog" || rep.Config.Steps != 4 || rep.Generation.Height != 16 {
		t.Errorf("report.json config %+v, generation %+v", rep.Config, rep.Generation)
	}
	if len(rep.Evaluation.Prompts) != 2 || len(rep.Evaluation.Seeds) != 4 || !strings.Contains(rep.Evaluation.Prompts[0], "[V] dog") {
		t.Errorf("report.json evaluation %+v, want 2 prompts with 2 seeds each", rep.Evaluation)
	}
	// Four photos and two images per prompt: two rows of photos, then two of images, 16×16
	// enlarged nearest-neighbour to gridMinSide, with 4-pixel gaps.
	cell := gridMinSide + 4
	checkGrid(t, filepath.Join(out, beforeFile), 2*cell+4, 4*cell+4)
	for _, want := range []string{"4 steps trained", "best validation: step", "best weights: " + filepath.Join(out, "best", "unet")} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}

	// The same command again: the folder holds a run.
	if err := run(ctx, e.tiny(t, out), io.Discard); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("rerun into a run's folder: %v, want an error pointing at --resume and --overwrite", err)
	}

	// A new run over it, interrupted after step 3: best/ holds step 2's validation.
	o := e.tiny(t, out)
	o.Overwrite = true
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o.onStep = func(step int) {
		if step == 3 {
			cancel()
		}
	}
	stdout.Reset()
	err := run(cctx, o, &stdout)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	t.Logf("stdout:\n%s", stdout.String())
	for _, want := range []string{"interrupted at step 3 of 4", "best checkpoint, intact: " + filepath.Join(out, "best") + " (step 2", "--resume"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("interruption message lacks %q:\n%s", want, stdout.String())
		}
	}
	if st, err := rpo.LoadCheckpointState(filepath.Join(out, "best")); err != nil || st.Step != 2 {
		t.Errorf("best checkpoint after the interruption: step %d, %v; want step 2", st.Step, err)
	}
	for _, name := range []string{reportFile, afterFile} {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			t.Errorf("%s of the earlier run left beside an unfinished one", name)
		}
	}

	// Resuming with another step count is refused; with the same flags it finishes the run.
	o = e.tiny(t, out)
	o.Resume, o.Steps, o.explicit = true, 8, map[string]bool{"steps": true}
	if err := run(ctx, o, io.Discard); err == nil || !strings.Contains(err.Error(), "--steps 8") {
		t.Errorf("resume with --steps 8: %v, want an error naming --steps", err)
	}
	o = e.tiny(t, out)
	o.Resume = true
	stdout.Reset()
	if err := run(ctx, o, &stdout); err != nil {
		t.Fatalf("resume: %v\n%s", err, stdout.String())
	}
	mustExist(t, out, reportFile, afterFile, "best/unet/diffusion_pytorch_model.safetensors")
	if _, r := readReport(t, out, "rpo"); r.StepsTrained != 4 || !r.Resumed {
		t.Errorf("report.json after resume: %+v, want 4 steps, resumed", r)
	}
}

// checkGrid checks a PNG's size.
func checkGrid(t *testing.T, path string, width, height int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if cfg.Width != width || cfg.Height != height {
		t.Errorf("%s: %d×%d, want %d×%d", path, cfg.Width, cfg.Height, width, height)
	}
}

// TestRunLoRA trains rank-2 adapters: the kept weights are the adapter file.
func TestRunLoRA(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(t.TempDir(), "lora")
	o := e.tiny(t, out)
	o.LoRA, o.Steps, o.Objective, o.Token = 2, 2, "sim-es", "sks"
	var stdout bytes.Buffer
	if err := run(context.Background(), o, &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	mustExist(t, out, "best/"+rpo.CheckpointLoRAFile, reportFile, beforeFile, afterFile)
	rep, r := readReport(t, out, string(rpo.ObjectiveSimEarlyStopping))
	if r.Weights != filepath.Join(out, "best", rpo.CheckpointLoRAFile) || rep.Config.LoRARank != 2 {
		t.Errorf("report.json: weights %q, LoRA rank %d; want the adapter file, rank 2", r.Weights, rep.Config.LoRARank)
	}
	if !strings.Contains(rep.Evaluation.Prompts[0], "sks dog") {
		t.Errorf("evaluation prompts %q do not use --token", rep.Evaluation.Prompts)
	}
	if !strings.Contains(stdout.String(), "LoRA") {
		t.Errorf("summary does not say the weights are LoRA adapters:\n%s", stdout.String())
	}
}

// TestRunBadFlags checks that bad command lines fail before any model is loaded, naming the flag.
func TestRunBadFlags(t *testing.T) {
	dir := t.TempDir()
	photos, empty, textOnly := filepath.Join(dir, "photos"), filepath.Join(dir, "empty"), filepath.Join(dir, "text")
	tinyrun.WritePhotos(t, photos, "a.jpg.png")
	for _, d := range []string{empty, textOnly} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(textOnly, "a.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	good := func() options {
		o := defaultOptions()
		// The folders need not hold models: every case fails before loading them.
		o.Model, o.Reward, o.SubjectDir, o.Class, o.Out = filepath.Join(dir, "nomodel"), filepath.Join(dir, "noalign"), photos, "dog", filepath.Join(dir, "out")
		return o
	}
	for _, c := range []struct {
		name, want string
		edit       func(*options)
	}{
		{"no model: the toy world, which renders its references", "--subject-dir is for your own photos with --model", func(o *options) { o.Model = "" }},
		{"no class", "--class WORD is required", func(o *options) { o.Class = "" }},
		{"no subject dir", "--subject-dir DIR is required", func(o *options) { o.SubjectDir = "" }},
		{"missing subject dir", "--subject-dir", func(o *options) { o.SubjectDir = filepath.Join(dir, "absent") }},
		{"empty subject dir", "no photos", func(o *options) { o.SubjectDir = empty }},
		{"no photos in subject dir", "no photos", func(o *options) { o.SubjectDir = textOnly }},
		{"unknown objective", `--objective "ppo": unknown, want one of rpo, rpo-no-es, sim, sim-es, dreambooth`, func(o *options) { o.Objective = "ppo" }},
		{"bad size", "--size", func(o *options) { o.Size = "big" }},
		{"zero steps", "--steps 0", func(o *options) { o.Steps = 0 }},
		{"bad token", "--token", func(o *options) { o.Token = "two words" }},
		{"too many eval prompts", "--eval-prompts 26", func(o *options) { o.EvalPrompts = 26 }},
		{"resume and overwrite", "--resume and --overwrite", func(o *options) { o.Resume, o.Overwrite = true, true }},
		{"resume nothing", "holds no run", func(o *options) { o.Resume = true }},
		{"no reward", "--reward DIR is required", func(o *options) { o.Reward = "" }},
		{"missing model", "--model", func(o *options) {}},
		{"photo over the pixel limit", "--max-image-pixels 3; raise it", func(o *options) { o.MaxImagePixels = 3 }},
		{"--out is a file", "--out " + filepath.Join(photos, "a.jpg.png") + " is a file", func(o *options) { o.Out = filepath.Join(photos, "a.jpg.png") }},
	} {
		o := good()
		c.edit(&o)
		err := run(context.Background(), o, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}

// TestParseFlags checks the command line's parsing and that every objective has a flag name.
func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"--model", "m", "--class", "dog", "--objective", "sim-es", "--lora", "4", "--size", "768x512", "--live"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Model != "m" || o.Class != "dog" || o.LoRA != 4 || !o.Live || o.Steps != rpo.DefaultConfig().Steps {
		t.Errorf("parsed %+v", o)
	}
	if !o.explicit["lora"] || o.explicit["steps"] {
		t.Errorf("explicit flags %v, want lora and not steps", o.explicit)
	}
	if h, w, err := imagesize.Parse(o.Size); h != 512 || w != 768 || err != nil {
		t.Errorf("--size 768x512: %d×%d (height×width), %v", h, w, err)
	}
	if _, err := parseFlags([]string{"--model", "m", "extra"}, io.Discard); err == nil {
		t.Error("a positional argument was accepted")
	}
	if _, err := parseFlags([]string{"--nope"}, io.Discard); err == nil {
		t.Error("an unknown flag was accepted")
	}
	for _, obj := range rpo.Objectives() {
		if got, err := parseObjective(string(obj)); err != nil || got != obj {
			t.Errorf("objective %s: %v, %v", obj, got, err)
		}
		named := false
		for _, n := range objectives {
			named = named || n.obj == obj
		}
		if !named {
			t.Errorf("objective %s has no --objective name", obj)
		}
	}
	if got := slug(" Stuffed  Animal "); got != "stuffed-animal" {
		t.Errorf("slug: %q", got)
	}
	s, err := settingsOf(options{Class: "stuffed animal", SubjectDir: "x", Objective: "rpo", Token: "[V]", SubjectPrompt: "a photo of {V} {class}", Steps: 1, Batch: 1, LR: 1e-5, Beta: 1,
		ValidateEvery: 1, GenSteps: 1, ImagesPerPrompt: 1, ValImages: 1, ClassImages: 1, EvalPrompts: 1, EvalImages: 1})
	if err != nil || s.out != filepath.Join("out", "finetune-stuffed-animal") {
		t.Errorf("default --out %q, %v", s.out, err)
	}
}
