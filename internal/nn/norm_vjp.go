package nn

import (
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
)

// groupNormCustom is GroupNorm on channels-last x with a hand-written backward pass, shaped for
// the Go backend, where a binary op with a broadcast operand costs about 3× a same-shape one and
// a ReduceSum about 10× a batched matmul against ones:
//
//   - sums over positions are batched matmuls with a ones vector, and only the small per-(batch,
//     channel) results are reduced over each group;
//   - with x̂ = (x-μ)·r (r = 1/√(σ²+ε)), y = x̂·γ + β and g = dy·γ, the backward pass is
//     dx = r·(g - mean_group(g) - x̂·mean_group(g·x̂)), written as dy·(r·γ) + (x-μ)·K + L with K, L
//     per (batch, channel); dγ = Σ dy·x̂ and dβ = Σ dy come out of the same two sums.
//
// Forward and backward are one activation-sized pass each for every sum and every term.
func groupNormCustom(x *Node, groups int, eps float64, weight, bias *Node) *Node {
	dims := x.Shape().Dimensions
	batch, channels := dims[0], dims[len(dims)-1]
	positions := x.Shape().Size() / (batch * channels)
	per := channels / groups
	count := float64(positions * per)
	dtype := x.DType()
	g := x.Graph()

	x3 := Reshape(normUpcast(StopGradient(x)), batch, positions, channels)
	ct := x3.DType()
	ones := Ones(g, shapes.Make(ct, batch, 1, positions))
	posSum := func(t *Node) *Node { // [B, S, C] → Σ_s: [B, 1, C]
		return Dot(ones, t).General([]int{2}, []int{0}, []int{1}, []int{0})
	}
	groupMean := func(t *Node) *Node { // [B, 1, C] → the mean over each group, per channel: [B, 1, C]
		t = ReduceAndKeep(Reshape(t, batch, groups, per), ReduceSum, 2)
		return Reshape(BroadcastToDims(DivScalar(t, count), batch, groups, per), batch, 1, channels)
	}
	perChannel := func(p *Node) *Node { // [C] → [1, 1, C] in ct
		return Reshape(ConvertDType(StopGradient(p), ct), 1, 1, channels)
	}

	centred := Sub(x3, groupMean(posSum(x3)))
	inv := Reciprocal(Sqrt(AddScalar(groupMean(posSum(Square(centred))), eps))) // [B, 1, C]
	scale := inv
	if weight != nil {
		scale = Mul(inv, perChannel(weight))
	}

	var memoFor, sumDy, sumDyCentred, dy3 *Node
	sums := func(dOut *Node) {
		if memoFor != dOut {
			memoFor = dOut
			dy3 = Reshape(ConvertDType(dOut, ct), batch, positions, channels)
			sumDy, sumDyCentred = posSum(dy3), posSum(Mul(dy3, centred))
		}
	}
	inputs := []*Node{x}
	grads := []func(dOut *Node) *Node{func(dOut *Node) *Node {
		sums(dOut)
		gSum, gxSum := sumDy, Mul(sumDyCentred, inv) // Σ_s g and Σ_s g·x̂, without γ yet
		if weight != nil {
			gSum, gxSum = Mul(gSum, perChannel(weight)), Mul(gxSum, perChannel(weight))
		}
		k := Neg(Mul(Square(inv), groupMean(gxSum)))
		l := Neg(Mul(inv, groupMean(gSum)))
		dx := Add(Add(Mul(dy3, scale), Mul(centred, k)), l)
		return ConvertDType(Reshape(dx, dims...), dtype)
	}}
	if weight != nil {
		inputs = append(inputs, weight)
		grads = append(grads, func(dOut *Node) *Node {
			sums(dOut)
			return ConvertDType(ReduceSum(Mul(sumDyCentred, inv), 0, 1), weight.DType())
		})
	}
	if bias != nil {
		inputs = append(inputs, bias)
		grads = append(grads, func(dOut *Node) *Node {
			sums(dOut)
			return ConvertDType(ReduceSum(sumDy, 0, 1), bias.DType())
		})
	}
	tie, finish := newCustomVJP(inputs, grads, ct)
	y := Mul(centred, Add(scale, tie))
	if bias != nil {
		y = Add(y, perChannel(bias))
	}
	return finish(ConvertDType(Reshape(y, dims...), dtype))
}
