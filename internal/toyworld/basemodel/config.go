package basemodel

import (
	"encoding/json"
	"fmt"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/schedule"
)

// Config is the base model's architecture: the text encoder's config.json (a transformers
// CLIPTextModel), the U-Net's (a diffusers UNet2DConditionModel working on 32×32 RGB pixels)
// and the scheduler's scheduler_config.json.
type Config struct {
	Text      diffusion.TextEncoderConfig
	UNet      diffusion.UNetConfig
	Scheduler schedule.Config
}

// DefaultConfig is the toy world's base model, for a vocabulary of vocabSize tokens:
//
//   - text encoder: CLIP's text transformer, 3 layers, hidden 64, 4 heads, MLP 256, quick_gelu,
//     MaxLength positions (SD 1.x's layout at 1/12 the width and 1/4 the depth);
//   - U-Net: SD's UNet2DConditionModel on pixels (in/out channels 3, sample_size 32), channels
//     32/64/64 at 32×32, 16×16 and 8×8, two ResNet layers per block, cross-attention (4 heads
//     of 16) at 16×16, 8×8 and in the mid block, GroupNorm with 8 groups, cross_attention_dim
//     = the text encoder's 64;
//   - scheduler: DDIM over DDPM's own pixel-space schedule (Ho et al. 2020, CIFAR-10 32×32):
//     1000 steps of linear β from 1e-4 to 0.02, ε-prediction. Linear rather than SD's
//     scaled_linear (0.00085 to 0.012, made for VAE latents): at 32×32 pixels scaled_linear
//     ends at √ᾱ_T ≈ 0.068, so the last training step still shows the picture's mean colour and
//     sampling from pure noise starts off the training distribution, whereas linear ends at
//     √ᾱ_T ≈ 0.006 (almost zero SNR). Samples are clipped to [-1, 1] (clip_sample, as DDPM's
//     pixel models), with trailing timestep spacing so the first sampling step is t = 999.
func DefaultConfig(vocabSize int) Config {
	text := diffusion.TextEncoderConfig{
		ModelType: "clip_text_model", VocabSize: vocabSize, HiddenSize: 64, IntermediateSize: 256,
		ProjectionDim: 64, NumHiddenLayers: 3, NumAttentionHeads: 4, MaxPositionEmbeddings: MaxLength,
		HiddenAct: "quick_gelu", LayerNormEps: 1e-5, PadTokenID: vocabSize - 1, BOSTokenID: vocabSize - 2,
		EOSTokenID: vocabSize - 1,
	}
	u := diffusion.DefaultUNetConfig()
	size := diffusion.Int(toyworld.Size)
	groups := 8
	u.InChannels, u.OutChannels, u.SampleSize = 3, 3, &size
	u.BlockOutChannels = []int{32, 64, 64}
	u.DownBlockTypes = []string{"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}
	u.UpBlockTypes = []string{"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"}
	u.LayersPerBlock = diffusion.Int(2)
	u.NormNumGroups = &groups
	u.CrossAttentionDim = diffusion.Int(text.HiddenSize)
	u.AttentionHeadDim = diffusion.Int(4)
	sched, err := schedule.Defaults(schedule.ClassDDIM)
	if err != nil {
		panic(err) // a class of package schedule's own table
	}
	sched.NumTrainTimesteps = 1000
	sched.BetaStart, sched.BetaEnd, sched.BetaSchedule = 1e-4, 0.02, "linear"
	sched.PredictionType = "epsilon"
	sched.ClipSample, sched.ClipSampleRange = true, 1
	sched.SetAlphaToOne = true
	sched.StepsOffset = 0
	sched.TimestepSpacing = "trailing"
	return Config{Text: text, UNet: u, Scheduler: sched}
}

// schedulerJSON is scheduler_config.json: the DDIM fields of c.Scheduler under diffusers' names.
func (c Config) schedulerJSON() map[string]any {
	s := c.Scheduler
	return map[string]any{
		"_class_name": schedule.ClassDDIM, "_diffusers_version": "0.30.0",
		"num_train_timesteps": s.NumTrainTimesteps, "beta_start": s.BetaStart, "beta_end": s.BetaEnd,
		"beta_schedule": s.BetaSchedule, "trained_betas": nil, "prediction_type": s.PredictionType,
		"clip_sample": s.ClipSample, "clip_sample_range": s.ClipSampleRange, "set_alpha_to_one": s.SetAlphaToOne,
		"steps_offset": s.StepsOffset, "timestep_spacing": s.TimestepSpacing, "thresholding": false,
		"dynamic_thresholding_ratio": 0.995, "sample_max_value": 1.0, "rescale_betas_zero_snr": s.RescaleBetasZeroSNR,
	}
}

// Validate checks the three configs and that they fit together.
func (c Config) Validate() error {
	if err := c.Text.Validate(); err != nil {
		return fmt.Errorf("basemodel: text encoder: %w", err)
	}
	if err := c.UNet.Validate(); err != nil {
		return fmt.Errorf("basemodel: unet: %w", err)
	}
	if c.UNet.CrossAttentionDim.IsList() || c.UNet.CrossAttentionDim.Value != c.Text.HiddenSize {
		return fmt.Errorf("basemodel: unet cross_attention_dim %v, want the text encoder's hidden_size %d", c.UNet.CrossAttentionDim, c.Text.HiddenSize)
	}
	if c.UNet.InChannels != 3 || c.UNet.OutChannels != 3 {
		return fmt.Errorf("basemodel: unet in/out channels %d/%d, want 3/3 (pixel space)", c.UNet.InChannels, c.UNet.OutChannels)
	}
	if c.Text.MaxPositionEmbeddings < MaxLength {
		return fmt.Errorf("basemodel: text encoder max_position_embeddings %d, want ≥ %d", c.Text.MaxPositionEmbeddings, MaxLength)
	}
	if c.Scheduler.PredictionType != "epsilon" {
		return fmt.Errorf("basemodel: scheduler prediction_type %q, want epsilon", c.Scheduler.PredictionType)
	}
	if _, err := schedule.NewSchedule(c.Scheduler); err != nil {
		return fmt.Errorf("basemodel: scheduler: %w", err)
	}
	return nil
}

// textConfigJSON is the text encoder's config.json as transformers writes a CLIPTextModel's.
func (c Config) textConfigJSON() (map[string]any, error) {
	data, err := json.Marshal(c.Text)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	m["architectures"] = []string{"CLIPTextModel"}
	m["torch_dtype"] = "float32"
	m["attention_dropout"] = 0.0
	m["dropout"] = 0.0
	m["initializer_factor"] = 1.0
	m["initializer_range"] = 0.02
	return m, nil
}

// modelIndex is the folder's model_index.json: Stable Diffusion's pipeline without a VAE
// (pixel space), safety checker or feature extractor.
func modelIndex() map[string]any {
	return map[string]any{
		"_class_name":             "StableDiffusionPipeline",
		"_diffusers_version":      "0.30.0",
		"unet":                    []any{"diffusers", "UNet2DConditionModel"},
		"text_encoder":            []any{"transformers", "CLIPTextModel"},
		"tokenizer":               []any{"transformers", "CLIPTokenizer"},
		"scheduler":               []any{"diffusers", schedule.ClassDDIM},
		"vae":                     []any{nil, nil},
		"safety_checker":          []any{nil, nil},
		"feature_extractor":       []any{nil, nil},
		"requires_safety_checker": false,
	}
}
