package nn

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	gnn "github.com/gomlx/gomlx/ml/nn"
	"github.com/gomlx/gomlx/support/exceptions"
)

// LinearFunc is the signature of Linear. Layers that own linear projections (MultiHeadAttention)
// accept one, so LoRA or frozen variants can replace the plain projection by name.
type LinearFunc func(scope *model.Scope, x *Node, outDim int, bias bool) *Node

// Linear is torch.nn.Linear applied to the last axis of x: y = x·weightᵀ + bias.
//
// x: [..., in] → [..., outDim], in x's dtype. Learned, under scope: "weight" [outDim, in] and,
// when bias is set, "bias" [outDim] (PyTorch's layout and names), created when missing with
// PyTorch's default U(-1/√in, 1/√in) (see KaimingUniformInit) in x's dtype; existing ones of
// another float dtype are read converted (see LinearWith).
func Linear(scope *model.Scope, x *Node, outDim int, bias bool) *Node {
	w, b := LinearVariables(scope, x.DType(), x.Shape().Dim(-1), outDim, bias)
	var bNode *Node
	if b != nil {
		bNode = b.NodeValue(x.Graph())
	}
	return LinearWith(x, w.NodeValue(x.Graph()), bNode)
}

// LinearVariables returns the "weight" [outDim, inDim] and (when bias is set, else nil) "bias"
// [outDim] variables of a Linear layer under scope, creating missing ones with PyTorch's default
// initialisation.
func LinearVariables(scope *model.Scope, dtype dtypes.DType, inDim, outDim int, bias bool) (weight, b *model.Variable) {
	if inDim <= 0 || outDim <= 0 {
		exceptions.Panicf("nn.Linear(%s): in=%d, out=%d, want positive dimensions", scope.Scope(), inDim, outDim)
	}
	init := KaimingUniformInit(inDim)
	weight = Variable(scope, "weight", shapes.Make(dtype, outDim, inDim), init)
	if bias {
		b = Variable(scope, "bias", shapes.Make(dtype, outDim), init)
	}
	return weight, b
}

// LinearWith is Linear with the given weight [out, in] and optional bias [out] (nil for none):
// y = x·weightᵀ + bias over the last axis of x, computed in x's dtype: weights of another float
// dtype (float32 master weights under bfloat16 activations) are converted, and their gradients
// come back in their own dtype. It contracts x's last axis with the weight's last
// axis, so neither operand is transposed on the way to the backend's matmul, and its backward
// pass is hand-written to transpose only one activation-sized operand (linearCustom).
func LinearWith(x, weight, bias *Node) *Node {
	if weight.Rank() != 2 || weight.Shape().Dim(-1) != x.Shape().Dim(-1) {
		exceptions.Panicf("nn.LinearWith: weight %s does not match x %s: want [out, %d]", weight.Shape(), x.Shape(), x.Shape().Dim(-1))
	}
	if bias != nil && (bias.Rank() != 1 || bias.Shape().Dim(0) != weight.Shape().Dim(0)) {
		exceptions.Panicf("nn.LinearWith: bias %s, want [%d]", bias.Shape(), weight.Shape().Dim(0))
	}
	return linearImpl(x, castParam(weight, x.DType()), castParam(bias, x.DType()), linearImplDefault)
}

// linearImplKind selects how LinearWith builds its gradient; BenchmarkLinear compares them.
type linearImplKind int

const (
	linearCustomVJP linearImplKind = iota // linearCustom: one activation-sized transpose for dw
	linearAutodiff                        // GoMLX's Dense differentiated by autodiff: two
)

var linearImplDefault = linearCustomVJP

func linearImpl(x, weight, bias *Node, impl linearImplKind) *Node {
	if impl == linearAutodiff {
		return linearDense(x, weight, bias)
	}
	return linearCustom(x, weight, bias)
}

// linearDense is x·weightᵀ + bias by GoMLX's Dense (the backend's fused dense where there is
// one). Half precision skips it: the Go backend accepts a Float16/BFloat16 FusedDense when the
// graph is built and only fails when it runs, too late for Dense's fallback.
func linearDense(x, weight, bias *Node) *Node {
	if !x.DType().IsHalfPrecision() {
		return gnn.Dense(x, weight, bias, compute.DenseLayoutOutputsInput)
	}
	y := Dot(x, weight).General([]int{x.Rank() - 1}, nil, []int{1}, nil)
	if bias != nil {
		y = Add(y, ExpandLeftToRank(bias, y.Rank()))
	}
	return y
}
