package basemodel

import (
	"encoding/json"
	"fmt"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/schedule"
)

// Config is the base model's architecture: the text encoder's config.json (a transformers
// CLIPTextModel), the U-Net's (a diffusers UNet2DConditionModel working on the toy autoencoder's
// latents) and the scheduler's scheduler_config.json. The autoencoder (vae/) is trained
// beforehand (package autoencoder) and frozen; New takes it.
type Config struct {
	Text      diffusion.TextEncoderConfig
	UNet      diffusion.UNetConfig
	Scheduler schedule.Config
}

// DefaultConfig is the toy world's base model, for a vocabulary of vocabSize tokens, on the
// latents of a VAE of configuration vae (the toy autoencoder's: 16×16×4 for 32×32 renders), a
// miniature Stable Diffusion (PLAN.md has the measurements that chose it):
//
//   - text encoder: CLIP's text transformer, 3 layers, hidden 64, 4 heads, MLP 256, quick_gelu,
//     MaxLength positions (SD 1.x's layout at 1/12 the width and 1/4 the depth);
//   - U-Net: SD's UNet2DConditionModel on the latents, channels 32/64/64 at 16×16, 8×8 and 4×4,
//     one ResNet layer per block, cross-attention (4 heads) at 8×8, 4×4 and in the mid block,
//     GroupNorm with 8 groups, cross_attention_dim = the text encoder's 64, and
//     addition_embed_type "text": the prompt attention-pooled into the time embedding, so that
//     every ResNet, the 16×16 ones included, knows the class and colour it is drawing;
//   - scheduler: DDIM over DDPM's linear β schedule (1e-4 to 0.02, 1000 steps), v-prediction,
//     trailing timestep spacing, no clipping (latents are not bounded). Linear rather than SD's
//     scaled_linear: on the toy latents, scaled to unit variance, scaled_linear ends at
//     √ᾱ_T ≈ 0.068, so the last training step still shows the picture's mean and sampling from
//     pure noise starts off the training distribution, whereas linear ends at √ᾱ_T ≈ 0.006.
//     v rather than ε: at high noise an ε-model's estimate of x0 divides its error by √ᾱ_t
//     (≈ 1/25 at t = 800), so a short training run leaves the first sampling steps guessing; v
//     stays well-scaled at every level (Salimans & Ho 2022).
func DefaultConfig(vocabSize int, vae diffusion.VAEConfig) Config {
	text := diffusion.TextEncoderConfig{
		ModelType: "clip_text_model", VocabSize: vocabSize, HiddenSize: 64, IntermediateSize: 256,
		ProjectionDim: 64, NumHiddenLayers: 3, NumAttentionHeads: 4, MaxPositionEmbeddings: MaxLength,
		HiddenAct: "quick_gelu", LayerNormEps: 1e-5, PadTokenID: vocabSize - 1, BOSTokenID: vocabSize - 2,
		EOSTokenID: vocabSize - 1,
	}
	u := diffusion.DefaultUNetConfig()
	size := diffusion.Int(latentSide(vae))
	groups := 8
	u.InChannels, u.OutChannels, u.SampleSize = vae.LatentChannels, vae.LatentChannels, &size
	u.BlockOutChannels = []int{32, 64, 64}
	u.DownBlockTypes = []string{"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}
	u.UpBlockTypes = []string{"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"}
	u.LayersPerBlock = diffusion.Int(1)
	u.NormNumGroups = &groups
	u.CrossAttentionDim = diffusion.Int(text.HiddenSize)
	u.AttentionHeadDim = diffusion.Int(4)
	textEmbed := "text"
	u.AdditionEmbedType = &textEmbed
	u.AdditionEmbedTypeNumHeads = 4
	sched, err := schedule.Defaults(schedule.ClassDDIM)
	if err != nil {
		panic(err) // a class of package schedule's own table
	}
	sched.NumTrainTimesteps = 1000
	sched.BetaStart, sched.BetaEnd, sched.BetaSchedule = 1e-4, 0.02, "linear"
	sched.PredictionType = "v_prediction"
	sched.ClipSample = false
	sched.SetAlphaToOne = true
	sched.StepsOffset = 0
	sched.TimestepSpacing = "trailing"
	return Config{Text: text, UNet: u, Scheduler: sched}
}

// latentSide is the side of a 32×32 render's latents under vae: 32 / 2^(blocks-1).
func latentSide(vae diffusion.VAEConfig) int {
	return toyworld.Size >> max(0, len(vae.BlockOutChannels)-1)
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

// Validate checks the three configs and that they fit together and with vae's latents.
func (c Config) Validate(vae diffusion.VAEConfig) error {
	if err := c.Text.Validate(); err != nil {
		return fmt.Errorf("basemodel: text encoder: %w", err)
	}
	if err := c.UNet.Validate(); err != nil {
		return fmt.Errorf("basemodel: unet: %w", err)
	}
	if c.UNet.CrossAttentionDim.IsList() || c.UNet.CrossAttentionDim.Value != c.Text.HiddenSize {
		return fmt.Errorf("basemodel: unet cross_attention_dim %v, want the text encoder's hidden_size %d", c.UNet.CrossAttentionDim, c.Text.HiddenSize)
	}
	if ch := vae.LatentChannels; c.UNet.InChannels != ch || c.UNet.OutChannels != ch {
		return fmt.Errorf("basemodel: unet in/out channels %d/%d, want the VAE's latent_channels %d", c.UNet.InChannels, c.UNet.OutChannels, ch)
	}
	if c.Text.MaxPositionEmbeddings < MaxLength {
		return fmt.Errorf("basemodel: text encoder max_position_embeddings %d, want ≥ %d", c.Text.MaxPositionEmbeddings, MaxLength)
	}
	if p := c.Scheduler.PredictionType; p != "epsilon" && p != "v_prediction" {
		return fmt.Errorf("basemodel: scheduler prediction_type %q, want epsilon or v_prediction", p)
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

// modelIndex is the folder's model_index.json: Stable Diffusion's pipeline without a safety
// checker or feature extractor.
func (c Config) modelIndex() map[string]any {
	return map[string]any{
		"_class_name":             "StableDiffusionPipeline",
		"_diffusers_version":      "0.30.0",
		"vae":                     []any{"diffusers", "AutoencoderKL"},
		"unet":                    []any{"diffusers", "UNet2DConditionModel"},
		"text_encoder":            []any{"transformers", "CLIPTextModel"},
		"tokenizer":               []any{"transformers", "CLIPTokenizer"},
		"scheduler":               []any{"diffusers", schedule.ClassDDIM},
		"safety_checker":          []any{nil, nil},
		"feature_extractor":       []any{nil, nil},
		"requires_safety_checker": false,
	}
}
