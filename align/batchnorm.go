package align

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/gorpo/gorpo/internal/nn"
)

// batchNormAffine returns torch.nn.BatchNorm2d in inference mode as the per-channel affine map
// it is: y = x·scale + shift with scale = weight/√(running_var + eps) and
// shift = bias − running_mean·scale, both [channels]. Its variables live under scope with
// PyTorch's names: "weight" (ones), "bias" (zeros), "running_mean" (zeros), "running_var" (ones);
// the momentum and num_batches_tracked matter only to training and are not read.
func batchNormAffine(scope *model.Scope, g *Graph, dtype dtypes.DType, channels int, eps float64) (scale, shift *Node) {
	shape := shapes.Make(dtype, channels)
	weight := nn.Variable(scope, "weight", shape, nn.ConstantInit(1)).NodeValue(g)
	bias := nn.Variable(scope, "bias", shape, nn.ConstantInit(0)).NodeValue(g)
	mean := nn.Variable(scope, "running_mean", shape, nn.ConstantInit(0)).NodeValue(g)
	variance := nn.Variable(scope, "running_var", shape, nn.ConstantInit(1)).NodeValue(g)
	// Reciprocal of Sqrt rather than Rsqrt, which GoMLX cannot differentiate.
	scale = Mul(weight, Reciprocal(Sqrt(AddScalar(variance, eps))))
	shift = Sub(bias, Mul(mean, scale))
	return scale, shift
}

// batchNorm2D is torch.nn.BatchNorm2d(channels, eps) in inference mode on a channels-last
// x: [batch, height, width, channels]; see batchNormAffine for its variables.
func batchNorm2D(scope *model.Scope, x *Node, eps float64) *Node {
	c := x.Shape().Dim(-1)
	scale, shift := batchNormAffine(scope, x.Graph(), x.DType(), c, eps)
	return Add(Mul(x, Reshape(scale, 1, 1, 1, c)), Reshape(shift, 1, 1, 1, c))
}

// convBatchNorm is a bias-free Conv2d followed by an inference-mode BatchNorm2d, with the norm
// folded into the convolution: the weight is scaled per output channel and the shift becomes the
// bias, which saves a pass over the activations. conv holds the convolution's "weight"
// [outChannels, inChannels/groups, k, k] and bn the norm's variables.
//
// x: [batch, height, width, inChannels] → [batch, outHeight, outWidth, outChannels].
func convBatchNorm(conv, bn *model.Scope, x *Node, outChannels, kernel int, cfg nn.ConvConfig, eps float64) *Node {
	g, dtype := x.Graph(), x.DType()
	weight := convWeight(conv, x, outChannels, kernel, cfg)
	scale, shift := batchNormAffine(bn, g, dtype, outChannels, eps)
	weight = Mul(weight, Reshape(scale, outChannels, 1, 1, 1))
	return nn.Conv2DWeights(x, weight, shift, cfg)
}

// convWeight returns the "weight" [outChannels, inChannels/groups, k, k] of a bias-free Conv2d
// under scope (Kaiming-uniform where new), after checking that x is large enough for it.
func convWeight(conv *model.Scope, x *Node, outChannels, kernel int, cfg nn.ConvConfig) *Node {
	groups := max(cfg.Groups, 1)
	h, w, cin := x.Shape().Dim(1), x.Shape().Dim(2), x.Shape().Dim(-1)
	// Checked here because nn.ConvConfig.OutputSize rounds a negative (in + pads − k) / stride
	// towards zero, which lets a too-small input through to a confusing slicing error.
	if p := cfg.ResolvePadding(h, w, kernel, kernel); h+p.Top+p.Bottom < kernel || w+p.Left+p.Right < kernel {
		exceptions.Panicf("align: %s: a %dx%d feature map (padded %+v) is smaller than the %dx%d kernel: the image is too small",
			conv.Scope(), h, w, p, kernel, kernel)
	}
	fanIn := cin / groups * kernel * kernel
	return nn.Variable(conv, "weight", shapes.Make(x.DType(), outChannels, cin/groups, kernel, kernel),
		nn.KaimingUniformInit(fanIn)).NodeValue(x.Graph())
}

// batchNormMomentum is PyTorch's BatchNorm momentum for the running statistics in train mode:
// running ← (1 − m)·running + m·batch.
const batchNormMomentum = 0.1

// convBatchNormTraining is a bias-free Conv2d followed by a train-mode BatchNorm2d (see
// AlignVisionModelTraining): the convolution's output is normalised by its batch mean and biased
// variance per channel, then scaled by "weight" and shifted by "bias"; running_mean and
// running_var move towards the batch's statistics.
func convBatchNormTraining(conv, bn *model.Scope, x *Node, outChannels, kernel int, cfg nn.ConvConfig, eps float64) *Node {
	g, dtype := x.Graph(), x.DType()
	y := nn.Conv2DWeights(x, convWeight(conv, x, outChannels, kernel, cfg), nil, cfg)

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
	rm.SetNodeValue(Add(MulScalar(rm.NodeValue(g), 1-batchNormMomentum), MulScalar(StopGradient(mean), batchNormMomentum)))
	rv.SetNodeValue(Add(MulScalar(rv.NodeValue(g), 1-batchNormMomentum), MulScalar(unbiased, batchNormMomentum)))

	scale := Mul(gamma, Reciprocal(Sqrt(AddScalar(variance, eps))))
	return Add(Mul(centred, Reshape(scale, 1, 1, 1, outChannels)), Reshape(beta, 1, 1, 1, outChannels))
}
