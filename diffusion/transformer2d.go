package diffusion

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/nn"
)

// transformer2D configures diffusers' Transformer2DModel over continuous (image) inputs, with
// BasicTransformerBlocks of layer norms, self- and cross-attention and a GEGLU feed-forward: the
// attention blocks of Stable Diffusion's U-Net.
type transformer2D struct {
	heads, headDim int // inner width = heads·headDim
	layers         int // transformer_blocks
	groups         int // GroupNorm groups of "norm" (eps 1e-6)
	linearProj     bool
	onlyCross      bool          // attn1 attends to the context too
	attnLinear     nn.LinearFunc // builds to_q, to_k, to_v and to_out/0; nil: nn.Linear
}

// apply runs the model on x: [batch, height, width, C] with context: [batch, Lk, crossDim],
// returning x plus the attention's output, [batch, height, width, C].
//
// Learned, under scope: norm (GroupNorm over C); proj_in and proj_out, 1×1 convolutions
// (weight [out, in, 1, 1]) or, with use_linear_projection, Linear layers (weight [out, in]);
// transformer_blocks/<i> (see basicTransformerBlock).
func (t transformer2D) apply(scope *model.Scope, x, context *Node) *Node {
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	inner := t.heads * t.headDim
	hs := nn.GroupNorm(scope.In("norm"), x, t.groups, 1e-6)
	if t.linearProj {
		hs = nn.Linear(scope.In("proj_in"), Reshape(hs, b, h*w, c), inner, true)
	} else {
		hs = Reshape(nn.Conv2D(scope.In("proj_in"), hs, inner).Done(), b, h*w, inner)
	}
	blocks := scope.In("transformer_blocks")
	for i := range t.layers {
		hs = t.block(blocks.In("%d", i), hs, context)
	}
	if t.linearProj {
		hs = Reshape(nn.Linear(scope.In("proj_out"), hs, c, true), b, h, w, c)
	} else {
		hs = nn.Conv2D(scope.In("proj_out"), Reshape(hs, b, h, w, inner), c).Done()
	}
	return Add(hs, x)
}

// block is diffusers' BasicTransformerBlock with norm_type "layer_norm" on hs: [batch, L, dim]:
//
//	hs += attn1(norm1(hs))            self-attention (cross-attention with only_cross_attention)
//	hs += attn2(norm2(hs), context)   cross-attention
//	hs += ff(norm3(hs))               ff.net.0 = GEGLU(dim → 4·dim), ff.net.2 = Linear(4·dim → dim)
//
// Learned, under scope: norm1, norm2, norm3 (LayerNorm, eps 1e-5); attn1, attn2 (to_q, to_k,
// to_v without bias, to_out/0 with bias); ff/net/0/proj and ff/net/2.
func (t transformer2D) block(scope *model.Scope, hs, context *Node) *Node {
	dim := hs.Shape().Dim(-1)
	attention := func(name string, x, ctx *Node) *Node {
		linear := t.attnLinear
		if linear == nil {
			linear = nn.Linear
		}
		return nn.MultiHeadAttention(scope.In("%s", name), x, ctx, t.heads).HeadDim(t.headDim).Linear(linear).Done()
	}
	var selfContext *Node
	if t.onlyCross {
		selfContext = context
	}
	hs = Add(attention("attn1", nn.LayerNorm(scope.In("norm1"), hs, 1e-5), selfContext), hs)
	hs = Add(attention("attn2", nn.LayerNorm(scope.In("norm2"), hs, 1e-5), context), hs)
	net := scope.In("ff").In("net")
	ff := nn.GEGLU(net.In("0"), nn.LayerNorm(scope.In("norm3"), hs, 1e-5), 4*dim, true)
	ff = nn.Linear(net.In("2"), ff, dim, true)
	return Add(ff, hs)
}
