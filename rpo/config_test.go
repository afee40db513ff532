package rpo

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func dogConfig() Config {
	cfg := DefaultConfig()
	cfg.Class, cfg.Live = "dog", true
	return cfg
}

// The defaults are the paper's (Table 4) and the official code's.
func TestDefaultConfig(t *testing.T) {
	cfg := dogConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ got, want any }{
		"lr":           {cfg.LearningRate, 5e-6},
		"β1":           {cfg.Beta1, 0.9},
		"β2":           {cfg.Beta2, 0.999},
		"ε":            {cfg.Epsilon, 1e-8},
		"wd":           {cfg.WeightDecay, 0.01},
		"clip":         {cfg.MaxGradNorm, 1.0},
		"β":            {cfg.Beta, 1.0},
		"steps":        {cfg.Steps, 400},
		"batch":        {cfg.BatchSize, 1},
		"every":        {cfg.ValidateEvery, 40},
		"λ_train":      {cfg.LambdaTrain, 0.0},
		"λ_val":        {cfg.LambdaVal, 0.3},
		"images":       {cfg.ImagesPerPrompt, 4},
		"token":        {cfg.Token, "[V]"},
		"subject":      {cfg.SubjectPrompt, "a photo of {V} {class}"},
		"conditioning": {cfg.Conditioning, ConditionSubjectPrompt},
		"validation":   {cfg.Validation, ValidateTrainingPrompts},
		"objective":    {cfg.Objective, ObjectiveRPO},
		"prior weight": {cfg.PriorLossWeight, 1.0},
		"warm-up":      {cfg.WarmupSteps, 0},
		"LoRA":         {cfg.LoRARank, 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	if !cfg.Objective.EarlyStopping() || !cfg.Objective.Preference() {
		t.Error("RPO must use L_pre and early stopping")
	}
}

// Every bad field is reported, by name, with a reason; errors.As finds each.
func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		field  string
		mutate func(*Config)
	}{
		{"Class", func(c *Config) { c.Class = "" }},
		{"Class", func(c *Config) { c.Class = " dog" }},
		{"Token", func(c *Config) { c.Token = "" }},
		{"Token", func(c *Config) { c.Token = "my dog" }},
		{"SubjectPrompt", func(c *Config) { c.SubjectPrompt = "a photo of a {class}" }},
		{"TrainingTemplates[1]", func(c *Config) { c.TrainingTemplates = []string{"a {V} {class}", "a {class} on the Moon"} }},
		{"ValidationTemplates[0]", func(c *Config) { c.ValidationTemplates = []string{"a {class}"} }},
		{"LambdaVal", func(c *Config) { c.LambdaVal = 1.5 }},
		{"LambdaVal", func(c *Config) { c.LambdaVal = math.NaN() }},
		{"LambdaTrain", func(c *Config) { c.LambdaTrain = -0.1 }},
		{"Steps", func(c *Config) { c.Steps = 0 }},
		{"LearningRate", func(c *Config) { c.LearningRate = 0 }},
		{"LearningRate", func(c *Config) { c.LearningRate = math.Inf(1) }},
		{"WarmupSteps", func(c *Config) { c.WarmupSteps = -1 }},
		{"Beta", func(c *Config) { c.Beta = 0 }},
		{"Beta1", func(c *Config) { c.Beta1 = 1 }},
		{"Beta2", func(c *Config) { c.Beta2 = -0.5 }},
		{"Epsilon", func(c *Config) { c.Epsilon = -1 }},
		{"WeightDecay", func(c *Config) { c.WeightDecay = -0.01 }},
		{"MaxGradNorm", func(c *Config) { c.MaxGradNorm = math.NaN() }},
		{"BatchSize", func(c *Config) { c.BatchSize = 0 }},
		{"ImagesPerPrompt", func(c *Config) { c.ImagesPerPrompt = 0 }},
		{"ValidationImagesPerPrompt", func(c *Config) { c.ValidationImagesPerPrompt = 0 }},
		{"ValidateEvery", func(c *Config) { c.ValidateEvery = 0 }},
		{"ValidateEvery", func(c *Config) { c.ValidateEvery = 500 }},
		{"Patience", func(c *Config) { c.Patience = -2 }},
		{"Conditioning", func(c *Config) { c.Conditioning = "eq8" }},
		{"Validation", func(c *Config) { c.Validation = "test" }},
		{"Objective", func(c *Config) { c.Objective = "dpo" }},
		{"ClassPrompt", func(c *Config) { c.Objective, c.ClassPrompt = ObjectiveDreamBooth, "a photo of {V} {class}" }},
		{"NumClassImages", func(c *Config) { c.Objective, c.NumClassImages = ObjectiveDreamBooth, 0 }},
		{"PriorLossWeight", func(c *Config) { c.PriorLossWeight = -1 }},
		{"LoRARank", func(c *Config) { c.LoRARank = -4 }},
		{"LoRAAlpha", func(c *Config) { c.LoRAAlpha = 8 }},
	} {
		cfg := dogConfig()
		tc.mutate(&cfg)
		err := cfg.Validate()
		if err == nil {
			t.Errorf("%s: bad value accepted", tc.field)
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: error does not wrap ErrInvalidConfig: %v", tc.field, err)
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || fe.Reason == "" {
			t.Errorf("%s: got %v", tc.field, err)
		}
		if !strings.Contains(err.Error(), "Config."+tc.field) {
			t.Errorf("%s: message %q does not name the field", tc.field, err)
		}
	}

	// Several bad fields: all reported.
	cfg := DefaultConfig() // no class
	cfg.Steps, cfg.LambdaVal = -1, 2
	err := cfg.Validate()
	for _, f := range []string{"Class", "Steps", "LambdaVal"} {
		if err == nil || !strings.Contains(err.Error(), "Config."+f) {
			t.Errorf("missing %s in %v", f, err)
		}
	}
}

// Objectives without early stopping may skip validation; LoRA's default α is the rank.
func TestValidateAllows(t *testing.T) {
	cfg := dogConfig()
	cfg.Objective, cfg.ValidateEvery = ObjectiveSim, 0
	cfg.LoRARank = 4
	cfg.Token = "sks"
	cfg.Patience = 3
	cfg.MaxGradNorm = 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.LoRAScale() != 1 {
		t.Errorf("LoRA scale %v, want 1 when α is unset", cfg.LoRAScale())
	}
	cfg.LoRAAlpha = 8
	if cfg.LoRAScale() != 2 {
		t.Errorf("LoRA scale %v, want α/r = 2", cfg.LoRAScale())
	}
}

// The hash is stable across a JSON round trip and changes with any field.
func TestConfigHash(t *testing.T) {
	cfg := dogConfig()
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Hash() != cfg.Hash() {
		t.Error("hash changed across a JSON round trip")
	}
	other := cfg
	other.Seed = 1
	if other.Hash() == cfg.Hash() {
		t.Error("hash ignores the seed")
	}
	if len(cfg.Hash()) != 64 {
		t.Errorf("hash %q", cfg.Hash())
	}
}
