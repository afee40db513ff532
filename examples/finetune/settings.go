package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/gorpo/gorpo/examples/internal/imagesize"
	"github.com/gorpo/gorpo/rpo"
)

// settings are the options turned into the SDK's terms.
type settings struct {
	cfg rpo.Config
	gen rpo.Generation // Height and Width 0 until the model's default is known
	out string
	// compare is --compare: out is one objective's subfolder of the comparison's folder, or the
	// comparison's folder itself.
	compare bool
}

// settingsOf checks the options that need no file and builds the run's configuration. Errors name
// the flag at fault; all of them are reported together.
func settingsOf(o options) (settings, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.SubjectDir == "" && o.Subject == "" {
		bad("--subject-dir DIR is required: a folder of photos of the subject (built-in subjects come with the toy world)")
	}
	if strings.TrimSpace(o.Class) == "" {
		bad("--class WORD is required with --subject-dir: the subject's class (\"dog\", \"backpack\")")
	}
	obj, err := parseObjective(o.Objective)
	if err != nil {
		errs = append(errs, err)
	}
	h, w, err := imagesize.Parse(o.Size)
	if err != nil {
		errs = append(errs, err)
	}
	if o.EvalPrompts < 1 || o.EvalPrompts > len(rpo.EvaluationTemplates(o.Live)) {
		bad("--eval-prompts %d: want 1 to %d", o.EvalPrompts, len(rpo.EvaluationTemplates(o.Live)))
	}
	if o.EvalImages < 1 {
		bad("--eval-images %d: want at least 1", o.EvalImages)
	}
	if o.explicit["subject-prompt"] && o.explicit["reference-prompts"] && o.ReferencePrompts != "" {
		bad("--subject-prompt and --reference-prompts: choose one (one prompt for every photo, or one for each)")
	}
	if o.Resume && o.Overwrite {
		bad("--resume and --overwrite: choose one (continue the run in --out, or start over)")
	}

	cfg := rpo.DefaultConfig()
	cfg.Token, cfg.Class, cfg.Live, cfg.Objective, cfg.SubjectPrompt = o.Token, o.Class, o.Live, obj, o.SubjectPrompt
	cfg.LoRARank, cfg.Steps, cfg.LearningRate, cfg.ValidateEvery, cfg.Seed = o.LoRA, o.Steps, o.LR, o.ValidateEvery, o.Seed
	cfg.LambdaTrain, cfg.Beta, cfg.BatchSize, cfg.LambdaVal = o.LambdaTrain, o.Beta, o.Batch, o.LambdaVal
	cfg.ImagesPerPrompt, cfg.ValidationImagesPerPrompt, cfg.NumClassImages = o.ImagesPerPrompt, o.ValImages, o.ClassImages
	cfg.Precision = rpo.Precision(o.Precision)
	cfg.GradientCheckpointing = o.GradientCheckpointing
	check := cfg // the class and objective errors are reported above
	if strings.TrimSpace(check.Class) == "" {
		check.Class = "subject"
	}
	if obj == "" {
		check.Objective = rpo.ObjectiveRPO
	}
	if err := check.Validate(); err != nil {
		errs = append(errs, flagErrors(err)...)
	}
	gen := rpo.DefaultGeneration()
	gen.Steps, gen.Guidance, gen.Height, gen.Width = o.GenSteps, o.Guidance, h, w
	if gen.Steps < 1 {
		bad("--gen-steps %d: want at least 1", gen.Steps)
	}
	out := o.Out
	switch {
	case out != "":
	case o.Subject != "": // a built-in subject's name is a folder name
		out = filepath.Join("out", "finetune-"+o.Subject)
	default:
		out = filepath.Join("out", "finetune-"+slug(o.Class))
	}
	return settings{cfg: cfg, gen: gen, out: out}, errors.Join(errs...)
}

// parseObjective maps an --objective name (or an rpo.Objective's own name) to the objective.
func parseObjective(s string) (rpo.Objective, error) {
	names := make([]string, len(objectives))
	for i, o := range objectives {
		if s == o.name || s == string(o.obj) {
			return o.obj, nil
		}
		names[i] = o.name
	}
	return "", fmt.Errorf("--objective %q: unknown, want one of %s", s, strings.Join(names, ", "))
}

// configFlags names the flag of each Config field the command line sets.
var configFlags = map[string]string{
	"Token": "token", "SubjectPrompt": "subject-prompt", "ReferencePrompts": "reference-prompts", "Class": "class", "Objective": "objective", "LoRARank": "lora", "Steps": "steps", "BatchSize": "batch",
	"LearningRate": "lr", "LambdaVal": "lambda-val", "LambdaTrain": "lambda-train", "Beta": "beta", "ValidateEvery": "validate-every", "ImagesPerPrompt": "images-per-prompt",
	"ValidationImagesPerPrompt": "val-images", "NumClassImages": "class-images", "Precision": "precision",
}

// flagErrors rewrites Config.Validate's field errors in terms of flags.
func flagErrors(err error) []error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for i, e := range list {
		var fe *rpo.FieldError
		if errors.As(e, &fe) {
			if name, ok := configFlags[fe.Field]; ok {
				list[i] = fmt.Errorf("--%s %v: %s", name, fe.Value, fe.Reason)
			}
		}
	}
	return list
}

// precisionName is p as --precision writes it: "" (a run recorded before the setting) is fp32.
func precisionName(p rpo.Precision) string {
	if p == "" {
		return string(rpo.PrecisionFP32)
	}
	return string(p)
}

// slug makes a class word a folder name: lower case, runs of other characters as one '-'.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// recordedRun is what a run's run.json says about its settings.
type recordedRun struct {
	Config     rpo.Config     `json:"config"`
	Generation rpo.Generation `json:"generation"`
}

// resumeSettings replaces s's configuration by the one the run in s.out was started with, which
// a resumed run keeps. A flag given on the command line that disagrees with it is an error.
func resumeSettings(s settings, explicit map[string]bool) (settings, error) {
	path := filepath.Join(s.out, rpo.RunFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("--resume: %s holds no run to continue (%v): start one without --resume", s.out, err)
	}
	var rec recordedRun
	if err := json.Unmarshal(data, &rec); err != nil {
		return s, fmt.Errorf("--resume: %s: %w", path, err)
	}
	have, want := s.cfg, rec.Config
	checks := []struct {
		flag       string
		given, was any
	}{
		{"class", have.Class, want.Class}, // always given
		{"token", have.Token, want.Token},
		{"subject-prompt", have.SubjectPrompt, want.SubjectPrompt},
		{"reference-prompts", have.ReferencePrompts, want.ReferencePrompts},
		{"live", have.Live, want.Live},
		{"objective", have.Objective, want.Objective},
		{"lora", have.LoRARank, want.LoRARank},
		{"steps", have.Steps, want.Steps},
		{"batch", have.BatchSize, want.BatchSize},
		{"lr", have.LearningRate, want.LearningRate},
		{"lambda-train", have.LambdaTrain, want.LambdaTrain},
		{"beta", have.Beta, want.Beta},
		{"lambda-val", have.LambdaVal, want.LambdaVal},
		{"validate-every", have.ValidateEvery, want.ValidateEvery},
		{"seed", have.Seed, want.Seed},
		{"images-per-prompt", have.ImagesPerPrompt, want.ImagesPerPrompt},
		{"val-images", have.ValidationImagesPerPrompt, want.ValidationImagesPerPrompt},
		{"class-images", have.NumClassImages, want.NumClassImages},
		{"precision", precisionName(have.Precision), precisionName(want.Precision)},
		{"gen-steps", s.gen.Steps, rec.Generation.Steps},
		{"guidance", s.gen.Guidance, rec.Generation.Guidance},
	}
	if s.gen.Height > 0 {
		checks = append(checks, struct {
			flag       string
			given, was any
		}{"size", fmt.Sprintf("%dx%d", s.gen.Width, s.gen.Height), fmt.Sprintf("%dx%d", rec.Generation.Width, rec.Generation.Height)})
	}
	var errs []error
	for _, c := range checks {
		if (c.flag == "class" || explicit[c.flag]) && fmt.Sprint(c.given) != fmt.Sprint(c.was) {
			errs = append(errs, fmt.Errorf("--resume: --%s %v, but the run in %s was started with %v: a resumed run keeps its settings (drop the flag, or start over with --overwrite)",
				c.flag, c.given, s.out, c.was))
		}
	}
	s.cfg, s.gen = rec.Config, rec.Generation
	return s, errors.Join(errs...)
}
