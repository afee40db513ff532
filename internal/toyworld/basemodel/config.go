package basemodel

import (
	"encoding/json"
	"fmt"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/schedule"
)

// Config is the base model's architecture: the text encoder's config.json (a transformers
// CLIPTextModel), the U-Net's (a diffusers UNet2DConditionModel working on 32×32 RGB pixels
// folded PixelUnshuffle×PixelUnshuffle into channels) and the scheduler's
// scheduler_config.json.
type Config struct {
	Text      diffusion.TextEncoderConfig
	UNet      diffusion.UNetConfig
	Scheduler schedule.Config
	// PixelUnshuffle is the pipeline's pixel folding (diffusion.Pipeline.PixelUnshuffle):
	// the U-Net sees [3·r², 32/r, 32/r]; 1: plain pixels.
	PixelUnshuffle int
}

// DefaultConfig is the toy world's base model, for a vocabulary of vocabSize tokens, sized for
// training on two CPU cores in about an hour (PLAN.md has the measurements that chose it):
//
//   - text encoder: CLIP's text transformer, 3 layers, hidden 64, 4 heads, MLP 256, quick_gelu,
//     MaxLength positions (SD 1.x's layout at 1/12 the width and 1/4 the depth);
//   - U-Net: SD's UNet2DConditionModel in pixel space on 32×32 renders folded 2×2 into 12
//     channels (pixel_unshuffle 2, so it works at 16×16), channels 32/64/64 at 16×16, 8×8 and
//     4×4, one ResNet layer per block, cross-attention (4 heads) only at 4×4 and in the mid
//     block, GroupNorm with 8 groups, cross_attention_dim = the text encoder's 64. Folding and
//     attending only at 4×4 make a training step about 6× cheaper than channels 32/64/64 on
//     plain 32×32 pixels with attention at 16×16 and 8×8 (25 against 150 ms an image), at the
//     same parameter count order;
//   - scheduler: DDIM over DDPM's own pixel-space schedule (Ho et al. 2020, CIFAR-10 32×32):
//     1000 steps of linear β from 1e-4 to 0.02, v-prediction. Linear rather than SD's
//     scaled_linear (0.00085 to 0.012, made for VAE latents): at 32×32 pixels scaled_linear
//     ends at √ᾱ_T ≈ 0.068, so the last training step still shows the picture's mean colour and
//     sampling from pure noise starts off the training distribution, whereas linear ends at
//     √ᾱ_T ≈ 0.006 (almost zero SNR). v rather than ε: at high noise ε-prediction divides its
//     error by √ᾱ_t (≈ 1/25 at t = 800) when it estimates the image, so a short training run
//     leaves the first sampling steps guessing; v stays well-scaled at every level (Salimans &
//     Ho 2022). Samples are clipped to [-1, 1] (clip_sample, as DDPM's pixel models), with
//     trailing timestep spacing so the first sampling step is t = 999.
func DefaultConfig(vocabSize int) Config {
	text := diffusion.TextEncoderConfig{
		ModelType: "clip_text_model", VocabSize: vocabSize, HiddenSize: 64, IntermediateSize: 256,
		ProjectionDim: 64, NumHiddenLayers: 3, NumAttentionHeads: 4, MaxPositionEmbeddings: MaxLength,
		HiddenAct: "quick_gelu", LayerNormEps: 1e-5, PadTokenID: vocabSize - 1, BOSTokenID: vocabSize - 2,
		EOSTokenID: vocabSize - 1,
	}
	const fold = 2
	u := diffusion.DefaultUNetConfig()
	size := diffusion.Int(toyworld.Size / fold)
	groups := 8
	u.InChannels, u.OutChannels, u.SampleSize = 3*fold*fold, 3*fold*fold, &size
	u.BlockOutChannels = []int{32, 64, 64}
	u.DownBlockTypes = []string{"DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"}
	u.UpBlockTypes = []string{"CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"}
	u.LayersPerBlock = diffusion.Int(1)
	u.NormNumGroups = &groups
	u.CrossAttentionDim = diffusion.Int(text.HiddenSize)
	u.AttentionHeadDim = diffusion.Int(4)
	sched, err := schedule.Defaults(schedule.ClassDDIM)
	if err != nil {
		panic(err) // a class of package schedule's own table
	}
	sched.NumTrainTimesteps = 1000
	sched.BetaStart, sched.BetaEnd, sched.BetaSchedule = 1e-4, 0.02, "linear"
	sched.PredictionType = "v_prediction"
	sched.ClipSample, sched.ClipSampleRange = true, 1
	sched.SetAlphaToOne = true
	sched.StepsOffset = 0
	sched.TimestepSpacing = "trailing"
	return Config{Text: text, UNet: u, Scheduler: sched, PixelUnshuffle: fold}
}

// fold is the pixel-unshuffle factor, 1 when pixels are not folded.
func (c Config) fold() int { return max(c.PixelUnshuffle, 1) }

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
	if c.PixelUnshuffle < 0 || toyworld.Size%c.fold() != 0 {
		return fmt.Errorf("basemodel: pixel_unshuffle %d, want a divisor of %d", c.PixelUnshuffle, toyworld.Size)
	}
	if ch := 3 * c.fold() * c.fold(); c.UNet.InChannels != ch || c.UNet.OutChannels != ch {
		return fmt.Errorf("basemodel: unet in/out channels %d/%d, want %d/%d (pixels folded %d×%d)",
			c.UNet.InChannels, c.UNet.OutChannels, ch, ch, c.fold(), c.fold())
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

// modelIndex is the folder's model_index.json: Stable Diffusion's pipeline without a VAE
// (pixel space), safety checker or feature extractor, and with the pixel folding when there is
// one.
func (c Config) modelIndex() map[string]any {
	m := map[string]any{
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
	if c.fold() > 1 {
		m["pixel_unshuffle"] = c.fold()
	}
	return m
}
