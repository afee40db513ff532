package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"strings"

	"github.com/gorpo/gorpo/examples/internal/flagpreset"
	"github.com/gorpo/gorpo/examples/internal/toypreset"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/internal/toyworld/basemodel"
	"github.com/gorpo/gorpo/internal/toyworld/judge"
	"github.com/gorpo/gorpo/rpo"
)

// The toy path, the default: the shipped toy base model (or --base-model DIR, a toy base-model
// folder) and --subject NAME (a built-in subject of internal/toyworld) in place of --model,
// --subject-dir and --class.

// toy reports whether o asks for the toy world rather than a Stable Diffusion folder: whenever
// --model is not given.
func (o options) toy() bool { return o.Model == "" }

// toyPreset is the toy world's own settings, in place of the paper's (which are for SD 1.x at
// 512×512): the flags it sets, by name, and their values (toypreset.Flags, which has the
// measurements that chose them).
func toyPreset() map[string]any { return toypreset.Flags() }

// withToyPreset sets every toyPreset flag the command line did not give, through fs, the flags
// parsed into o.
func withToyPreset(fs *flag.FlagSet, o *options) {
	preset := toyPreset()
	if o.explicit["subject-prompt"] {
		delete(preset, "reference-prompts") // the photos go under the given subject prompt
	}
	flagpreset.Apply(fs, preset, o.explicit)
}

// toySubjectNames lists the built-in subjects for flag help and errors.
func toySubjectNames() string {
	var names []string
	for _, s := range toyworld.Subjects() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// toySource is what the toy world gives a run: the subject, its references and its prompts.
type toySource struct {
	subject   toyworld.Subject
	photos    []image.Image
	templates []string // the training prompts with {V} for the token
}

// toySetup checks the toy path's flags and fills o from the subject: Subject (the first subject
// when empty), Class, Live, and Model and BaseModel (the base-model folder: the shipped one,
// written once to the user's cache folder, unless --base-model).
func toySetup(o options) (*toySource, options, error) {
	var errs []error
	if o.SubjectDir != "" {
		errs = append(errs, errors.New("--subject-dir is for your own photos with --model; the toy world renders its subject's references"))
	}
	if o.Subject == "" {
		o.Subject = toyworld.Subjects()[0].Name
	}
	sub, err := toyworld.SubjectByName(o.Subject)
	if err != nil {
		errs = append(errs, fmt.Errorf("--subject %q: unknown, want one of %s", o.Subject, toySubjectNames()))
	}
	if o.Class != "" && o.Class != sub.Class && err == nil {
		errs = append(errs, fmt.Errorf("--class %q: subject %s is a %s (leave --class out)", o.Class, sub.Name, sub.Class))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, o, err
	}
	prompts, err := toyworld.TrainingPrompts(sub.Name, rpo.TokenPlaceholder)
	if err != nil {
		return nil, o, err
	}
	t := &toySource{subject: sub, photos: sub.References()}
	for _, p := range prompts {
		t.templates = append(t.templates, p.Text)
	}
	if o.BaseModel == "" {
		if o.BaseModel, err = basemodel.Dir(); err != nil {
			return nil, o, fmt.Errorf("the shipped toy base model: %w", err)
		}
	}
	o.Class, o.Live, o.Model = sub.Class, sub.Live, o.BaseModel
	return t, o, nil
}

// modelConflicts returns an error for toy-world flags given with --model.
func modelConflicts(o options) error {
	var errs []error
	if o.BaseModel != "" {
		errs = append(errs, errors.New("--model and --base-model: choose one (a Stable Diffusion folder, or the toy world's base model)"))
	}
	if o.Subject != "" {
		errs = append(errs, errors.New("--subject names a toy-world subject, without --model; with --model give --subject-dir and --class"))
	}
	return errors.Join(errs...)
}

// evaluationPrompts are the subject's 25 evaluation prompts, with token, and their intents.
func (t *toySource) evaluationPrompts(token string) ([]string, []toyworld.Intent, error) {
	prompts, err := toyworld.EvaluationPrompts(t.subject.Name, token)
	if err != nil {
		return nil, nil, fmt.Errorf("--token %q: %w", token, err)
	}
	texts := make([]string, len(prompts))
	intents := make([]toyworld.Intent, len(prompts))
	for i, p := range prompts {
		texts[i], intents[i] = p.Text, p.Intent
	}
	return texts, intents, nil
}

// fidelity grades an evaluation's images with the judge: the share in which it sees the subject
// and the share that show what their prompt asks for. intents are the evaluation's prompts'.
func (t *toySource) fidelity(j *judge.Judge, intents []toyworld.Intent, per int) func(context.Context, []image.Image) (float64, float64, error) {
	var each []toyworld.Intent // one per image, prompt-major as generate draws them
	for _, in := range intents {
		for range per {
			each = append(each, in)
		}
	}
	return func(ctx context.Context, images []image.Image) (float64, float64, error) {
		if len(images) != len(each) {
			return 0, 0, fmt.Errorf("judge: %d images for %d prompts × %d", len(images), len(intents), per)
		}
		preds, err := j.Predict(ctx, images)
		if err != nil {
			return 0, 0, err
		}
		return judge.SubjectFidelity(preds, t.subject.Name), judge.PromptFidelity(preds, each), nil
	}
}
