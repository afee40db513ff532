package nn

import (
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
)

// attnCore is scaled dot-product attention with a hand-written backward pass.
//
// q [B, Lq, H, dk], k [B, Lk, H, dk], v [B, Lk, H, dv] → [B, Lq, H, dv]. With q, k, v laid out
// heads-first as [B, H, L, d], scaled q as qs and S = qs·kᵀ (+ mask), P = softmax(S), O = P·v:
//
//	dP = dO·vᵀ                 ([Lq, dv]·[Lk, dv]ᵀ: contraction over both last axes)
//	dS = P ⊙ (dP - Σ_j dP ⊙ P) = P ⊙ ([dO, -rowsum(dO ⊙ O)]·[v, 1]ᵀ)
//	dq = scale · dS·k          ([Lq, Lk]·[Lk, dk]: a plain matmul)
//	dkᵀ = qsᵀ·dS, dvᵀ = dOᵀ·P  ([dk, Lq]·[Lq, Lk]: the small operand is transposed)
//	dmask = Σ dS over the mask's broadcast axes
//
// Autodiff of the forward graph contracts dS and P over their first non-batch axis for dk and
// dv, which makes the Go backend transpose both [Lq, Lk]-sized tensors; here only [L, d]-sized
// ones are.
func attnCore(q, k, v, mask *Node, scale float64) *Node {
	dtype, ct := v.DType(), attnComputeDType(q.DType())

	// Forward, from stopped inputs: autodiff never enters it (withCustomVJP provides the gradients).
	qs := MulScalar(ConvertDType(StopGradient(q), ct), scale) // [B, Lq, H, dk]
	k4 := attnHeadsFirst(ConvertDType(StopGradient(k), ct))   // [B, H, Lk, dk]
	v4 := attnHeadsFirst(StopGradient(v))                     // [B, H, Lk, dv]
	softmaxOf := func() *Node {
		scores := Dot(attnHeadsFirst(qs), k4).General([]int{3}, []int{0, 1}, []int{3}, []int{0, 1})
		if mask != nil {
			scores = Add(scores, attnAdditiveMask(StopGradient(mask), ct))
		}
		return Softmax(scores, -1) // [B, H, Lq, Lk], in ct
	}
	probs := softmaxOf()
	probsV := ConvertDType(probs, dtype) // what multiplies v
	out := attnHeadsLast(Dot(probsV, v4).General([]int{3}, []int{0, 1}, []int{2}, []int{0, 1}))
	if probs.Shape().Size() >= attnRecomputeElements {
		// Large attention: the backward recomputes P from q and k rather than keeping it from
		// the forward (the same ops, so the same values), trading one more scores matmul and
		// softmax for not holding every layer's [Lq, Lk] probabilities until the backward pass
		// (5 GiB for Stable Diffusion's U-Net at 512 px, batch 2).
		var recomputed *Node
		probsFor := func() *Node {
			if recomputed == nil {
				recomputed = softmaxOf()
			}
			return recomputed
		}
		return attnCoreBackward(q, k, v, mask, scale, qs, k4, v4, out, probsFor)
	}
	return attnCoreBackward(q, k, v, mask, scale, qs, k4, v4, out, func() *Node { return probs })
}

// attnRecomputeElements is the size of the probabilities [B, H, Lq, Lk] (of one chunk of
// queries, see attnQueryChunks) from which attnCore's backward recomputes them instead of keeping
// the forward's: 8 Mi values (32 MiB in float32). The toy models' attention keeps them.
var attnRecomputeElements = 8 << 20

// attnCoreBackward attaches attnCore's hand-written gradients to out; probsOf returns P (the
// forward's, or recomputed in the backward pass).
func attnCoreBackward(q, k, v, mask *Node, scale float64, qs, k4, v4, out *Node, probsOf func() *Node) *Node {
	dtype, ct := v.DType(), attnComputeDType(q.DType())

	// Backward, built lazily (only the gradients asked for), once per gradient pass.
	var memoFor, dScores *Node
	scoresGrad := func(dOut *Node) *Node {
		if memoFor != dOut {
			// dP_ij - Σ_j dP_ij·P_ij = dO_i·v_j - dO_i·O_i: one matmul of dO with a -(dO·O) column
			// appended against v with a column of ones, so no [Lq, Lk]-sized broadcast subtraction.
			rowDot := ReduceAndKeep(Mul(ConvertDType(dOut, ct), ConvertDType(out, ct)), ReduceSum, -1) // [B, Lq, H, 1]
			dOutAug := attnHeadsFirst(Concatenate([]*Node{ConvertDType(dOut, ct), Neg(rowDot)}, -1))   // [B, H, Lq, dv+1]
			ones := Ones(v4.Graph(), shapes.Make(ct, append(v4.Shape().Dimensions[:3:3], 1)...))
			vAug := Concatenate([]*Node{ConvertDType(v4, ct), ones}, -1) // [B, H, Lk, dv+1]
			dScores = Mul(probsOf(), Dot(dOutAug, vAug).General([]int{3}, []int{0, 1}, []int{3}, []int{0, 1}))
			memoFor = dOut
		}
		return dScores
	}
	inputs := []*Node{q, k, v}
	grads := []func(dOut *Node) *Node{
		func(dOut *Node) *Node { // dq = scale·dS·k
			dq := Dot(scoresGrad(dOut), k4).General([]int{3}, []int{0, 1}, []int{2}, []int{0, 1})
			return ConvertDType(attnHeadsLast(MulScalar(dq, scale)), q.DType())
		},
		func(dOut *Node) *Node { // dkᵀ = qsᵀ·dS: [B, H, dk, Lk] → [B, Lk, H, dk]
			qsT := TransposeAllAxes(qs, 0, 2, 3, 1) // [B, H, dk, Lq]
			dkT := Dot(qsT, scoresGrad(dOut)).General([]int{3}, []int{0, 1}, []int{2}, []int{0, 1})
			return ConvertDType(TransposeAllAxes(dkT, 0, 3, 1, 2), k.DType())
		},
		func(dOut *Node) *Node { // dvᵀ = dOᵀ·P: [B, H, dv, Lk] → [B, Lk, H, dv]
			dOutT := TransposeAllAxes(dOut, 0, 2, 3, 1) // [B, H, dv, Lq]
			dvT := Dot(dOutT, ConvertDType(probsOf(), dtype)).General([]int{3}, []int{0, 1}, []int{2}, []int{0, 1})
			return ConvertDType(TransposeAllAxes(dvT, 0, 3, 1, 2), v.DType())
		},
	}
	if mask != nil && mask.DType().IsFloat() {
		inputs = append(inputs, mask)
		grads = append(grads, func(dOut *Node) *Node {
			m4 := ExpandLeftToRank(mask, 4)
			var axes []int
			for i, d := range m4.Shape().Dimensions {
				if d == 1 {
					axes = append(axes, i)
				}
			}
			dMask := scoresGrad(dOut)
			if len(axes) > 0 {
				dMask = ReduceAndKeep(dMask, ReduceSum, axes...)
			}
			return ConvertDType(Reshape(dMask, mask.Shape().Dimensions...), mask.DType())
		})
	}
	return withCustomVJP(out, inputs, grads)
}
