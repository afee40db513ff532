package rewardmodel

import (
	"slices"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/internal/nn"
)

// bnMomentum is PyTorch's BatchNorm momentum for the running statistics during training:
// running ← (1 − m)·running + m·batch.
const bnMomentum = 0.1

// visionTrain is align.AlignVisionModel's pooled output in training mode: the same layers,
// variables and padding (transformers' AlignVisionModel), but every BatchNorm normalises with
// the batch's statistics and updates its running_mean and running_var (which inference reads)
// as PyTorch does in train mode. pixels: [batch, height, width, channels] → [batch, hidden].
func visionTrain(scope *model.Scope, cfg *align.AlignVisionConfig, pixels *Node) *Node {
	act := nn.SiLU // "swish", what NewConfig sets
	eps := cfg.BatchNormEps
	emb := scope.In("embeddings")
	stem := nn.ConvConfig{StrideH: 2, StrideW: 2, Padding: nn.Padding2D{Bottom: 1, Right: 1}}
	x := act(convBNTrain(emb.In("convolution"), emb.In("batchnorm"), pixels, cfg.StemChannels(), 3, stem, eps))

	blocks := scope.In("encoder").In("blocks")
	idx := 0
	for i := range cfg.InChannels {
		in, out := cfg.RoundFilters(cfg.InChannels[i]), cfg.RoundFilters(cfg.OutChannels[i])
		for j := range cfg.RoundRepeats(cfg.NumBlockRepeats[i]) {
			b := block{in: in, out: out, expand: cfg.ExpandRatios[i], kernel: cfg.KernelSizes[i], stride: cfg.Strides[i],
				residual: j > 0, adjust: !slices.Contains(cfg.DepthwisePadding, idx)}
			if j > 0 {
				b.in, b.stride = out, 1
			}
			x = mbConvTrain(blocks.In("%d", idx), cfg, b, act, x)
			idx++
		}
	}
	return ReduceMean(x, 1, 2)
}

type block struct {
	in, out, expand, kernel, stride int
	residual, adjust                bool
}

// mbConvTrain is align's MBConv block (see align.AlignVisionModel) with training-mode BatchNorms.
func mbConvTrain(scope *model.Scope, cfg *align.AlignVisionConfig, b block, act func(*Node) *Node, x *Node) *Node {
	eps := cfg.BatchNormEps
	input := x
	dim := b.in
	if b.expand != 1 {
		dim = b.in * b.expand
		s := scope.In("expansion")
		x = act(convBNTrain(s.In("expand_conv"), s.In("expand_bn"), x, dim, 1, nn.ConvConfig{}, eps))
	}
	before := (b.kernel - 1) / 2
	after := b.kernel - 1 - before
	dw := nn.ConvConfig{Groups: dim, Padding: nn.Padding2D{Top: before, Bottom: after, Left: before, Right: after}}
	if b.stride == 2 {
		c := b.kernel / 2
		pad := nn.Padding2D{Top: c, Bottom: c, Left: c, Right: c}
		if b.adjust {
			pad = nn.Padding2D{Top: c - 1, Bottom: c, Left: c - 1, Right: c}
		}
		if pad.Top < 0 {
			x = nn.PadHW(x, pad.Top, pad.Bottom, pad.Left, pad.Right)
			pad = nn.Padding2D{}
		}
		dw = nn.ConvConfig{Groups: dim, StrideH: 2, StrideW: 2, Padding: pad}
	}
	s := scope.In("depthwise_conv")
	x = act(convBNTrain(s.In("depthwise_conv"), s.In("depthwise_norm"), x, dim, b.kernel, dw, eps))

	se := scope.In("squeeze_excite")
	seDim := max(1, int(float64(b.in)*cfg.SqueezeExpansionRatio))
	gate := nn.GlobalAvgPool2D(x)
	gate = act(nn.Conv2D(se.In("reduce"), gate, seDim).Done())
	gate = Sigmoid(nn.Conv2D(se.In("expand"), gate, dim).Done())
	x = Mul(x, gate)

	p := scope.In("projection")
	x = convBNTrain(p.In("project_conv"), p.In("project_bn"), x, b.out, 1, nn.ConvConfig{}, eps)
	if b.residual {
		x = Add(x, input)
	}
	return x
}

// convBNTrain is a bias-free Conv2d followed by a training-mode BatchNorm2d: normalised by the
// batch's mean and (biased) variance over batch, height and width, then scaled by "weight" and
// shifted by "bias"; running_mean and running_var move towards the batch's statistics (the
// unbiased variance, as PyTorch keeps it).
func convBNTrain(conv, bn *model.Scope, x *Node, outChannels, kernel int, cfg nn.ConvConfig, eps float64) *Node {
	g, dtype := x.Graph(), x.DType()
	groups := max(cfg.Groups, 1)
	cin := x.Shape().Dim(-1)
	fanIn := cin / groups * kernel * kernel
	weight := nn.Variable(conv, "weight", shapes.Make(dtype, outChannels, cin/groups, kernel, kernel),
		nn.KaimingUniformInit(fanIn)).NodeValue(g)
	y := nn.Conv2DWeights(x, weight, nil, cfg)

	shape := shapes.Make(dtype, outChannels)
	gamma := nn.Variable(bn, "weight", shape, nn.ConstantInit(1)).NodeValue(g)
	beta := nn.Variable(bn, "bias", shape, nn.ConstantInit(0)).NodeValue(g)
	rm := nn.Variable(bn, "running_mean", shape, nn.ConstantInit(0))
	rv := nn.Variable(bn, "running_var", shape, nn.ConstantInit(1))

	mean := ReduceMean(y, 0, 1, 2)
	centred := Sub(y, Reshape(mean, 1, 1, 1, outChannels))
	variance := ReduceMean(Square(centred), 0, 1, 2)
	d := y.Shape().Dimensions
	n := float64(d[0] * d[1] * d[2])
	unbiased := MulScalar(StopGradient(variance), n/max(1, n-1))
	rm.SetNodeValue(Add(MulScalar(rm.NodeValue(g), 1-bnMomentum), MulScalar(StopGradient(mean), bnMomentum)))
	rv.SetNodeValue(Add(MulScalar(rv.NodeValue(g), 1-bnMomentum), MulScalar(unbiased, bnMomentum)))

	scale := Mul(gamma, Reciprocal(Sqrt(AddScalar(variance, eps))))
	return Add(Mul(centred, Reshape(scale, 1, 1, 1, outChannels)), Reshape(beta, 1, 1, 1, outChannels))
}
