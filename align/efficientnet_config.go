package align

import (
	"fmt"
	"math"
	"slices"

	"github.com/gorpo/gorpo/internal/nn"
)

// AlignVisionConfig is transformers' AlignVisionConfig, the "vision_config" of an ALIGN
// config.json: an EfficientNet whose stages are scaled by width_coefficient (channels, see
// RoundFilters) and depth_coefficient (blocks per stage, see RoundRepeats). Field names are the
// upstream JSON names; the defaults (NewAlignVisionConfig) are transformers', EfficientNet-B7
// scaling as in kakaobrain/align-base.
type AlignVisionConfig struct {
	NumChannels      int     `json:"num_channels"`
	ImageSize        int     `json:"image_size"`
	WidthCoefficient float64 `json:"width_coefficient"`
	DepthCoefficient float64 `json:"depth_coefficient"`
	DepthDivisor     int     `json:"depth_divisor"`

	// Per stage (all of one length): depthwise kernel size, input and output channels before
	// scaling, stride of the stage's first block, blocks before scaling, expansion ratio.
	KernelSizes     []int `json:"kernel_sizes"`
	InChannels      []int `json:"in_channels"`
	OutChannels     []int `json:"out_channels"`
	Strides         []int `json:"strides"`
	NumBlockRepeats []int `json:"num_block_repeats"`
	ExpandRatios    []int `json:"expand_ratios"`

	// DepthwisePadding lists the (global) block indices whose stride-2 depthwise convolution pads
	// symmetrically; the others pad one less row and column at the top and left.
	DepthwisePadding []int `json:"depthwise_padding"`

	SqueezeExpansionRatio float64 `json:"squeeze_expansion_ratio"`
	HiddenAct             string  `json:"hidden_act"`

	// HiddenDim is the window of the final pooling (nn.AvgPool2d(hidden_dim, ceil_mode=True)):
	// a global pooling as long as the last feature map is no larger than it.
	HiddenDim   int    `json:"hidden_dim"`
	PoolingType string `json:"pooling_type"`

	BatchNormEps float64 `json:"batch_norm_eps"`

	// Training-only settings, read and ignored: inference uses the running statistics and no
	// dropout.
	BatchNormMomentum float64 `json:"batch_norm_momentum"`
	DropConnectRate   float64 `json:"drop_connect_rate"`
}

// NewAlignVisionConfig returns transformers' defaults.
func NewAlignVisionConfig() *AlignVisionConfig {
	return &AlignVisionConfig{
		NumChannels:           3,
		ImageSize:             600,
		WidthCoefficient:      2.0,
		DepthCoefficient:      3.1,
		DepthDivisor:          8,
		KernelSizes:           []int{3, 3, 5, 3, 5, 5, 3},
		InChannels:            []int{32, 16, 24, 40, 80, 112, 192},
		OutChannels:           []int{16, 24, 40, 80, 112, 192, 320},
		Strides:               []int{1, 2, 2, 2, 1, 2, 1},
		NumBlockRepeats:       []int{1, 2, 2, 3, 3, 4, 1},
		ExpandRatios:          []int{1, 6, 6, 6, 6, 6, 6},
		DepthwisePadding:      []int{},
		SqueezeExpansionRatio: 0.25,
		HiddenAct:             "swish",
		HiddenDim:             2560,
		PoolingType:           "mean",
		BatchNormEps:          1e-3,
		BatchNormMomentum:     0.99,
		DropConnectRate:       0.2,
	}
}

// RoundFilters scales a channel count by width_coefficient and rounds it to a multiple of
// depth_divisor (at least depth_divisor), going one multiple up when rounding lost more than
// 10% (transformers' round_filters).
func (c *AlignVisionConfig) RoundFilters(channels int) int {
	divisor := c.DepthDivisor
	scaled := float64(channels) * c.WidthCoefficient
	dim := max(divisor, int(scaled+float64(divisor)/2)/divisor*divisor)
	if float64(dim) < 0.9*scaled {
		dim += divisor
	}
	return dim
}

// RoundRepeats scales a stage's block count by depth_coefficient, rounding up.
func (c *AlignVisionConfig) RoundRepeats(repeats int) int {
	return int(math.Ceil(c.DepthCoefficient * float64(repeats)))
}

// StemChannels is the width of the stem convolution, RoundFilters(32).
func (c *AlignVisionConfig) StemChannels() int { return c.RoundFilters(32) }

// HiddenSize is the number of channels of the last block, the length of the pooled image
// features.
func (c *AlignVisionConfig) HiddenSize() int {
	return c.RoundFilters(c.OutChannels[len(c.OutChannels)-1])
}

// mbConvBlock is one MBConv block of the encoder, as AlignVisionEncoder lays them out.
type mbConvBlock struct {
	inDim, outDim, expandRatio int
	kernel, stride             int
	// residual is transformers' apply_dropout (stride 1 and not id_skip): every block but the
	// first of its stage adds its input back.
	residual bool
	// adjustPadding is correct_pad's adjust: a stride-2 depthwise convolution pads
	// (k/2-1, k/2) instead of (k/2, k/2) on each axis.
	adjustPadding bool
}

// blocks lists the encoder's blocks in order.
func (c *AlignVisionConfig) blocks() []mbConvBlock {
	var out []mbConvBlock
	for i := range c.InChannels {
		in, outDim := c.RoundFilters(c.InChannels[i]), c.RoundFilters(c.OutChannels[i])
		for j := range c.RoundRepeats(c.NumBlockRepeats[i]) {
			b := mbConvBlock{
				inDim: in, outDim: outDim, expandRatio: c.ExpandRatios[i], kernel: c.KernelSizes[i],
				stride: c.Strides[i], residual: j > 0,
				adjustPadding: !slices.Contains(c.DepthwisePadding, len(out)),
			}
			if j > 0 {
				b.inDim, b.stride = outDim, 1
			}
			out = append(out, b)
		}
	}
	return out
}

// validate checks every setting the model reads; errors name the field.
func (c *AlignVisionConfig) validate() error {
	const s = "vision_config"
	positive := []struct {
		name string
		v    int
	}{{"num_channels", c.NumChannels}, {"image_size", c.ImageSize}, {"depth_divisor", c.DepthDivisor},
		{"hidden_dim", c.HiddenDim}}
	for _, p := range positive {
		if err := checkSize(s, p.name, p.v); err != nil {
			return err
		}
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"width_coefficient", c.WidthCoefficient}, {"depth_coefficient", c.DepthCoefficient},
		{"squeeze_expansion_ratio", c.SqueezeExpansionRatio}, {"batch_norm_eps", c.BatchNormEps}} {
		if !(p.v > 0) || math.IsInf(p.v, 0) {
			return fmt.Errorf("%s.%s = %v, want a finite number > 0", s, p.name, p.v)
		}
		if (p.name == "width_coefficient" || p.name == "depth_coefficient") && p.v > maxCoefficient {
			return fmt.Errorf("%s.%s = %v, want at most %d", s, p.name, p.v, maxCoefficient)
		}
	}
	n := len(c.InChannels)
	if n == 0 {
		return fmt.Errorf("%s.in_channels is empty, want one entry per stage", s)
	}
	lists := []struct {
		name string
		v    []int
		ok   func(int) bool
		want string
	}{
		{"in_channels", c.InChannels, func(v int) bool { return v > 0 }, "> 0"},
		{"out_channels", c.OutChannels, func(v int) bool { return v > 0 }, "> 0"},
		{"kernel_sizes", c.KernelSizes, func(v int) bool { return v > 0 }, "> 0"},
		{"strides", c.Strides, func(v int) bool { return v == 1 || v == 2 }, "1 or 2 (PyTorch's padding=\"same\" takes no other stride)"},
		{"num_block_repeats", c.NumBlockRepeats, func(v int) bool { return v > 0 }, "> 0"},
		{"expand_ratios", c.ExpandRatios, func(v int) bool { return v > 0 }, "> 0"},
	}
	for _, l := range lists {
		if len(l.v) != n {
			return fmt.Errorf("%s.%s has %d entries, in_channels %d: want one per stage", s, l.name, len(l.v), n)
		}
		for i, v := range l.v {
			if !l.ok(v) {
				return fmt.Errorf("%s.%s[%d] = %d, want %s", s, l.name, i, v, l.want)
			}
			if limit, ok := sizeLimits[l.name]; ok && v > limit {
				return fmt.Errorf("%s.%s[%d] = %d, want at most %d", s, l.name, i, v, limit)
			}
		}
	}
	if _, ok := alignActivation(c.HiddenAct); !ok {
		return fmt.Errorf("%s.hidden_act = %q not supported (want one of %v)", s, c.HiddenAct, nn.ActivationNames())
	}
	if c.PoolingType != "mean" && c.PoolingType != "max" {
		return fmt.Errorf("%s.pooling_type = %q not supported (want \"mean\" or \"max\")", s, c.PoolingType)
	}
	return nil
}
