package diffusion

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/nn"
)

// unetBlocks holds what every block of one U-Net shares.
type unetBlocks struct {
	cfg     *UNetConfig
	plan    *unetPlan
	temb    *Node // [batch, time_embed_dim]
	context *Node // [batch, Lk, cross_attention_dim]

	attnLinear nn.LinearFunc // builds the attention projections (see UNet.ForwardWith)
	checkpoint bool          // UNet.SetGradientCheckpointing
}

// run builds fn(scope, inputs): directly, or as a checkpointed block (nn.Checkpoint) that the
// backward pass recomputes, with a fresh visit of scope each time it is built.
func (u unetBlocks) run(scope *model.Scope, fn func(scope *model.Scope, in []*Node) *Node, inputs ...*Node) *Node {
	if !u.checkpoint {
		return fn(scope, inputs)
	}
	return nn.Checkpoint(scope.Store(), func(in []*Node) *Node { return fn(scope.ResetVisited(), in) }, inputs...)
}

// resnetAt runs the ResNet under scope on x (and the time embedding), as a block of its own.
func (u unetBlocks) resnetAt(scope *model.Scope, r resnetBlock, x *Node) *Node {
	return u.run(scope, func(scope *model.Scope, in []*Node) *Node { return r.apply(scope, in[0], in[1]) }, x, u.temb)
}

// transformerAt runs the Transformer2D under scope on x (and the context), as a block of its own.
func (u unetBlocks) transformerAt(scope *model.Scope, t transformer2D, x *Node) *Node {
	return u.run(scope, func(scope *model.Scope, in []*Node) *Node { return t.apply(scope, in[0], in[1]) }, x, u.context)
}

func (u unetBlocks) resnet(outChannels int, outScale float64) resnetBlock {
	return resnetBlock{outChannels: outChannels, groups: u.plan.groups, eps: u.cfg.NormEps, outScale: outScale,
		act: diffusersActivation(u.cfg.ActFn)}
}

func (u unetBlocks) transformer(b unetBlock, layer int) transformer2D {
	return transformer2D{heads: b.heads, headDim: b.headDim, layers: b.transformerLayers[layer], groups: u.plan.groups,
		linearProj: u.cfg.UseLinearProjection, onlyCross: b.onlyCross, attnLinear: u.attnLinear}
}

// down runs a DownBlock2D or CrossAttnDownBlock2D on h and returns its output and the skip
// connections it adds (one per layer, then the downsampled output).
//
// Learned, under scope: resnets/<j>, attentions/<j> (cross-attention blocks) and
// downsamplers/0/conv (all but the last block).
func (u unetBlocks) down(scope *model.Scope, b unetBlock, h *Node) (*Node, []*Node) {
	var skips []*Node
	resnets := scope.In("resnets")
	var attentions *model.Scope
	if b.crossAttention {
		attentions = scope.In("attentions")
	}
	for j := range b.layers {
		h = u.resnetAt(resnets.In("%d", j), u.resnet(b.out, 1), h)
		if b.crossAttention {
			h = u.transformerAt(attentions.In("%d", j), u.transformer(b, j), h)
		}
		skips = append(skips, h)
	}
	if b.resample {
		h = u.run(scope.In("downsamplers").In("0"), func(scope *model.Scope, in []*Node) *Node {
			return downsample2D(scope, in[0], u.cfg.DownsamplePadding)
		}, h)
		skips = append(skips, h)
	}
	return h, skips
}

// mid runs UNetMidBlock2DCrossAttn (resnets/0, then attentions/<j> and resnets/<j+1> per layer)
// or UNetMidBlock2D (resnets/0 only), with mid_block_scale_factor as the resnets'
// output_scale_factor.
func (u unetBlocks) mid(scope *model.Scope, b unetBlock, h *Node) *Node {
	resnets := scope.In("resnets")
	resnet := u.resnet(b.out, u.cfg.MidBlockScaleFactor)
	h = u.resnetAt(resnets.In("0"), resnet, h)
	if b.layers == 0 {
		return h
	}
	attentions := scope.In("attentions")
	for j := range b.layers {
		h = u.transformerAt(attentions.In("%d", j), u.transformer(b, j), h)
		h = u.resnetAt(resnets.In("%d", j+1), resnet, h)
	}
	return h
}

// up runs an UpBlock2D or CrossAttnUpBlock2D: each layer concatenates the next skip connection
// (popped from the end of skips) after h along the channels, as torch.cat([h, skip], dim=1),
// then runs a resnet (and a transformer). All but the last block end with upsamplers/0: nearest
// resizing to the size of the skip connection that the next block takes first (twice the size,
// unless a downsampling rounded an odd size up) and a 3×3 convolution. It returns h and the
// remaining skips.
func (u unetBlocks) up(scope *model.Scope, b unetBlock, h *Node, skips []*Node) (*Node, []*Node) {
	resnets := scope.In("resnets")
	var attentions *model.Scope
	if b.crossAttention {
		attentions = scope.In("attentions")
	}
	for j := range b.layers {
		skip := skips[len(skips)-1]
		skips = skips[:len(skips)-1]
		// The concatenation is inside the block: checkpointed, it is not kept beside h and skip.
		resnet := u.resnet(b.out, 1)
		h = u.run(resnets.In("%d", j), func(scope *model.Scope, in []*Node) *Node {
			return resnet.apply(scope, Concatenate([]*Node{in[0], in[1]}, -1), in[2])
		}, h, skip, u.temb)
		if b.crossAttention {
			h = u.transformerAt(attentions.In("%d", j), u.transformer(b, j), h)
		}
	}
	if b.resample {
		next := skips[len(skips)-1].Shape().Dimensions
		h = u.run(scope.In("upsamplers").In("0"), func(scope *model.Scope, in []*Node) *Node {
			return upsample2D(scope, in[0], next[1], next[2])
		}, h)
	}
	return h, skips
}
