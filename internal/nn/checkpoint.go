package nn

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// Checkpoint returns fn(inputs) built so that the backward pass keeps none of fn's intermediate
// values: gradient checkpointing, as torch.utils.checkpoint and diffusers'
// enable_gradient_checkpointing do it. The forward pass computes fn and lets its activations go
// as soon as the output exists; once the gradient arriving at the output is known, the backward
// pass runs fn again from the same inputs and differentiates that copy. For a U-Net at 512 px
// this trades about one more forward pass for holding only the blocks' inputs and outputs
// until the backward pass, instead of every activation of every layer.
//
// fn must be a function of its inputs, of the variables it reads from store and of nodes built
// before the call (all of which it may read); it is called twice, the second time with inputs
// that equal the first's, and must build the same computation both times (it may not draw
// random numbers). The gradient reaches every float node fn reads from outside: the inputs,
// nodes it captured, and the trainable variables of store (variables marked non-trainable, or of
// another store, get none; store nil: every variable read is differentiated).
//
// Without a gradient pass the only cost is a few scalar operations.
func Checkpoint(store *model.Store, fn func(inputs []*Node) *Node, inputs ...*Node) *Node {
	g := inputs[0].Graph()
	first := NodeId(len(g.Nodes()))
	out := fn(inputs)
	if out.Id() < first {
		return out // fn built nothing (returned an input): nothing to recompute
	}

	// What the gradient reaches: the inputs first (float ones, their recomputed copy stands for
	// them), then every other node from outside that fn read.
	explicit := map[*Node]bool{}
	var targets []*Node
	for _, in := range inputs {
		if !explicit[in] && differentiable(in) {
			targets = append(targets, in)
		}
		explicit[in] = true
	}
	for _, n := range blockReads(out, first) {
		if !explicit[n] && differentiable(n) && (n.Type() != NodeTypeParameter || trainableParam(store, n)) {
			targets = append(targets, n)
		}
	}
	if len(targets) == 0 {
		return out
	}

	// The backward pass: fn again, on its inputs held back (SchedulingBarrier) until the output's
	// gradient exists, so the copy is computed in the backward pass rather than beside the
	// forward one; then the vector-Jacobian product of that copy with dOut.
	var memoFor *Node
	var grads []*Node
	gradOf := func(dOut *Node) []*Node {
		if memoFor == dOut {
			return grads
		}
		trigger := StopGradient(dOut)
		held := make([]*Node, len(inputs))
		heldOf := map[*Node]*Node{}
		for i, in := range inputs {
			if heldOf[in] == nil {
				heldOf[in] = SchedulingBarrier(in, trigger)
			}
			held[i] = heldOf[in]
		}
		again := fn(held)
		wrt := make([]*Node, len(targets))
		for i, n := range targets {
			if h := heldOf[n]; h != nil {
				wrt[i] = h
			} else {
				wrt[i] = n
			}
		}
		// dOut is stopped: the gradient is Jᵀ·dOut, not also the gradient of dOut itself
		// (which depends on the inputs through the layers after the block).
		grads = Gradient(ReduceAllSum(Mul(again, trigger)), wrt...)
		memoFor = dOut
		return grads
	}
	gradFns := make([]func(dOut *Node) *Node, len(targets))
	for i := range targets {
		gradFns[i] = func(dOut *Node) *Node { return gradOf(dOut)[i] }
	}
	tie, finish := newCustomVJP(targets, gradFns, out.DType())
	return finish(Add(StopGradient(out), tie))
}

// blockReads lists, in order of first use, the nodes that the nodes built from id first onwards
// (and reaching out) read from outside that range, and the Parameter nodes inside it (variables
// fn read for the first time in this graph).
func blockReads(out *Node, first NodeId) []*Node {
	var reads []*Node
	seen := map[*Node]bool{}
	stack := []*Node{out}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		if n.Id() < first || n.Type() == NodeTypeParameter {
			reads = append(reads, n)
			continue
		}
		stack = append(stack, n.Inputs()...)
	}
	return reads
}

// differentiable reports whether a node read by a checkpointed block can carry a gradient: a
// float value that is not a constant or stopped.
func differentiable(n *Node) bool {
	if n.StopGradient() || n.Type() == NodeTypeConstant || n.Type() == NodeTypeIota || n.NumOutputs() != 1 {
		return false
	}
	switch n.DType() {
	case dtypes.Float16, dtypes.BFloat16, dtypes.Float32, dtypes.Float64:
		return true
	}
	return false
}

// trainableParam reports whether the Parameter node n is a trainable variable of store (true
// when store is nil or does not hold it: differentiating too much is only slower).
func trainableParam(store *model.Store, n *Node) bool {
	if store == nil {
		return true
	}
	v := store.GetVariable(n.GetParameterName())
	return v == nil || v.Trainable
}
