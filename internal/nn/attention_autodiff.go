package nn

import (
	. "github.com/gomlx/gomlx/core/graph"
)

// The attention variants that leave the backward pass to autodiff: slower than attnCore on the
// Go backend (BenchmarkAttention), kept for the comparison and as a cross-check in the tests.

// attnAutodiff is the attention written forward only, differentiated by autodiff.
func attnAutodiff(q, k, v, mask *Node, scale float64, headsFirst bool, softmax func(*Node) *Node) *Node {
	dtype, ct := v.DType(), attnComputeDType(q.DType())
	// Scaling q is cheaper than scaling the scores when dk < Lk, the usual case.
	q = MulScalar(ConvertDType(q, ct), scale)
	k = ConvertDType(k, ct)
	var scores, out *Node
	if headsFirst {
		q, k, v = attnHeadsFirst(q), attnHeadsFirst(k), attnHeadsFirst(v)
		scores = Dot(q, k).General([]int{3}, []int{0, 1}, []int{3}, []int{0, 1}) // [B, H, Lq, Lk]
	} else {
		scores = Dot(q, k).General([]int{3}, []int{0, 2}, []int{3}, []int{0, 2}) // [B, H, Lq, Lk]
	}
	if mask != nil {
		scores = Add(scores, attnAdditiveMask(mask, ct))
	}
	probs := ConvertDType(softmax(scores), dtype)
	if headsFirst {
		out = Dot(probs, v).General([]int{3}, []int{0, 1}, []int{2}, []int{0, 1}) // [B, H, Lq, dv]
	} else {
		out = Dot(probs, v).General([]int{3}, []int{0, 1}, []int{1}, []int{0, 2}) // [B, H, Lq, dv]
	}
	return attnHeadsLast(out)
}

// attnSoftmaxFusedVJP is the softmax over the last axis: the backend's fused softmax with the
// VJP p·(v - Σv·p) attached, falling back to graph.Softmax where there is no fused op.
// (graph.Softmax's own gradient goes through the decomposed softmax, computing it all again.)
func attnSoftmaxFusedVJP(x *Node) *Node {
	var probs *Node
	// The alternate is built first, as InternalFusedOpCaller requires; it is an identity of x
	// whose gradient is the softmax VJP expressed with the fused output.
	alternate := func() *Node {
		return IdentityWithCustomGradient(x, func(_, v *Node) *Node {
			return Mul(probs, Sub(v, ReduceAndKeep(Mul(v, probs), ReduceSum, -1)))
		})
	}
	out, fused := InternalFusedOpCaller(func() *Node { return BackendFusedSoftmax(x, x.Rank()-1) }, alternate, true)
	if !fused {
		return Softmax(x, -1)
	}
	probs = out
	return out
}
