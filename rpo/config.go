package rpo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Objective is what a fine-tune minimises and how it picks its final weights: RPO and the
// comparisons of the paper's ablation (Table 3) and baseline (DreamBooth).
type Objective string

const (
	// ObjectiveRPO is the method: L = L_sim + L_pre, and the weights with the best validation
	// reward are kept (early stopping).
	ObjectiveRPO Objective = "rpo"
	// ObjectiveRPONoEarlyStopping trains on L_sim + L_pre and keeps the last weights.
	ObjectiveRPONoEarlyStopping Objective = "rpo_no_early_stopping"
	// ObjectiveSim is pure L_sim (the denoising loss on the reference photos), last weights kept.
	ObjectiveSim Objective = "sim"
	// ObjectiveSimEarlyStopping is RPO without L_pre: L_sim with early stopping.
	ObjectiveSimEarlyStopping Objective = "sim_early_stopping"
	// ObjectiveDreamBooth is DreamBooth's prior-preservation loss (Ruiz et al., CVPR 2023):
	// L_sim on the reference photo plus PriorLossWeight times the denoising loss on a class image
	// that the base model generated from the class prompt; last weights kept.
	ObjectiveDreamBooth Objective = "dreambooth"
)

// Objectives lists every Objective, RPO first.
func Objectives() []Objective {
	return []Objective{ObjectiveRPO, ObjectiveRPONoEarlyStopping, ObjectiveSim, ObjectiveSimEarlyStopping, ObjectiveDreamBooth}
}

// Preference reports whether the objective has the preference loss L_pre (and so needs the
// frozen base model, generated images, rewards and labels).
func (o Objective) Preference() bool {
	return o == ObjectiveRPO || o == ObjectiveRPONoEarlyStopping
}

// EarlyStopping reports whether the objective keeps the best-rewarded weights rather than the
// last ones.
func (o Objective) EarlyStopping() bool {
	return o == ObjectiveRPO || o == ObjectiveSimEarlyStopping
}

// ClassImages reports whether the objective trains on class images (DreamBooth's prior).
func (o Objective) ClassImages() bool { return o == ObjectiveDreamBooth }

func (o Objective) valid() bool {
	for _, k := range Objectives() {
		if o == k {
			return true
		}
	}
	return false
}

// Conditioning says which prompt each image of a training pair is denoised under.
type Conditioning string

const (
	// ConditionSubjectPrompt is the official code's choice: the reference photo is conditioned on
	// the subject prompt ("a photo of [V] dog") and the generated image on the training prompt it
	// was generated from.
	ConditionSubjectPrompt Conditioning = "subject_prompt"
	// ConditionTrainingPrompt is the paper's Eq. 8: both images are conditioned on the training
	// prompt c_pr of the pair.
	ConditionTrainingPrompt Conditioning = "training_prompt"
)

// ValidationSet says which prompts validation generates images for.
type ValidationSet string

const (
	// ValidateTrainingPrompts validates on the training prompts, as the official code does (its
	// two validation_prompts are defined but unused).
	ValidateTrainingPrompts ValidationSet = "training"
	// ValidateValidationPrompts validates on the official code's two validation prompts
	// ("a [V] dog in a beautiful garden", "a [V] dog at the beach during sunset"), or on
	// Config.ValidationTemplates when set.
	ValidateValidationPrompts ValidationSet = "validation"
)

// Placeholders in prompt templates.
const (
	TokenPlaceholder = "{V}"     // the unique subject token
	ClassPlaceholder = "{class}" // the class word
)

// Config holds every setting of a fine-tune. Start from DefaultConfig, which has the paper's
// values (Table 4) and the official code's behaviour, set Class (and Live), and call Validate.
type Config struct {
	// The subject.

	// Token is the unique identifier that names the subject in prompts: "[V]", as the official
	// RPO code writes its prompts (diffusers' DreamBooth examples use "sks"). No whitespace.
	Token string `json:"token"`
	// Class is the class word ("dog", "backpack", "stuffed animal"). Required.
	Class string `json:"class"`
	// Live selects the training prompts for live subjects (animals: accessories and actions)
	// rather than for objects. The official code treats DreamBench's dogs and cats as live
	// (see IsLiveSubject).
	Live bool `json:"live"`
	// SubjectPrompt is the template of the prompt that describes the reference photos,
	// "a photo of {V} {class}". It must contain {V}.
	SubjectPrompt string `json:"subject_prompt"`
	// ReferencePrompts, when set, gives each reference photo its own prompt template, in the
	// order of the photos (one per photo, each with {V}), in place of SubjectPrompt: a caption
	// that names what the photo shows besides the subject ("a {V} {class} on a sofa"), so that
	// the words, not the token, account for the background. An extension: the paper and the
	// official code pair every photo with the subject prompt.
	ReferencePrompts []string `json:"reference_prompts,omitempty"`
	// TrainingTemplates replaces the paper's 8 training prompt templates when non-empty; each
	// must contain {V}. Empty: the object or live set of the official code, by Live.
	TrainingTemplates []string `json:"training_templates,omitempty"`
	// ValidationTemplates replaces the official code's 2 validation prompt templates (used only
	// when Validation is ValidateValidationPrompts) when non-empty; each must contain {V}.
	ValidationTemplates []string `json:"validation_templates,omitempty"`

	// Data.

	// ImagesPerPrompt is how many images the base model generates for each training prompt
	// (4, so |I_gen| = 32 for 8 prompts).
	ImagesPerPrompt int `json:"images_per_prompt"`
	// Conditioning picks the prompts the reference and generated images are denoised under.
	Conditioning Conditioning `json:"conditioning"`
	// LambdaTrain is the λ of the Harmonic reward that labels preferences (0: ALIGN-T only).
	LambdaTrain float64 `json:"lambda_train"`

	// Objective.

	// Objective is the loss and the weight-selection rule (RPO by default).
	Objective Objective `json:"objective"`
	// Beta scales the preference logit: L_pre = BCE(σ(β·ℓ), y). The paper uses β = 1 (the
	// official code accepts --beta but never multiplies by it, which is the same at 1).
	Beta float64 `json:"beta"`
	// ClassPrompt is DreamBooth's class prompt template, "a photo of {class}"; it must not
	// contain {V}. Used only by ObjectiveDreamBooth.
	ClassPrompt string `json:"class_prompt"`
	// NumClassImages is how many class images DreamBooth generates (diffusers' default, 100).
	NumClassImages int `json:"num_class_images"`
	// PriorLossWeight weights DreamBooth's prior term (1.0).
	PriorLossWeight float64 `json:"prior_loss_weight"`

	// Optimiser: AdamW exactly as torch.optim.AdamW, after torch.nn.utils.clip_grad_norm_.

	LearningRate float64 `json:"learning_rate"` // 5e-6, constant after the warm-up
	// WarmupSteps ramps the learning rate linearly from 0 over this many steps, as diffusers'
	// constant_with_warmup does (0: none; the official code's "constant" schedule has none).
	WarmupSteps int     `json:"warmup_steps"`
	Beta1       float64 `json:"adam_beta1"`   // 0.9
	Beta2       float64 `json:"adam_beta2"`   // 0.999
	Epsilon     float64 `json:"adam_epsilon"` // 1e-8, added outside the square root
	WeightDecay float64 `json:"weight_decay"` // 0.01, decoupled: p ← p − lr·wd·p
	// MaxGradNorm clips the global gradient norm (1.0); 0 disables clipping.
	MaxGradNorm float64 `json:"max_grad_norm"`

	// Schedule.

	Steps     int `json:"steps"`      // optimiser steps (400)
	BatchSize int `json:"batch_size"` // pairs per step (1)
	// ValidateEvery is the number of steps between validations (40); 0 never validates, which
	// only objectives without early stopping allow.
	ValidateEvery int `json:"validate_every"`
	// Validation picks the prompts validated on (the training prompts, as the official code).
	Validation ValidationSet `json:"validation"`
	// ValidationImagesPerPrompt is how many images validation generates per prompt (4).
	ValidationImagesPerPrompt int `json:"validation_images_per_prompt"`
	// LambdaVal is the λ of the Harmonic reward that scores validation images (0.3).
	LambdaVal float64 `json:"lambda_val"`
	// Patience stops training after this many validations in a row without a new best reward;
	// 0 trains for all Steps.
	Patience int `json:"patience"`
	// Seed determines every random draw: generated images, labels, noise and timesteps.
	Seed uint64 `json:"seed"`

	// LoRA.

	// LoRARank is the rank of the adapters on the U-Net's attention projections; 0 fine-tunes the
	// whole U-Net (the paper).
	LoRARank int `json:"lora_rank"`
	// LoRAAlpha scales the adapters by α/r; 0 means α = r (scale 1, as the official SDXL LoRA
	// trainer sets lora_alpha = rank). Must be 0 when LoRARank is 0.
	LoRAAlpha float64 `json:"lora_alpha"`

	// Precision.

	// Precision is the float type the U-Net computes in for the whole run: PrecisionFP32 (the
	// default; "" means the same), PrecisionBF16 or PrecisionFP16. See Precision.
	Precision Precision `json:"precision,omitempty"`
	// GradientCheckpointing recomputes each block of the trained U-Net in the backward pass
	// instead of keeping its activations (diffusers' --gradient_checkpointing; see
	// diffusion.UNet.SetGradientCheckpointing): the same gradients for about one more forward
	// pass of compute, and the memory that makes a 512 px step fit (README, "Stable Diffusion
	// at full size"). It does not change results, so a run may be resumed with it changed.
	GradientCheckpointing bool `json:"gradient_checkpointing,omitempty"`
}

// DefaultConfig returns the paper's settings (Table 4) with the official code's behaviour where
// the paper is silent. Class must still be set.
func DefaultConfig() Config {
	return Config{
		Token:         "[V]",
		SubjectPrompt: "a photo of {V} {class}",

		ImagesPerPrompt: 4,
		Conditioning:    ConditionSubjectPrompt,
		LambdaTrain:     0,

		Objective:       ObjectiveRPO,
		Beta:            1,
		ClassPrompt:     "a photo of {class}",
		NumClassImages:  100,
		PriorLossWeight: 1,

		LearningRate: 5e-6,
		Beta1:        0.9,
		Beta2:        0.999,
		Epsilon:      1e-8,
		WeightDecay:  0.01,
		MaxGradNorm:  1,

		Steps:                     400,
		BatchSize:                 1,
		ValidateEvery:             40,
		Validation:                ValidateTrainingPrompts,
		ValidationImagesPerPrompt: 4,
		LambdaVal:                 0.3,

		Precision: PrecisionFP32,
	}
}

// LoRAScale is α/r, the factor applied to the adapters' output (0 without LoRA).
func (c Config) LoRAScale() float64 {
	if c.LoRARank <= 0 {
		return 0
	}
	if c.LoRAAlpha == 0 {
		return 1
	}
	return c.LoRAAlpha / float64(c.LoRARank)
}

// Hash identifies the configuration: the hex SHA-256 of its JSON encoding. A checkpoint records
// it so that a run is resumed only with the settings it was started with.
func (c Config) Hash() string {
	if c.Precision == PrecisionFP32 {
		// "" and "fp32" are one setting, and runs started before the field existed record "".
		c.Precision = ""
	}
	c.GradientCheckpointing = false // memory against compute; the results are the same
	data, err := json.Marshal(c)
	if err != nil { // only non-finite floats fail, and Validate refuses those
		data = fmt.Appendf(nil, "%#v", c)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
