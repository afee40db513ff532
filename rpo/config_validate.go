package rpo

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
)

// ErrInvalidConfig is wrapped by every error Config.Validate returns.
var ErrInvalidConfig = errors.New("invalid configuration")

// FieldError names the Config field at fault, its value and what was expected. Validate joins
// one per bad field; use errors.As to find them.
type FieldError struct {
	Field  string // the Go field name, e.g. "LambdaVal"
	Value  any
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("rpo: Config.%s = %v: %s", e.Field, quoteString(e.Value), e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) true.
func (e *FieldError) Unwrap() error { return ErrInvalidConfig }

func quoteString(v any) any {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return v
}

// Validate checks every field and returns nil or one error per bad field (errors.Join of
// *FieldError, each wrapping ErrInvalidConfig).
func (c Config) Validate() error {
	var errs []error
	bad := func(field string, value any, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)})
	}

	// Subject and prompts.
	if err := checkToken(c.Token); err != nil {
		bad("Token", c.Token, "%v", err)
	}
	if err := checkClass(c.Class); err != nil {
		bad("Class", c.Class, "%v", err)
	}
	if !strings.Contains(c.SubjectPrompt, TokenPlaceholder) {
		bad("SubjectPrompt", c.SubjectPrompt, "the template must contain the unique token placeholder %s", TokenPlaceholder)
	}
	for i, t := range c.ReferencePrompts {
		if !strings.Contains(t, TokenPlaceholder) {
			bad(fmt.Sprintf("ReferencePrompts[%d]", i), t, "the template must contain the unique token placeholder %s", TokenPlaceholder)
		}
	}
	for i, t := range c.TrainingTemplates {
		if !strings.Contains(t, TokenPlaceholder) {
			bad(fmt.Sprintf("TrainingTemplates[%d]", i), t, "the template must contain the unique token placeholder %s", TokenPlaceholder)
		}
	}
	for i, t := range c.ValidationTemplates {
		if !strings.Contains(t, TokenPlaceholder) {
			bad(fmt.Sprintf("ValidationTemplates[%d]", i), t, "the template must contain the unique token placeholder %s", TokenPlaceholder)
		}
	}

	// Data.
	if c.ImagesPerPrompt < 1 {
		bad("ImagesPerPrompt", c.ImagesPerPrompt, "want at least 1 generated image per training prompt")
	}
	if c.Conditioning != ConditionSubjectPrompt && c.Conditioning != ConditionTrainingPrompt {
		bad("Conditioning", string(c.Conditioning), "want %q or %q", ConditionSubjectPrompt, ConditionTrainingPrompt)
	}
	checkLambda := func(field string, l float64) {
		if math.IsNaN(l) || l < 0 || l > 1 {
			bad(field, l, "the Harmonic reward's λ must be in [0, 1]")
		}
	}
	checkLambda("LambdaTrain", c.LambdaTrain)

	// Objective.
	if !c.Objective.valid() {
		bad("Objective", string(c.Objective), "want one of %q", Objectives())
	}
	if !(c.Beta > 0) || math.IsInf(c.Beta, 0) {
		bad("Beta", c.Beta, "want a finite β > 0 (it scales the preference logit)")
	}
	if c.Objective.ClassImages() {
		if strings.TrimSpace(c.ClassPrompt) == "" {
			bad("ClassPrompt", c.ClassPrompt, "DreamBooth needs a class prompt")
		} else if strings.Contains(c.ClassPrompt, TokenPlaceholder) {
			bad("ClassPrompt", c.ClassPrompt, "the class prompt describes the class prior and must not contain %s", TokenPlaceholder)
		}
		if c.NumClassImages < 1 {
			bad("NumClassImages", c.NumClassImages, "DreamBooth needs at least 1 class image")
		}
	}
	if !(c.PriorLossWeight >= 0) || math.IsInf(c.PriorLossWeight, 0) {
		bad("PriorLossWeight", c.PriorLossWeight, "want a finite weight ≥ 0")
	}

	// Optimiser.
	if !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0) {
		bad("LearningRate", c.LearningRate, "want a finite learning rate > 0")
	}
	if c.WarmupSteps < 0 {
		bad("WarmupSteps", c.WarmupSteps, "want ≥ 0 warm-up steps")
	}
	if !(c.Beta1 >= 0 && c.Beta1 < 1) {
		bad("Beta1", c.Beta1, "AdamW's β₁ must be in [0, 1)")
	}
	if !(c.Beta2 >= 0 && c.Beta2 < 1) {
		bad("Beta2", c.Beta2, "AdamW's β₂ must be in [0, 1)")
	}
	if !(c.Epsilon >= 0) || math.IsInf(c.Epsilon, 0) {
		bad("Epsilon", c.Epsilon, "want a finite ε ≥ 0")
	}
	if !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0) {
		bad("WeightDecay", c.WeightDecay, "want a finite weight decay ≥ 0")
	}
	if !(c.MaxGradNorm >= 0) || math.IsInf(c.MaxGradNorm, 0) {
		bad("MaxGradNorm", c.MaxGradNorm, "want a finite norm ≥ 0 (0 disables clipping)")
	}

	// Schedule.
	if c.Steps < 1 {
		bad("Steps", c.Steps, "want at least 1 training step")
	}
	if c.BatchSize < 1 {
		bad("BatchSize", c.BatchSize, "want at least 1 pair per step")
	}
	switch {
	case c.ValidateEvery < 0:
		bad("ValidateEvery", c.ValidateEvery, "want ≥ 0 steps between validations (0: never)")
	case c.ValidateEvery == 0 && c.Objective.EarlyStopping():
		bad("ValidateEvery", c.ValidateEvery, "objective %q keeps the best validated weights, so it must validate", c.Objective)
	case c.ValidateEvery > c.Steps && c.Steps >= 1 && c.Objective.EarlyStopping():
		bad("ValidateEvery", c.ValidateEvery, "no validation would happen within %d steps, and objective %q needs one", c.Steps, c.Objective)
	}
	if c.Validation != ValidateTrainingPrompts && c.Validation != ValidateValidationPrompts {
		bad("Validation", string(c.Validation), "want %q or %q", ValidateTrainingPrompts, ValidateValidationPrompts)
	}
	if c.ValidationImagesPerPrompt < 1 {
		bad("ValidationImagesPerPrompt", c.ValidationImagesPerPrompt, "want at least 1 image per validation prompt")
	}
	checkLambda("LambdaVal", c.LambdaVal)
	if c.Patience < 0 {
		bad("Patience", c.Patience, "want ≥ 0 validations (0: no early termination)")
	}

	// Precision.
	if _, err := c.Precision.DType(); err != nil {
		bad("Precision", string(c.Precision), "%v", err)
	}

	// LoRA.
	if c.LoRARank < 0 {
		bad("LoRARank", c.LoRARank, "want a rank ≥ 0 (0: full fine-tune)")
	}
	switch {
	case !(c.LoRAAlpha >= 0) || math.IsInf(c.LoRAAlpha, 0):
		bad("LoRAAlpha", c.LoRAAlpha, "want a finite α ≥ 0 (0: α = rank)")
	case c.LoRAAlpha != 0 && c.LoRARank == 0:
		bad("LoRAAlpha", c.LoRAAlpha, "set without LoRA (LoRARank is 0)")
	}
	return errors.Join(errs...)
}

// checkToken: a non-empty single word without braces, so that it survives prompt templates and
// tokenizers intact.
func checkToken(token string) error {
	if token == "" {
		return errors.New("the unique token must not be empty")
	}
	if strings.IndexFunc(token, unicode.IsSpace) >= 0 {
		return errors.New("the unique token must be one word, without whitespace")
	}
	if strings.ContainsAny(token, "{}") {
		return errors.New("the unique token must not contain braces")
	}
	return nil
}

func checkClass(class string) error {
	if strings.TrimSpace(class) == "" {
		return errors.New("the class word must not be empty (e.g. \"dog\")")
	}
	if strings.ContainsAny(class, "{}") {
		return errors.New("the class word must not contain braces")
	}
	if strings.TrimSpace(class) != class {
		return errors.New("the class word must not start or end with whitespace")
	}
	return nil
}
