package nn

import (
	. "github.com/gomlx/gomlx/core/graph"
)

// linearCustom is x·wᵀ + b with a hand-written backward pass:
//
//	dx = dY·w                     (a plain matmul, as autodiff does)
//	dw = dYᵀ·x, or (xᵀ·dY)ᵀ       (transposing only the narrower of dY and x)
//	db = Σ_rows dY
//
// Autodiff's dw = DotGeneral(dY, x) contracts both operands over their leading axis, which the Go
// backend's matmul cannot do without transposing both; here only one activation-sized operand (the
// narrower) is transposed. The tie to the inputs' custom gradients goes through the bias, so the
// forward costs nothing extra.
func linearCustom(x, weight, bias *Node) *Node {
	outDim, inDim := weight.Shape().Dim(0), weight.Shape().Dim(1)
	rows := x.Shape().Size() / inDim
	var memoFor, dOut2 *Node
	flatGrad := func(dOut *Node) *Node { // dY as [rows, out]
		if memoFor != dOut {
			memoFor, dOut2 = dOut, Reshape(dOut, rows, outDim)
		}
		return dOut2
	}
	x2 := Reshape(StopGradient(x), rows, inDim)
	w := StopGradient(weight)
	tie, finish := newCustomVJP([]*Node{x, weight}, []func(dOut *Node) *Node{
		func(dOut *Node) *Node { // dx = dY·w: [rows, out]·[out, in]
			return Reshape(Dot(flatGrad(dOut), w).General([]int{1}, nil, []int{0}, nil), x.Shape().Dimensions...)
		},
		func(dOut *Node) *Node {
			dy := flatGrad(dOut)
			if outDim <= inDim { // dw = dYᵀ·x: [out, rows]·[rows, in]
				return Dot(Transpose(dy, 0, 1), x2).General([]int{1}, nil, []int{0}, nil)
			}
			// dwᵀ = xᵀ·dY: [in, rows]·[rows, out], then the weight-sized transpose.
			return Transpose(Dot(Transpose(x2, 0, 1), dy).General([]int{1}, nil, []int{0}, nil), 0, 1)
		},
	}, x.DType())
	b := tie
	if bias != nil {
		b = Add(bias, tie)
	}
	b = BroadcastToDims(b, outDim)
	return finish(linearDense(StopGradient(x), w, b))
}
