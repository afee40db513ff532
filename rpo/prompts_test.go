package rpo

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/preference"
)

// The embedded prompts.json is the shared file, verbatim, when the checkout has it.
func TestPromptsJSONIsTheSharedCopy(t *testing.T) {
	shared, err := os.ReadFile("../../shared/prompts.json")
	if err != nil {
		t.Skipf("no shared prompts.json beside the repository: %v", err)
	}
	if !bytes.Equal(shared, promptsJSON) {
		t.Error("rpo/prompts.json differs from shared/prompts.json")
	}
}

func TestTrainingPrompts(t *testing.T) {
	cfg := dogConfig()
	live, err := TrainingPrompts(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 8 || live[0] != "a [V] dog wearing a green outfit" || live[6] != "a [V] dog on the Moon" {
		t.Errorf("live prompts %q", live)
	}
	cfg.Live, cfg.Class, cfg.Token = false, "backpack", "sks"
	obj, err := TrainingPrompts(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(obj) != 8 || obj[0] != "a sks backpack in Vincent Van Gogh rendition" || obj[4] != "a sks backpack on top of wooden roof" {
		t.Errorf("object prompts %q", obj)
	}
	for _, p := range append(live, obj...) {
		if strings.Contains(p, "{") {
			t.Errorf("unfilled placeholder in %q", p)
		}
	}

	cfg.TrainingTemplates = []string{"a {V} {class} on a red table"}
	custom, err := TrainingPrompts(cfg)
	if err != nil || len(custom) != 1 || custom[0] != "a sks backpack on a red table" {
		t.Errorf("custom prompts %q, %v", custom, err)
	}
	cfg.TrainingTemplates = []string{"a {class} on a red table"}
	if _, err := TrainingPrompts(cfg); err == nil {
		t.Error("a training template without {V} was accepted")
	}
	cfg.TrainingTemplates, cfg.Class = nil, ""
	if _, err := TrainingPrompts(cfg); err == nil {
		t.Error("an empty class word was accepted")
	}
}

// Validation defaults to the training prompts (the official code); the other set is the official
// two validation prompts.
func TestValidationPrompts(t *testing.T) {
	cfg := dogConfig()
	train, _ := TrainingPrompts(cfg)
	val, err := ValidationPrompts(cfg)
	if err != nil || strings.Join(val, "|") != strings.Join(train, "|") {
		t.Errorf("default validation prompts %q, %v; want the training prompts", val, err)
	}
	cfg.Validation = ValidateValidationPrompts
	val, err = ValidationPrompts(cfg)
	if err != nil || len(val) != 2 || val[0] != "a [V] dog in a beautiful garden" || val[1] != "a [V] dog at the beach during sunset" {
		t.Errorf("validation set %q, %v", val, err)
	}
	cfg.Validation = "none"
	if _, err := ValidationPrompts(cfg); err == nil {
		t.Error("unknown validation set accepted")
	}
}

func TestSubjectAndClassPrompts(t *testing.T) {
	cfg := dogConfig()
	if p, err := SubjectPrompt(cfg); err != nil || p != "a photo of [V] dog" {
		t.Errorf("subject prompt %q, %v", p, err)
	}
	if p, err := ClassPrompt(cfg); err != nil || p != "a photo of dog" {
		t.Errorf("class prompt %q, %v", p, err)
	}
	cfg.SubjectPrompt = "a photo of a dog"
	if _, err := SubjectPrompt(cfg); err == nil {
		t.Error("a subject prompt without {V} was accepted")
	}
	cfg.ClassPrompt = "a photo of {V} {class}"
	if _, err := ClassPrompt(cfg); err == nil {
		t.Error("a class prompt naming the subject was accepted")
	}
}

func TestEvaluationPromptsAndSubjects(t *testing.T) {
	live, err := EvaluationPrompts(true, "[V]", "cat")
	if err != nil || len(live) != 25 || live[10] != "a [V] cat wearing a red hat" {
		t.Errorf("live evaluation prompts %q, %v", live, err)
	}
	obj, err := EvaluationPrompts(false, "[V]", "teapot")
	if err != nil || len(obj) != 25 || obj[24] != "a cube shaped [V] teapot" {
		t.Errorf("object evaluation prompts %q, %v", obj, err)
	}
	if _, err := EvaluationPrompts(true, "", "cat"); err == nil {
		t.Error("an empty token was accepted")
	}

	subjects := DreamBenchSubjects()
	if len(subjects) != 30 {
		t.Fatalf("%d subjects, want 30", len(subjects))
	}
	nLive := 0
	for _, s := range subjects {
		if s.Live {
			nLive++
			if s.Class != "dog" && s.Class != "cat" {
				t.Errorf("live subject %+v", s)
			}
		}
		if s.Name == "bear_plushie" && s.Class != "stuffed animal" {
			t.Errorf("bear_plushie: %+v", s)
		}
	}
	if nLive != 9 {
		t.Errorf("%d live subjects, want 9", nLive)
	}
	if !IsLiveSubject("dog8") || IsLiveSubject("backpack_dog") {
		t.Error("IsLiveSubject disagrees with the official list")
	}
}

func TestFillPrompt(t *testing.T) {
	if p, err := FillPrompt("a {V} {class}", "[V]", "stuffed animal"); err != nil || p != "a [V] stuffed animal" {
		t.Errorf("%q, %v", p, err)
	}
	if _, err := FillPrompt("a {class}", "[V]", "dog"); err == nil || !strings.Contains(err.Error(), "{V}") {
		t.Errorf("missing token: %v", err)
	}
}

// With ReferencePrompts each photo is denoised under its own caption, in every objective; without,
// under the subject prompt. A count that does not match the photos is an error.
func TestReferencePrompts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Class = "dog"
	got, err := ReferencePrompts(cfg, 2)
	if err != nil || !slices.Equal(got, []string{"a photo of [V] dog", "a photo of [V] dog"}) {
		t.Fatalf("without ReferencePrompts: %q, %v", got, err)
	}
	cfg.ReferencePrompts = []string{"a {V} {class} on a sofa", "a {V} {class} on a bed"}
	want := []string{"a [V] dog on a sofa", "a [V] dog on a bed"}
	if got, err = ReferencePrompts(cfg, 2); err != nil || !slices.Equal(got, want) {
		t.Fatalf("ReferencePrompts: %q, %v; want %q", got, err, want)
	}
	if _, err := ReferencePrompts(cfg, 3); err == nil || !strings.Contains(err.Error(), "2 reference prompts for 3 reference photos") {
		t.Errorf("3 photos, 2 prompts: %v", err)
	}
	bad := cfg
	bad.ReferencePrompts = []string{"a dog on a sofa", "a {V} dog"}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "ReferencePrompts[0]") {
		t.Errorf("a template without {V}: %v", err)
	}

	training := []string{"a [V] dog on the moon", "a [V] dog in the snow"}
	pairs := []preference.Pair{
		{Reference: 0, Generated: 0, Prompt: training[0], RewardReference: 0.5, RewardGenerated: 0.4},
		{Reference: 1, Generated: 1, Prompt: training[1], RewardReference: 0.2, RewardGenerated: 0.1},
	}
	for _, obj := range []Objective{ObjectiveRPO, ObjectiveSim, ObjectiveDreamBooth} {
		c := cfg
		c.Objective, c.BatchSize = obj, 2
		p := newPlan(c, pairs, want, "a photo of dog", training, 3)
		for step := 1; step <= 4; step++ {
			vs, err := p.step(step)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				if v.refPrompt != want[v.ref] {
					t.Errorf("%s: reference %d under %q, want %q", obj, v.ref, v.refPrompt, want[v.ref])
				}
			}
		}
	}
}
