package nn

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// SiLU is x·σ(x) (torch.nn.SiLU, also called swish).
func SiLU(x *Node) *Node {
	return Mul(x, Sigmoid(x))
}

// GELU is the exact Gaussian error linear unit x·Φ(x) = x·(1 + erf(x/√2))/2 (torch.nn.GELU()
// with approximate="none"). It uses the backend's fused GELU where there is one; the gradient
// goes through the erf formula.
func GELU(x *Node) *Node {
	return activation.Gelu(x)
}

// GELUTanh is the tanh approximation of GELU, x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))/2
// (torch.nn.GELU(approximate="tanh"), "gelu_pytorch_tanh" / "gelu_new" in transformers).
func GELUTanh(x *Node) *Node {
	inner := Add(x, MulScalar(Mul(Square(x), x), 0.044715))
	t := Tanh(MulScalar(inner, math.Sqrt(2/math.Pi)))
	return Mul(x, MulScalar(OnePlus(t), 0.5))
}

// QuickGELU is x·σ(1.702·x), the GELU approximation of OpenAI's CLIP ("quick_gelu" in
// transformers).
func QuickGELU(x *Node) *Node {
	return Mul(x, Sigmoid(MulScalar(x, 1.702)))
}

// GEGLU is diffusers' GEGLU feed-forward input: a Linear projection to 2·outDim features split
// into a hidden half (the first) and a gate half (the second), returning hidden·GELU(gate).
//
// x: [..., in] → [..., outDim]. Learned, under scope: "proj" with "weight" [2·outDim, in] and
// (when bias is set; diffusers' default) "bias" [2·outDim].
func GEGLU(scope *model.Scope, x *Node, outDim int, bias bool) *Node {
	w, b := LinearVariables(scope.In("proj"), x.DType(), x.Shape().Dim(-1), 2*outDim, bias)
	var bNode *Node
	if b != nil {
		bNode = b.NodeValue(x.Graph())
	}
	return GEGLUWith(x, w.NodeValue(x.Graph()), bNode)
}

// GEGLUWith is GEGLU with the given projection weight [2·out, in] and optional bias [2·out].
//
// The weight (not the activation) is split, so the two halves come out of two matmuls and no
// activation-sized slice or concatenation is needed in either pass. Like LinearWith, it computes
// in x's dtype, converting weights of another float dtype.
func GEGLUWith(x, weight, bias *Node) *Node {
	if weight.Rank() != 2 || weight.Shape().Dim(0)%2 != 0 {
		exceptions.Panicf("nn.GEGLU: weight %s, want [2·out, in]", weight.Shape())
	}
	weight, bias = castParam(weight, x.DType()), castParam(bias, x.DType())
	half := weight.Shape().Dim(0) / 2
	first, second := AxisRange(0, half), AxisRange(half, 2*half)
	var bHidden, bGate *Node
	if bias != nil {
		bHidden, bGate = Slice(bias, first), Slice(bias, second)
	}
	hidden := LinearWith(x, Slice(weight, first), bHidden)
	gate := LinearWith(x, Slice(weight, second), bGate)
	return Mul(hidden, GELU(gate))
}
