package rpo

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// promptsJSON is a verbatim copy of the project's shared/prompts.json: the training and
// validation prompts of the official RPO code (andrew-miao/RPO, utils.py: training_prompts,
// validation_prompts), and DreamBench's 25 evaluation prompts and 30 subjects
// (google/dreambooth, dataset/prompts_and_classes.txt). Its "source" field says the same.
//
//go:embed prompts.json
var promptsJSON []byte

type promptData struct {
	Source          string              `json:"source"`
	Training        map[string][]string `json:"training_prompts"`
	Validation      []string            `json:"validation_prompts"`
	Evaluation      map[string][]string `json:"dreambench_eval_prompts"`
	SubjectPrompt   string              `json:"subject_prompt"`
	LiveSubjects    []string            `json:"official_code_live_subjects"`
	DreamBenchClass map[string]string   `json:"dreambench_subjects"`
}

var prompts = func() promptData {
	var p promptData
	if err := json.Unmarshal(promptsJSON, &p); err != nil {
		panic(fmt.Sprintf("rpo: embedded prompts.json: %v", err))
	}
	return p
}()

func kind(live bool) string {
	if live {
		return "live"
	}
	return "object"
}

// TrainingTemplates returns the official code's 8 training prompt templates for live subjects or
// objects, with {V} and {class} placeholders.
func TrainingTemplates(live bool) []string { return slices.Clone(prompts.Training[kind(live)]) }

// ValidationTemplates returns the official code's 2 validation prompt templates.
func ValidationTemplates() []string { return slices.Clone(prompts.Validation) }

// EvaluationTemplates returns DreamBench's 25 evaluation prompt templates for live subjects or
// objects.
func EvaluationTemplates(live bool) []string { return slices.Clone(prompts.Evaluation[kind(live)]) }

// FillPrompt replaces {V} by token and {class} by class in template. A template without {V} is an
// error: every prompt RPO trains or validates on names the subject.
func FillPrompt(template, token, class string) (string, error) {
	if !strings.Contains(template, TokenPlaceholder) {
		return "", fmt.Errorf("rpo: prompt template %q lacks the unique token placeholder %s", template, TokenPlaceholder)
	}
	return fill(template, token, class)
}

// fill replaces the placeholders, checking token and class.
func fill(template, token, class string) (string, error) {
	if err := checkToken(token); err != nil {
		return "", fmt.Errorf("rpo: token %q: %w", token, err)
	}
	if err := checkClass(class); err != nil {
		return "", fmt.Errorf("rpo: class %q: %w", class, err)
	}
	return strings.NewReplacer(TokenPlaceholder, token, ClassPlaceholder, class).Replace(template), nil
}

func fillAll(templates []string, token, class string) ([]string, error) {
	out := make([]string, len(templates))
	for i, t := range templates {
		p, err := FillPrompt(t, token, class)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// TrainingPrompts returns the training prompts of cfg, filled with its token and class:
// cfg.TrainingTemplates if set, otherwise the official live or object set by cfg.Live
// ("a [V] dog on the Moon", ...).
func TrainingPrompts(cfg Config) ([]string, error) {
	templates := cfg.TrainingTemplates
	if len(templates) == 0 {
		templates = TrainingTemplates(cfg.Live)
	}
	return fillAll(templates, cfg.Token, cfg.Class)
}

// ValidationPrompts returns the prompts validation generates images for: the training prompts
// (the official behaviour, ValidateTrainingPrompts), or the validation set (cfg.ValidationTemplates
// if set, otherwise the official two).
func ValidationPrompts(cfg Config) ([]string, error) {
	switch cfg.Validation {
	case ValidateTrainingPrompts:
		return TrainingPrompts(cfg)
	case ValidateValidationPrompts:
		templates := cfg.ValidationTemplates
		if len(templates) == 0 {
			templates = ValidationTemplates()
		}
		return fillAll(templates, cfg.Token, cfg.Class)
	}
	return nil, &FieldError{Field: "Validation", Value: string(cfg.Validation),
		Reason: fmt.Sprintf("want %q or %q", ValidateTrainingPrompts, ValidateValidationPrompts)}
}

// SubjectPrompt returns cfg's prompt for the reference photos, "a photo of [V] dog".
func SubjectPrompt(cfg Config) (string, error) {
	return FillPrompt(cfg.SubjectPrompt, cfg.Token, cfg.Class)
}

// ReferencePrompts returns the prompt each of n reference photos is trained under: cfg's
// ReferencePrompts filled in, which must then number n, or else the subject prompt n times.
func ReferencePrompts(cfg Config, n int) ([]string, error) {
	if len(cfg.ReferencePrompts) == 0 {
		p, err := SubjectPrompt(cfg)
		if err != nil {
			return nil, err
		}
		out := make([]string, n)
		for i := range out {
			out[i] = p
		}
		return out, nil
	}
	if len(cfg.ReferencePrompts) != n {
		return nil, fmt.Errorf("rpo: %d reference prompts for %d reference photos, want one per photo", len(cfg.ReferencePrompts), n)
	}
	return fillAll(cfg.ReferencePrompts, cfg.Token, cfg.Class)
}

// ClassPrompt returns DreamBooth's class prompt of cfg, "a photo of dog". It must not name the
// subject.
func ClassPrompt(cfg Config) (string, error) {
	if strings.Contains(cfg.ClassPrompt, TokenPlaceholder) {
		return "", fmt.Errorf("rpo: class prompt template %q must not contain %s", cfg.ClassPrompt, TokenPlaceholder)
	}
	if strings.TrimSpace(cfg.ClassPrompt) == "" {
		return "", fmt.Errorf("rpo: empty class prompt template")
	}
	return fill(cfg.ClassPrompt, cfg.Token, cfg.Class)
}

// EvaluationPrompts returns DreamBench's 25 evaluation prompts for a live subject or an object,
// filled with token and class ("a [V] dog in the jungle", ...).
func EvaluationPrompts(live bool, token, class string) ([]string, error) {
	return fillAll(EvaluationTemplates(live), token, class)
}

// Subject is one of DreamBench's 30 subjects: its folder name in google/dreambooth's dataset, its
// class word, and whether the official RPO code treats it as live.
type Subject struct {
	Name  string
	Class string
	Live  bool
}

// DreamBenchSubjects returns DreamBench's 30 subjects, sorted by name.
func DreamBenchSubjects() []Subject {
	out := make([]Subject, 0, len(prompts.DreamBenchClass))
	for name, class := range prompts.DreamBenchClass {
		out = append(out, Subject{Name: name, Class: class, Live: IsLiveSubject(name)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// IsLiveSubject reports whether the official code treats a DreamBench subject folder as live
// (dog, dog2, dog3, dog5–dog8, cat, cat2), which selects its live training and evaluation prompts.
func IsLiveSubject(name string) bool { return slices.Contains(prompts.LiveSubjects, name) }
