package nn

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// MultiHeadAttentionBuilder configures MultiHeadAttention; Done builds it.
type MultiHeadAttentionBuilder struct {
	scope                *model.Scope
	x, context, mask     *Node
	heads, headDim, outD int
	qkvBias, outBias     bool
	scale                float64
	linear               LinearFunc
}

// MultiHeadAttention is diffusers' Attention (the AttnProcessor2_0 path) with its variable
// names: self-attention over x when context is nil, cross-attention from x to context otherwise.
//
//	x: [batch, ..., queryDim] (a sequence [batch, L, queryDim] or a channels-last image, whose
//	   positions are flattened into the sequence and restored at the end)
//	context: [batch, Lk, crossDim] or nil
//	→ [batch, ..., outDim]
//
// Learned, under scope: "to_q", "to_k", "to_v" (Linear to heads·headDim, no bias by default as
// diffusers' bias=False) and "to_out"/"0" (Linear back to outDim, with bias as diffusers'
// out_bias=True). Defaults: headDim = queryDim/heads, outDim = queryDim, scale 1/√headDim, no
// mask. It computes in x's dtype (a context of another float dtype is converted to it), with the
// scores and softmax in float32 for half precision (see ScaledDotProductAttention).
func MultiHeadAttention(scope *model.Scope, x, context *Node, heads int) *MultiHeadAttentionBuilder {
	return &MultiHeadAttentionBuilder{scope: scope, x: x, context: context, heads: heads, outBias: true, linear: Linear}
}

// HeadDim sets the per-head dimension (diffusers' dim_head); default queryDim/heads.
func (b *MultiHeadAttentionBuilder) HeadDim(d int) *MultiHeadAttentionBuilder {
	b.headDim = d
	return b
}

// OutDim sets the output dimension (diffusers' out_dim); default queryDim.
func (b *MultiHeadAttentionBuilder) OutDim(d int) *MultiHeadAttentionBuilder {
	b.outD = d
	return b
}

// QKVBias sets whether to_q, to_k and to_v have a bias (diffusers' bias); default false.
func (b *MultiHeadAttentionBuilder) QKVBias(bias bool) *MultiHeadAttentionBuilder {
	b.qkvBias = bias
	return b
}

// OutBias sets whether to_out.0 has a bias (diffusers' out_bias); default true.
func (b *MultiHeadAttentionBuilder) OutBias(bias bool) *MultiHeadAttentionBuilder {
	b.outBias = bias
	return b
}

// Mask sets an additive or boolean mask broadcastable to [batch, heads, Lq, Lk]; see
// ScaledDotProductAttention.
func (b *MultiHeadAttentionBuilder) Mask(mask *Node) *MultiHeadAttentionBuilder {
	b.mask = mask
	return b
}

// Scale sets the score scale; default (0) 1/√headDim.
func (b *MultiHeadAttentionBuilder) Scale(scale float64) *MultiHeadAttentionBuilder {
	b.scale = scale
	return b
}

// Linear replaces the function that builds the four projections (e.g. a LoRA-augmented Linear);
// it is called with scopes to_q, to_k, to_v and to_out/0. Default: Linear.
func (b *MultiHeadAttentionBuilder) Linear(fn LinearFunc) *MultiHeadAttentionBuilder {
	b.linear = fn
	return b
}

// Done builds the attention and returns its output.
func (b *MultiHeadAttentionBuilder) Done() *Node {
	x := b.x
	dims := x.Shape().Dimensions
	if x.Rank() < 3 {
		exceptions.Panicf("nn.MultiHeadAttention(%s): x %s, want [batch, ..., dim]", b.scope.Scope(), x.Shape())
	}
	queryDim := dims[len(dims)-1]
	batch, lq := dims[0], x.Shape().Size()/(dims[0]*queryDim)
	if b.heads <= 0 {
		exceptions.Panicf("nn.MultiHeadAttention(%s): %d heads", b.scope.Scope(), b.heads)
	}
	headDim := b.headDim
	if headDim == 0 {
		if queryDim%b.heads != 0 {
			exceptions.Panicf("nn.MultiHeadAttention(%s): query dim %d does not split into %d heads; set HeadDim",
				b.scope.Scope(), queryDim, b.heads)
		}
		headDim = queryDim / b.heads
	}
	outDim := b.outD
	if outDim == 0 {
		outDim = queryDim
	}
	inner := b.heads * headDim

	x = Reshape(x, batch, lq, queryDim)
	context := x
	if b.context != nil {
		context = b.context
		if context.Rank() != 3 || context.Shape().Dim(0) != batch {
			exceptions.Panicf("nn.MultiHeadAttention(%s): context %s, want [%d, Lk, crossDim]", b.scope.Scope(), context.Shape(), batch)
		}
		context = castParam(context, x.DType())
	}
	lk := context.Shape().Dim(1)
	q := Reshape(b.linear(b.scope.In("to_q"), x, inner, b.qkvBias), batch, lq, b.heads, headDim)
	k := Reshape(b.linear(b.scope.In("to_k"), context, inner, b.qkvBias), batch, lk, b.heads, headDim)
	v := Reshape(b.linear(b.scope.In("to_v"), context, inner, b.qkvBias), batch, lk, b.heads, headDim)
	out := ScaledDotProductAttention(q, k, v, b.mask, b.scale)
	out = b.linear(b.scope.In("to_out").In("0"), Reshape(out, batch, lq, inner), outDim, b.outBias)
	outDims := append([]int(nil), dims...)
	outDims[len(outDims)-1] = outDim
	return Reshape(out, outDims...)
}
