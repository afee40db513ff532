package diffusion

import (
	"fmt"
	"slices"

	"github.com/gorpo/gorpo/internal/modelfs"
)

// VAEConfig is diffusers' AutoencoderKL configuration, field for field as config.json names it.
// DefaultVAEConfig holds diffusers' defaults; LoadVAE reads config.json over them and Validate
// refuses what this package does not implement, naming the field. Blocks are
// DownEncoderBlock2D and UpDecoderBlock2D (every Stable Diffusion VAE).
//
// ScalingFactor (and ShiftFactor, LatentsMean, LatentsStd where a model sets them) are not
// applied by the VAE: like diffusers, the caller scales latents, z = (sample - shift)·scaling
// before the U-Net and sample = z/scaling + shift before decoding. ForceUpcast is kept and has
// no effect (everything runs in float32).
type VAEConfig struct {
	ClassName        string `json:"_class_name"`
	DiffusersVersion string `json:"_diffusers_version,omitempty"`

	InChannels           int        `json:"in_channels"`
	OutChannels          int        `json:"out_channels"`
	DownBlockTypes       []string   `json:"down_block_types"`
	UpBlockTypes         []string   `json:"up_block_types"`
	BlockOutChannels     []int      `json:"block_out_channels"`
	LayersPerBlock       int        `json:"layers_per_block"`
	ActFn                string     `json:"act_fn"`
	LatentChannels       int        `json:"latent_channels"`
	NormNumGroups        int        `json:"norm_num_groups"`
	SampleSize           *IntOrList `json:"sample_size"`
	ScalingFactor        float64    `json:"scaling_factor"`
	ShiftFactor          *float64   `json:"shift_factor"`
	LatentsMean          []float64  `json:"latents_mean"`
	LatentsStd           []float64  `json:"latents_std"`
	ForceUpcast          bool       `json:"force_upcast"`
	UseQuantConv         bool       `json:"use_quant_conv"`
	UsePostQuantConv     bool       `json:"use_post_quant_conv"`
	MidBlockAddAttention bool       `json:"mid_block_add_attention"`
}

// vaeClassName is the _class_name diffusers writes for the VAE.
const vaeClassName = "AutoencoderKL"

// DefaultVAEConfig returns diffusers' AutoencoderKL defaults: the one place they live.
func DefaultVAEConfig() VAEConfig {
	size := Int(32)
	return VAEConfig{
		ClassName:            vaeClassName,
		InChannels:           3,
		OutChannels:          3,
		DownBlockTypes:       []string{"DownEncoderBlock2D"},
		UpBlockTypes:         []string{"UpDecoderBlock2D"},
		BlockOutChannels:     []int{64},
		LayersPerBlock:       1,
		ActFn:                "silu",
		LatentChannels:       4,
		NormNumGroups:        32,
		SampleSize:           &size,
		ScalingFactor:        0.18215,
		ForceUpcast:          true,
		UseQuantConv:         true,
		UsePostQuantConv:     true,
		MidBlockAddAttention: true,
	}
}

// LoadVAEConfig reads a VAE config.json over DefaultVAEConfig and validates it.
func LoadVAEConfig(path string) (VAEConfig, error) { return loadVAEConfig(modelfs.OS, path) }

func loadVAEConfig(m modelfs.FS, path string) (VAEConfig, error) {
	data, err := m.ReadFile(path)
	if err != nil {
		return VAEConfig{}, fmt.Errorf("vae: %w", err)
	}
	cfg := DefaultVAEConfig()
	if err := decodeConfig(data, path, &cfg); err != nil {
		return VAEConfig{}, fmt.Errorf("vae: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return VAEConfig{}, fmt.Errorf("vae: %s: %w", path, err)
	}
	return cfg, nil
}

// Validate refuses what is inconsistent or not implemented, naming the config field.
func (c *VAEConfig) Validate() error {
	if err := c.checkLimits(); err != nil {
		return err
	}
	n := len(c.BlockOutChannels)
	switch {
	case c.ClassName != "" && c.ClassName != vaeClassName:
		return invalidConfig("_class_name", c.ClassName, "want "+vaeClassName)
	case n == 0:
		return invalidConfig("block_out_channels", c.BlockOutChannels, "empty")
	case len(c.DownBlockTypes) != n:
		return invalidConfig("down_block_types", c.DownBlockTypes, fmt.Sprintf("want %d entries like block_out_channels", n))
	case len(c.UpBlockTypes) != n:
		return invalidConfig("up_block_types", c.UpBlockTypes, fmt.Sprintf("want %d entries like block_out_channels", n))
	case c.InChannels <= 0:
		return invalidConfig("in_channels", c.InChannels, "want > 0")
	case c.OutChannels <= 0:
		return invalidConfig("out_channels", c.OutChannels, "want > 0")
	case c.LatentChannels <= 0:
		return invalidConfig("latent_channels", c.LatentChannels, "want > 0")
	case c.LayersPerBlock <= 0:
		return invalidConfig("layers_per_block", c.LayersPerBlock, "want > 0")
	case c.NormNumGroups <= 0:
		return invalidConfig("norm_num_groups", c.NormNumGroups, "want > 0")
	case !slices.Contains(diffusersActivations, c.ActFn):
		return unsupportedConfig("act_fn", c.ActFn, fmt.Sprintf("want one of %v", diffusersActivations))
	}
	for i, kind := range c.DownBlockTypes {
		if kind != "DownEncoderBlock2D" {
			return unsupportedConfig("down_block_types", c.DownBlockTypes, fmt.Sprintf("block %d: %q; want DownEncoderBlock2D", i, kind))
		}
	}
	for i, kind := range c.UpBlockTypes {
		if kind != "UpDecoderBlock2D" {
			return unsupportedConfig("up_block_types", c.UpBlockTypes, fmt.Sprintf("block %d: %q; want UpDecoderBlock2D", i, kind))
		}
	}
	for i, ch := range c.BlockOutChannels {
		if ch <= 0 || ch%c.NormNumGroups != 0 {
			return invalidConfig("block_out_channels", c.BlockOutChannels,
				fmt.Sprintf("entry %d does not split into norm_num_groups=%d groups", i, c.NormNumGroups))
		}
	}
	return nil
}
