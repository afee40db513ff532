package nn

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
)

// Hand-written gradients: the Go backend runs autodiff's generic backward of im2col, attention,
// Linear and GroupNorm 2-3x slower than formulas that avoid activation-sized transposes, so those
// blocks give their own. This file holds the one mechanism they share.

// newCustomVJP sets up a node with hand-written gradients with respect to inputs: grads[i](dOut)
// is the gradient w.r.t. inputs[i], where dOut is the gradient arriving at the node that finish
// returns. The caller computes its output from StopGradient(inputs), adds tie (a scalar zero of
// the given dtype) somewhere into it, and passes the output to finish.
//
// GoMLX only offers custom gradients for a single-input identity (IdentityWithCustomGradient), so
// each input goes through such an identity ("link") tied to the output by a term that is exactly
// zero whatever the input's value, Where(false, first element, 0). Autodiff reaches finish's node
// first (it is built last), whose custom VJP records dOut; the links, built before it, are
// reached afterwards and return grads[i](dOut) instead of the (zero) gradient arriving through
// the tie. Gradients are built only for the inputs autodiff asks about.
func newCustomVJP(inputs []*Node, grads []func(dOut *Node) *Node, dtype dtypes.DType) (tie *Node, finish func(out *Node) *Node) {
	g := inputs[0].Graph()
	never := Const(g, false)
	var dOut *Node
	for i, in := range inputs {
		link := IdentityWithCustomGradient(in, func(_, _ *Node) *Node { return grads[i](dOut) })
		first := make([]SliceAxisSpec, link.Rank())
		for a := range first {
			first[a] = AxisRange(0, 1)
		}
		elem := ConvertDType(ReduceAllSum(Slice(link, first...)), dtype)
		zero := Where(never, elem, ZerosLike(elem))
		if tie == nil {
			tie = zero
		} else {
			tie = Add(tie, zero)
		}
	}
	finish = func(out *Node) *Node {
		return IdentityWithCustomGradient(out, func(_, v *Node) *Node {
			dOut = v
			return v
		})
	}
	return tie, finish
}

// withCustomVJP returns out (computed from stopped inputs) with the gradient with respect to
// inputs[i] given by grads[i](dOut); see newCustomVJP. The tie costs one pass over out.
func withCustomVJP(out *Node, inputs []*Node, grads []func(dOut *Node) *Node) *Node {
	tie, finish := newCustomVJP(inputs, grads, out.DType())
	return finish(Add(StopGradient(out), tie))
}
