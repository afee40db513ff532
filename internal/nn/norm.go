package nn

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	gnn "github.com/gomlx/gomlx/ml/nn"
	"github.com/gomlx/gomlx/support/exceptions"
)

// GroupNorm is torch.nn.GroupNorm(groups, C, eps, affine=True) over a channels-last x.
//
// x: [batch, ..., C] (rank ≥ 3: e.g. [batch, height, width, C]); the C channels split into
// groups of C/groups consecutive channels, and each (sample, group) is normalised by its mean and
// biased variance over the group's channels and all spatial positions, then scaled and shifted
// per channel. Learned, under scope: "weight" [C] (ones) and "bias" [C] (zeros).
// Half-precision inputs are normalised, scaled and shifted in float32 (with the weights
// converted to float32 if they are not), and the output has x's dtype.
func GroupNorm(scope *model.Scope, x *Node, groups int, eps float64) *Node {
	w, b := normVariables(scope, x)
	return GroupNormWith(x, groups, eps, w.NodeValue(x.Graph()), b.NodeValue(x.Graph()))
}

// GroupNormWith is GroupNorm with the given per-channel weight and bias [C]; either may be nil
// (torch's affine=False leaves both out), of any float dtype. Its backward pass is hand-written
// for the Go backend (groupNormCustom, about 2.3× faster than autodiff).
func GroupNormWith(x *Node, groups int, eps float64, weight, bias *Node) *Node {
	dims := x.Shape().Dimensions
	if x.Rank() < 3 {
		exceptions.Panicf("nn.GroupNorm: x %s, want rank ≥ 3 [batch, ..., channels]", x.Shape())
	}
	channels := dims[len(dims)-1]
	if groups <= 0 || channels%groups != 0 {
		exceptions.Panicf("nn.GroupNorm: %d channels do not split into %d groups", channels, groups)
	}
	normCheckAffine("GroupNorm", channels, weight, bias)
	ct := normComputeDType(x.DType())
	weight, bias = castParam(weight, ct), castParam(bias, ct)
	if normImplDefault == normAutodiff {
		return groupNormAutodiff(x, groups, eps, weight, bias)
	}
	return groupNormCustom(x, groups, eps, weight, bias)
}

// normImpl selects how GroupNorm builds its gradient; BenchmarkNorm compares them.
type normImpl int

const (
	normCustomVJP normImpl = iota // groupNormCustom
	normAutodiff                  // groupNormAutodiff
)

var normImplDefault = normCustomVJP

// groupNormAutodiff is GroupNorm written forward only, differentiated by autodiff.
func groupNormAutodiff(x *Node, groups int, eps float64, weight, bias *Node) *Node {
	dims := x.Shape().Dimensions
	channels := dims[len(dims)-1]
	spatial := x.Shape().Size() / (dims[0] * channels)
	dtype := x.DType()
	xr := Reshape(normUpcast(x), dims[0], spatial, groups, channels/groups)
	mean := ReduceAndKeep(xr, ReduceMean, 1, 3)
	centred := Sub(xr, mean)
	variance := ReduceAndKeep(Square(centred), ReduceMean, 1, 3)
	// Reciprocal of Sqrt on the small statistics tensor: GoMLX has no gradient for Rsqrt.
	y := Mul(centred, Reciprocal(Sqrt(AddScalar(variance, eps))))
	return ConvertDType(normAffine(Reshape(y, dims...), weight, bias), dtype)
}

// LayerNorm is torch.nn.LayerNorm(C, eps, elementwise_affine=True) over the last axis of x.
//
// x: [..., C]; each row is normalised by its mean and biased variance. Learned, under scope:
// "weight" [C] (ones) and "bias" [C] (zeros). For elementwise_affine=False use
// LayerNormWith(x, eps, nil, nil). Half-precision inputs are normalised, scaled and shifted in
// float32, and the output has x's dtype.
func LayerNorm(scope *model.Scope, x *Node, eps float64) *Node {
	w, b := normVariables(scope, x)
	return LayerNormWith(x, eps, w.NodeValue(x.Graph()), b.NodeValue(x.Graph()))
}

// LayerNormWith is LayerNorm with the given weight and bias [C]; either may be nil (nil for both
// is torch's elementwise_affine=False), of any float dtype (converted to the dtype the norm
// computes in).
//
// It uses the backend's fused layer norm where there is one (the Go backend has it; gradients go
// through the decomposed formula).
func LayerNormWith(x *Node, eps float64, weight, bias *Node) *Node {
	normCheckAffine("LayerNorm", x.Shape().Dim(-1), weight, bias)
	dtype, ct := x.DType(), normComputeDType(x.DType())
	weight, bias = castParam(weight, ct), castParam(bias, ct)
	if ct == dtype {
		return gnn.LayerNorm(x, []int{-1}, eps, weight, bias, nil)
	}
	return ConvertDType(gnn.LayerNorm(ConvertDType(x, ct), []int{-1}, eps, weight, bias, nil), dtype)
}

// normVariables returns the "weight" (ones) and "bias" (zeros) [C] variables of a norm layer
// over the last axis of x.
func normVariables(scope *model.Scope, x *Node) (weight, bias *model.Variable) {
	shape := shapes.Make(x.DType(), x.Shape().Dim(-1))
	return Variable(scope, "weight", shape, ConstantInit(1)), Variable(scope, "bias", shape, ConstantInit(0))
}

// normComputeDType is the dtype a norm computes in: float32 for half-precision inputs (torch
// accumulates norms in float32, and autocast runs them in float32), the input's dtype otherwise.
func normComputeDType(dtype dtypes.DType) dtypes.DType {
	if dtype.IsHalfPrecision() {
		return dtypes.Float32
	}
	return dtype
}

// normUpcast converts half-precision x to float32.
func normUpcast(x *Node) *Node {
	return castParam(x, normComputeDType(x.DType()))
}

// normAffine applies y·weight + bias along the last axis (either may be nil).
func normAffine(y, weight, bias *Node) *Node {
	if weight != nil {
		y = Mul(y, ExpandLeftToRank(weight, y.Rank()))
	}
	if bias != nil {
		y = Add(y, ExpandLeftToRank(bias, y.Rank()))
	}
	return y
}

func normCheckAffine(layer string, channels int, weight, bias *Node) {
	for _, p := range []*Node{weight, bias} {
		if p != nil && (p.Rank() != 1 || p.Shape().Dim(0) != channels) {
			exceptions.Panicf("nn.%s: weight/bias %s, want [%d]", layer, p.Shape(), channels)
		}
	}
}
