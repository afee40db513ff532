package nn

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// MaskMin is the additive-mask value of a masked position: float32's lowest finite value, as
// transformers' torch.finfo(float32).min. Finite, so a fully masked row gives a uniform softmax
// instead of NaNs.
const MaskMin = -math.MaxFloat32

// ScaledDotProductAttention is torch's F.scaled_dot_product_attention for inputs laid out as
// they come out of a Linear projection (no transposes needed on the caller's side):
//
//	q: [batch, Lq, heads, dk], k: [batch, Lk, heads, dk], v: [batch, Lk, heads, dv]
//	→ softmax(scale·q·kᵀ + mask)·v: [batch, Lq, heads, dv]
//
// scale ≤ 0 means 1/√dk. mask, optional (nil), is additive (0 to attend, MaskMin to ignore; see
// CausalMask and PaddingMask) or boolean (true to attend), broadcastable (right-aligned, as in
// torch) to the scores' [batch, heads, Lq, Lk]. Half-precision inputs compute the scores and
// the softmax in float32 (diffusers' upcast_attention/upcast_softmax); the weights are cast
// back before they multiply v.
//
// The backward pass is written by hand (attnCore): gradients reach q, k, v and a float mask
// without any [Lq, Lk]-sized tensor being transposed, about 2–3.5× faster than autodiff of
// plain GoMLX ops on the Go backend. Like every hand-written gradient here, it supports first
// derivatives only.
func ScaledDotProductAttention(q, k, v, mask *Node, scale float64) *Node {
	return attnSDPA(q, k, v, mask, scale, attnImplDefault)
}

// CausalMask returns the additive causal mask [L, L] (float32): 0 where key j ≤ query i,
// MaskMin above the diagonal (CLIP's text encoder).
func CausalMask(g *Graph, l int) *Node {
	shape := shapes.Make(dtypes.Int32, l, l)
	above := GreaterThan(Iota(g, shape, 1), Iota(g, shape, 0))
	return Where(above, Scalar(g, dtypes.Float32, MaskMin), Scalar(g, dtypes.Float32, 0))
}

// PaddingMask turns a transformers-style attention mask [batch, Lk] (1 or true for tokens to
// attend to, 0 or false for padding; any dtype) into the additive float32 mask
// [batch, 1, 1, Lk] that ScaledDotProductAttention broadcasts over heads and queries.
func PaddingMask(attentionMask *Node) *Node {
	if attentionMask.Rank() != 2 {
		exceptions.Panicf("nn.PaddingMask: attention mask %s, want [batch, Lk]", attentionMask.Shape())
	}
	keep := attentionMask
	if keep.DType() != dtypes.Bool {
		keep = NotEqual(keep, ZerosLike(keep))
	}
	g := attentionMask.Graph()
	additive := Where(keep, Scalar(g, dtypes.Float32, 0), Scalar(g, dtypes.Float32, MaskMin))
	return InsertAxes(additive, 1, 1)
}

// attnImpl selects how attnSDPA builds the attention and its gradient; BenchmarkAttention
// (attention_bench_test.go) compares them and the default is the fastest on the Go backend.
type attnImpl int

const (
	// attnCustomVJP lays q, k, v out as [batch, heads, L, d] and writes the backward pass by hand
	// so that no [Lq, Lk]-sized tensor is ever transposed: dK and dV are computed transposed
	// (dKᵀ = qᵀ·dS, dVᵀ = dOᵀ·P) from the small operands instead (see attnCore).
	attnCustomVJP attnImpl = iota
	// attnAutodiffBHSD transposes q, k and v to [batch, heads, L, d] and lets autodiff derive the
	// backward pass (which transposes dS and P, both [Lq, Lk]-sized), with the fused softmax and
	// its hand-written VJP.
	attnAutodiffBHSD
	// attnAutodiffBSHD contracts the [batch, L, heads, d] inputs directly with batch axes (0, 2),
	// leaving every transpose to the backend's DotGeneral; fused softmax with its VJP.
	attnAutodiffBSHD
	// attnAutodiffGraphSoftmax is attnAutodiffBHSD with graph.Softmax, whose gradient goes through
	// the decomposed softmax (so its forward is computed twice when training).
	attnAutodiffGraphSoftmax
)

var attnImplDefault = attnCustomVJP

func attnSDPA(q, k, v, mask *Node, scale float64, impl attnImpl) *Node {
	if q.Rank() != 4 || k.Rank() != 4 || v.Rank() != 4 {
		exceptions.Panicf("nn.ScaledDotProductAttention: q %s, k %s, v %s, want rank 4 [batch, L, heads, d]",
			q.Shape(), k.Shape(), v.Shape())
	}
	qd, kd, vd := q.Shape().Dimensions, k.Shape().Dimensions, v.Shape().Dimensions
	batch, lq, heads, dk := qd[0], qd[1], qd[2], qd[3]
	lk := kd[1]
	if kd[0] != batch || vd[0] != batch || kd[2] != heads || vd[2] != heads || kd[3] != dk || vd[1] != lk {
		exceptions.Panicf("nn.ScaledDotProductAttention: q %s, k %s, v %s do not match: want q [B, Lq, H, dk], "+
			"k [B, Lk, H, dk], v [B, Lk, H, dv]", q.Shape(), k.Shape(), v.Shape())
	}
	if scale <= 0 {
		scale = 1 / math.Sqrt(float64(dk))
	}
	if mask != nil {
		attnCheckMask(mask, batch, heads, lq, lk)
	}
	if chunks := attnQueryChunks(batch, heads, lq, lk); len(chunks) > 1 {
		// Queries are independent: each chunk's scores and softmax are made and, in inference,
		// released before the next chunk's (diffusers' attention slicing, over queries).
		outs := make([]*Node, len(chunks))
		for i, c := range chunks {
			qc := Slice(q, AxisRange(), AxisRange(c[0], c[1]))
			mc := mask
			if mask != nil && mask.Rank() >= 2 && mask.Shape().Dimensions[mask.Rank()-2] == lq {
				ranges := make([]SliceAxisSpec, mask.Rank())
				for a := range ranges {
					ranges[a] = AxisRange()
				}
				ranges[mask.Rank()-2] = AxisRange(c[0], c[1])
				mc = Slice(mask, ranges...)
			}
			outs[i] = attnSDPAOne(qc, k, v, mc, scale, impl)
		}
		return Concatenate(outs, 1)
	}
	return attnSDPAOne(q, k, v, mask, scale, impl)
}

// attnChunkElements bounds the scores of one chunk of queries: 32 Mi values (128 MiB in
// float32). Stable Diffusion's self-attention at 512 px (batch 2, 8 heads, 4096 × 4096 positions)
// would otherwise hold 1 GiB of scores and as much of softmax at once; it runs in 8 chunks. The
// toy models' and the fixtures' attention stays one chunk.
var attnChunkElements = 32 << 20

// attnQueryChunks splits the queries [0, lq) into chunks whose scores hold at most
// attnChunkElements values: one chunk, [0, lq), for all but large attention.
func attnQueryChunks(batch, heads, lq, lk int) [][2]int {
	return evenSpans(lq, attnChunkElements/max(batch*heads*lk, 1))
}

// attnSDPAOne is attnSDPA on one chunk of queries.
func attnSDPAOne(q, k, v, mask *Node, scale float64, impl attnImpl) *Node {
	switch impl {
	case attnCustomVJP:
		return attnCore(q, k, v, mask, scale)
	case attnAutodiffBSHD:
		return attnAutodiff(q, k, v, mask, scale, false, attnSoftmaxFusedVJP)
	case attnAutodiffGraphSoftmax:
		return attnAutodiff(q, k, v, mask, scale, true, func(x *Node) *Node { return Softmax(x, -1) })
	default:
		return attnAutodiff(q, k, v, mask, scale, true, attnSoftmaxFusedVJP)
	}
}

// attnComputeDType is the dtype of the scores and the softmax: float32 for half-precision inputs
// (diffusers' upcast_attention and upcast_softmax), the input's dtype otherwise.
func attnComputeDType(dtype dtypes.DType) dtypes.DType {
	if dtype.IsHalfPrecision() {
		return dtypes.Float32
	}
	return dtype
}

// attnHeadsFirst turns [batch, L, heads, d] into [batch, heads, L, d] (a reshape for one head).
func attnHeadsFirst(x *Node) *Node {
	d := x.Shape().Dimensions
	if d[2] == 1 {
		return Reshape(x, d[0], 1, d[1], d[3])
	}
	return TransposeAllAxes(x, 0, 2, 1, 3)
}

// attnHeadsLast turns [batch, heads, L, d] into [batch, L, heads, d] (a reshape for one head).
func attnHeadsLast(x *Node) *Node {
	d := x.Shape().Dimensions
	if d[1] == 1 {
		return Reshape(x, d[0], d[2], 1, d[3])
	}
	return TransposeAllAxes(x, 0, 2, 1, 3)
}

// attnCheckMask panics unless mask broadcasts (right-aligned) to [batch, heads, lq, lk].
func attnCheckMask(mask *Node, batch, heads, lq, lk int) {
	want := []int{batch, heads, lq, lk}
	ok := mask.Rank() <= 4
	for i := 0; ok && i < mask.Rank(); i++ {
		d := mask.Shape().Dim(i)
		ok = d == 1 || d == want[4-mask.Rank()+i]
	}
	if !ok {
		exceptions.Panicf("nn.ScaledDotProductAttention: mask %s is not broadcastable to %v", mask.Shape(), want)
	}
}

// attnAdditiveMask returns mask as a rank-4 additive mask of the given dtype.
func attnAdditiveMask(mask *Node, dtype dtypes.DType) *Node {
	mask = ExpandLeftToRank(mask, 4)
	if mask.DType() == dtypes.Bool {
		g := mask.Graph()
		return Where(mask, Scalar(g, dtype, 0), Scalar(g, dtype, MaskMin))
	}
	return ConvertDType(mask, dtype)
}
