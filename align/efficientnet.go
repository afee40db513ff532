package align

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/gorpo/gorpo/internal/nn"
)

// AlignVisionModel is ALIGN's image tower, transformers' AlignVisionModel: an EfficientNet
// (Tan & Le, 2019, arXiv:1905.11946) without its classification head or top convolution.
//
//   - pixels: [batch, height, width, num_channels], channels last, as the image processor makes
//     them (EfficientNetImageProcessor; values in [-1, 1] for ALIGN).
//   - lastHidden: [batch, h, w, HiddenSize()], the last block's output.
//   - pooled: [batch, HiddenSize()], its mean (pooling_type "mean") or maximum ("max") over
//     all positions: the image features.
//
// Learned, under scope, with transformers' names: "embeddings" (the stem: "convolution",
// "batchnorm") and "encoder/blocks/<i>" (MBConv blocks: "expansion", "depthwise_conv",
// "squeeze_excite", "projection"). BatchNorms run in inference mode; dropout and drop-connect
// are inactive.
//
// Padding follows transformers exactly: the stem pads one row and column of zeros at the
// bottom and right and convolves 3×3, stride 2, unpadded; a stride-1 depthwise convolution pads
// PyTorch's "same" (k−1 in all, the odd one at the bottom and right), a stride-2 one pads
// correct_pad's (k/2−1, k/2) per axis, or (k/2, k/2) for the blocks listed in depthwise_padding.
func AlignVisionModel(scope *model.Scope, cfg *AlignVisionConfig, pixels *Node) (lastHidden, pooled *Node) {
	return alignVisionModel(scope, cfg, pixels, convBatchNorm)
}

// AlignVisionModelTraining is AlignVisionModel in PyTorch's train mode, for training or
// fine-tuning the image tower: every BatchNorm normalises with the batch's mean and biased
// variance over batch, height and width, and moves its running_mean and running_var (which
// AlignVisionModel reads) towards the batch's statistics with PyTorch's momentum 0.1 (the
// unbiased variance, as PyTorch keeps it). Run its graph with model.Exec so the new running
// statistics are stored. Dropout and drop-connect stay inactive.
func AlignVisionModelTraining(scope *model.Scope, cfg *AlignVisionConfig, pixels *Node) (lastHidden, pooled *Node) {
	return alignVisionModel(scope, cfg, pixels, convBatchNormTraining)
}

// convBN is a bias-free convolution followed by a BatchNorm2d: convBatchNorm (inference) or
// convBatchNormTraining. conv and bn are the two modules' scopes.
type convBN func(conv, bn *model.Scope, x *Node, outChannels, kernel int, cfg nn.ConvConfig, eps float64) *Node

func alignVisionModel(scope *model.Scope, cfg *AlignVisionConfig, pixels *Node, convBatchNorm convBN) (lastHidden, pooled *Node) {
	if pixels.Rank() != 4 || pixels.Shape().Dim(-1) != cfg.NumChannels {
		exceptions.Panicf("align: pixels %s, want [batch, height, width, %d] (channels last)", pixels.Shape(), cfg.NumChannels)
	}
	act, ok := alignActivation(cfg.HiddenAct)
	if !ok {
		exceptions.Panicf("align: vision_config.hidden_act = %q not supported", cfg.HiddenAct)
	}
	eps := cfg.BatchNormEps

	emb := scope.In("embeddings")
	stem := nn.ConvConfig{StrideH: 2, StrideW: 2, Padding: nn.Padding2D{Bottom: 1, Right: 1}}
	x := act(convBatchNorm(emb.In("convolution"), emb.In("batchnorm"), pixels, cfg.StemChannels(), 3, stem, eps))

	blocks := scope.In("encoder").In("blocks")
	for i, b := range cfg.blocks() {
		x = mbConv(blocks.In("%d", i), cfg, b, act, convBatchNorm, x)
	}

	d := x.Shape().Dimensions
	if d[1] > cfg.HiddenDim || d[2] > cfg.HiddenDim {
		// nn.AvgPool2d(hidden_dim, ceil_mode=True) would leave more than one position, which
		// transformers' reshape to [batch, channels] rejects too.
		exceptions.Panicf("align: the last feature map is %dx%d, larger than vision_config.hidden_dim = %d, "+
			"the pooling window: the image is too large for this configuration", d[1], d[2], cfg.HiddenDim)
	}
	if cfg.PoolingType == "max" {
		pooled = ReduceMax(x, 1, 2)
	} else {
		pooled = ReduceMean(x, 1, 2)
	}
	return x, pooled
}

// mbConv is one MBConv block (AlignVisionBlock): expansion (1×1 conv, BN, act) unless the
// expansion ratio is 1, depthwise conv (BN, act), squeeze-and-excitation, projection (1×1 conv,
// BN), and the input added back for every block but the first of a stage.
func mbConv(scope *model.Scope, cfg *AlignVisionConfig, b mbConvBlock, act func(*Node) *Node, convBatchNorm convBN, x *Node) *Node {
	eps := cfg.BatchNormEps
	input := x
	dim := b.inDim
	if b.expandRatio != 1 {
		dim = b.inDim * b.expandRatio
		s := scope.In("expansion")
		x = act(convBatchNorm(s.In("expand_conv"), s.In("expand_bn"), x, dim, 1, nn.ConvConfig{}, eps))
	}

	dw := nn.ConvConfig{Groups: dim, Padding: torchSamePadding(b.kernel)}
	if b.stride == 2 {
		pad := correctPad(b.kernel, b.adjustPadding)
		if pad.Top < 0 { // k = 1: ZeroPad2d with negative amounts crops.
			x = nn.PadHW(x, pad.Top, pad.Bottom, pad.Left, pad.Right)
			pad = nn.Padding2D{}
		}
		dw = nn.ConvConfig{Groups: dim, StrideH: 2, StrideW: 2, Padding: pad}
	}
	s := scope.In("depthwise_conv")
	x = act(convBatchNorm(s.In("depthwise_conv"), s.In("depthwise_norm"), x, dim, b.kernel, dw, eps))

	// Squeeze and excitation: the reduced width comes from the block's input width.
	se := scope.In("squeeze_excite")
	seDim := max(1, int(float64(b.inDim)*cfg.SqueezeExpansionRatio))
	gate := nn.GlobalAvgPool2D(x) // [batch, 1, 1, dim]
	gate = act(nn.Conv2D(se.In("reduce"), gate, seDim).Done())
	gate = Sigmoid(nn.Conv2D(se.In("expand"), gate, dim).Done())
	x = Mul(x, gate)

	p := scope.In("projection")
	x = convBatchNorm(p.In("project_conv"), p.In("project_bn"), x, b.outDim, 1, nn.ConvConfig{}, eps)
	if b.residual {
		x = Add(x, input)
	}
	return x
}

// torchSamePadding is PyTorch's padding="same" for a stride-1 k×k convolution: k−1 rows and
// columns in all, the extra one (even k) at the bottom and right.
func torchSamePadding(k int) nn.Padding2D {
	before := (k - 1) / 2
	after := k - 1 - before
	return nn.Padding2D{Top: before, Bottom: after, Left: before, Right: after}
}

// correctPad is transformers' correct_pad as the ZeroPad2d before a stride-2 depthwise
// convolution: (k/2−1, k/2) on each axis when adjust is set, else (k/2, k/2).
func correctPad(k int, adjust bool) nn.Padding2D {
	c := k / 2
	if adjust {
		return nn.Padding2D{Top: c - 1, Bottom: c, Left: c - 1, Right: c}
	}
	return nn.Padding2D{Top: c, Bottom: c, Left: c, Right: c}
}
