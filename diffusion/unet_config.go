package diffusion

import (
	"errors"
	"fmt"

	"github.com/gorpo/gorpo/internal/modelfs"
)

// ErrUnsupportedConfig is wrapped by the errors that refuse a config.json value this package does
// not implement (or a key it does not know).
var ErrUnsupportedConfig = errors.New("unsupported configuration")

// UNetConfig is diffusers' UNet2DConditionModel configuration, field for field as config.json
// names it. DefaultUNetConfig holds diffusers' defaults (Stable Diffusion 1.x sizes); LoadUNet
// reads config.json over them, so absent keys keep their defaults, and Validate refuses what this
// package does not implement, naming the field.
//
// The block types implemented are CrossAttnDownBlock2D and DownBlock2D, UNetMidBlock2DCrossAttn,
// UNetMidBlock2D and none (mid_block_type null), UpBlock2D and CrossAttnUpBlock2D: every SD 1.x
// and 2.x U-Net. Fields that diffusers reads only for block types outside that set
// (resnet_skip_time_act, resnet_out_scale_factor, cross_attention_norm,
// mid_block_only_cross_attention) are kept, written back, and have no effect, exactly as in
// diffusers. Of the additional embeddings, addition_embed_type "text" is implemented
// (TextTimeEmbedding: the prompt's hidden states pooled into the time embedding, with
// addition_embed_type_num_heads heads), which plain Stable Diffusion pipelines drive unchanged. upcast_attention only matters in half precision (the
// attention computes its scores and softmax in float32 whatever the weights' dtype), and
// sample_size only informs pipelines.
//
// attention_head_dim is read as diffusers reads it: since num_attention_heads must be null, it is
// the number of heads of each cross-attention block (one int for all, or one per block, as SD 2.x
// gives [5, 10, 20, 20]), each head block_out_channels[i] / heads wide.
type UNetConfig struct {
	ClassName        string `json:"_class_name"`
	DiffusersVersion string `json:"_diffusers_version,omitempty"`

	SampleSize        *IntOrList `json:"sample_size"`
	InChannels        int        `json:"in_channels"`
	OutChannels       int        `json:"out_channels"`
	CenterInputSample bool       `json:"center_input_sample"`
	FlipSinToCos      bool       `json:"flip_sin_to_cos"`
	FreqShift         float64    `json:"freq_shift"`

	DownBlockTypes                    []string    `json:"down_block_types"`
	MidBlockType                      *string     `json:"mid_block_type"`
	UpBlockTypes                      []string    `json:"up_block_types"`
	OnlyCrossAttention                BoolOrList  `json:"only_cross_attention"`
	BlockOutChannels                  []int       `json:"block_out_channels"`
	LayersPerBlock                    IntOrList   `json:"layers_per_block"`
	DownsamplePadding                 int         `json:"downsample_padding"`
	MidBlockScaleFactor               float64     `json:"mid_block_scale_factor"`
	Dropout                           float64     `json:"dropout"`
	ActFn                             string      `json:"act_fn"`
	NormNumGroups                     *int        `json:"norm_num_groups"`
	NormEps                           float64     `json:"norm_eps"`
	CrossAttentionDim                 IntOrList   `json:"cross_attention_dim"`
	TransformerLayersPerBlock         NestedInts  `json:"transformer_layers_per_block"`
	ReverseTransformerLayersPerBlock  *NestedInts `json:"reverse_transformer_layers_per_block"`
	EncoderHidDim                     *int        `json:"encoder_hid_dim"`
	EncoderHidDimType                 *string     `json:"encoder_hid_dim_type"`
	AttentionHeadDim                  IntOrList   `json:"attention_head_dim"`
	NumAttentionHeads                 *IntOrList  `json:"num_attention_heads"`
	DualCrossAttention                bool        `json:"dual_cross_attention"`
	UseLinearProjection               bool        `json:"use_linear_projection"`
	ClassEmbedType                    *string     `json:"class_embed_type"`
	AdditionEmbedType                 *string     `json:"addition_embed_type"`
	AdditionTimeEmbedDim              *int        `json:"addition_time_embed_dim"`
	NumClassEmbeds                    *int        `json:"num_class_embeds"`
	UpcastAttention                   bool        `json:"upcast_attention"`
	ResnetTimeScaleShift              string      `json:"resnet_time_scale_shift"`
	ResnetSkipTimeAct                 bool        `json:"resnet_skip_time_act"`
	ResnetOutScaleFactor              float64     `json:"resnet_out_scale_factor"`
	TimeEmbeddingType                 string      `json:"time_embedding_type"`
	TimeEmbeddingDim                  *int        `json:"time_embedding_dim"`
	TimeEmbeddingActFn                *string     `json:"time_embedding_act_fn"`
	TimestepPostAct                   *string     `json:"timestep_post_act"`
	TimeCondProjDim                   *int        `json:"time_cond_proj_dim"`
	ConvInKernel                      int         `json:"conv_in_kernel"`
	ConvOutKernel                     int         `json:"conv_out_kernel"`
	ProjectionClassEmbeddingsInputDim *int        `json:"projection_class_embeddings_input_dim"`
	AttentionType                     string      `json:"attention_type"`
	ClassEmbeddingsConcat             bool        `json:"class_embeddings_concat"`
	MidBlockOnlyCrossAttention        *bool       `json:"mid_block_only_cross_attention"`
	CrossAttentionNorm                *string     `json:"cross_attention_norm"`
	AdditionEmbedTypeNumHeads         int         `json:"addition_embed_type_num_heads"`
}

// unetClassName is the _class_name diffusers writes for the U-Net.
const unetClassName = "UNet2DConditionModel"

// DefaultUNetConfig returns diffusers' UNet2DConditionModel defaults: the one place they live.
func DefaultUNetConfig() UNetConfig {
	mid := "UNetMidBlock2DCrossAttn"
	groups := 32
	return UNetConfig{
		ClassName:    unetClassName,
		InChannels:   4,
		OutChannels:  4,
		FlipSinToCos: true,
		DownBlockTypes: []string{"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
			"DownBlock2D"},
		MidBlockType:              &mid,
		UpBlockTypes:              []string{"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"},
		BlockOutChannels:          []int{320, 640, 1280, 1280},
		LayersPerBlock:            Int(2),
		DownsamplePadding:         1,
		MidBlockScaleFactor:       1,
		ActFn:                     "silu",
		NormNumGroups:             &groups,
		NormEps:                   1e-5,
		CrossAttentionDim:         Int(1280),
		TransformerLayersPerBlock: NestedInts{Value: 1},
		AttentionHeadDim:          Int(8),
		ResnetTimeScaleShift:      "default",
		ResnetOutScaleFactor:      1,
		TimeEmbeddingType:         "positional",
		ConvInKernel:              3,
		ConvOutKernel:             3,
		AttentionType:             "default",
		AdditionEmbedTypeNumHeads: 64,
	}
}

// LoadUNetConfig reads a U-Net config.json over DefaultUNetConfig and validates it.
func LoadUNetConfig(path string) (UNetConfig, error) { return loadUNetConfig(modelfs.OS, path) }

func loadUNetConfig(m modelfs.FS, path string) (UNetConfig, error) {
	data, err := m.ReadFile(path)
	if err != nil {
		return UNetConfig{}, fmt.Errorf("unet: %w", err)
	}
	cfg := DefaultUNetConfig()
	if err := decodeConfig(data, path, &cfg); err != nil {
		return UNetConfig{}, fmt.Errorf("unet: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return UNetConfig{}, fmt.Errorf("unet: %s: %w", path, err)
	}
	return cfg, nil
}

// unsupportedConfig is the error for a config value this package does not implement.
func unsupportedConfig(field string, value any, why string) error {
	return fmt.Errorf("%s = %v: %s: %w", field, value, why, ErrUnsupportedConfig)
}

// invalidConfig is the error for an inconsistent config value (one diffusers rejects too).
func invalidConfig(field string, value any, why string) error {
	return fmt.Errorf("%s = %v: %s", field, value, why)
}

// diffusersActivations are diffusers' get_activation names that act implements.
var diffusersActivations = []string{"silu", "swish", "gelu", "relu", "mish"}

// Validate refuses what is inconsistent or not implemented, and values beyond the limits
// (MaxSampleSize, MaxChannels, ...), naming the config field.
func (c *UNetConfig) Validate() error {
	if err := c.checkLimits(); err != nil {
		return err
	}
	_, err := c.plan()
	return err
}
