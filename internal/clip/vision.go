package clip

import (
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/gorpo/gorpo/internal/nn"
)

// VisionOutput is what VisionTransformer builds.
type VisionOutput struct {
	// LastHidden is transformers' last_hidden_state, [batch, 1+patches, dim]: the last layer's
	// output (CLIP has no final norm over the sequence).
	LastHidden *Node
	// Pooled is transformers' pooler_output, [batch, dim]: post_layernorm of the class token.
	Pooled *Node
	// Hidden is transformers' hidden_states: the embeddings after pre_layrnorm, then each layer's
	// output (num_hidden_layers+1 nodes).
	Hidden []*Node
}

// VisionTransformer is transformers' CLIPVisionTransformer (the image tower of CLIPModel).
//
// pixels: [batch, image_size, image_size, num_channels], channels last (CLIPImageProcessor's
// NCHW pixel values transposed; any float dtype, which the result keeps). Learned, under scope:
// embeddings/class_embedding [dim], embeddings/patch_embedding/weight [dim, channels, patch,
// patch] (a convolution without bias), embeddings/position_embedding/weight [1+patches, dim],
// pre_layrnorm (sic, the upstream name), encoder/layers/N/... as in TextTransformer, and
// post_layernorm.
func VisionTransformer(scope *model.Scope, cfg VisionConfig, pixels *Node) VisionOutput {
	if err := cfg.Validate(); err != nil {
		exceptions.Panicf("clip.VisionTransformer: %v", err)
	}
	want := []int{pixels.Shape().Dim(0), cfg.ImageSize, cfg.ImageSize, cfg.NumChannels}
	if pixels.Rank() != 4 || !pixels.Shape().Equal(shapes.Make(pixels.DType(), want...)) {
		exceptions.Panicf("clip.VisionTransformer: pixels %s, want %v (channels last)", pixels.Shape(), want)
	}
	g, dtype, dim := pixels.Graph(), pixels.DType(), cfg.HiddenSize
	emb := scope.In("embeddings")
	p, c := cfg.PatchSize, cfg.NumChannels
	patchW := nn.Variable(emb.In("patch_embedding"), "weight", shapes.Make(dtype, dim, c, p, p),
		nn.KaimingUniformInit(c*p*p)).NodeValue(g)
	classEmb := nn.Variable(emb, "class_embedding", shapes.Make(dtype, dim), normalInit).NodeValue(g)
	posEmb := nn.Variable(emb.In("position_embedding"), "weight", shapes.Make(dtype, cfg.NumPatches()+1, dim),
		normalInit).NodeValue(g)

	x := PrependToken(PatchEmbed(pixels, patchW, nil), classEmb) // [batch, 1+patches, dim]
	x = Add(x, ExpandAxes(posEmb, 0))
	x = nn.LayerNorm(scope.In("pre_layrnorm"), x, cfg.LayerNormEps)

	t := tower{layers: cfg.NumHiddenLayers, heads: cfg.NumAttentionHeads, intermediate: cfg.IntermediateSize,
		eps: cfg.LayerNormEps, act: mustActivation(cfg.HiddenAct)}
	hidden := encoder(scope.In("encoder"), t, x, nil)
	last := hidden[len(hidden)-1]
	return VisionOutput{
		LastHidden: last,
		Pooled:     nn.LayerNorm(scope.In("post_layernorm"), FirstToken(last), cfg.LayerNormEps),
		Hidden:     hidden,
	}
}

// PatchEmbed is a ViT's patch embedding, the convolution with kernel = stride = patch size,
// computed as one matmul over non-overlapping patches (no im2col slicing is needed when the
// windows do not overlap; one activation transpose gathers each patch).
//
// pixels: [batch, H, W, channels] (channels last); weight: [dim, channels, p, p] (torch's Conv2d
// layout, as checkpoints store it); bias: [dim] or nil. Returns [batch, (H/p)·(W/p), dim], patches
// in row-major order (torch's conv output .flatten(2).transpose(1, 2)). Rows and columns beyond a
// multiple of p are dropped, as the strided convolution drops them.
func PatchEmbed(pixels, weight, bias *Node) *Node {
	if pixels.Rank() != 4 || weight.Rank() != 4 {
		exceptions.Panicf("clip.PatchEmbed: pixels %s, weight %s, want [batch, H, W, C] and [dim, C, p, p]", pixels.Shape(), weight.Shape())
	}
	pd, wd := pixels.Shape().Dimensions, weight.Shape().Dimensions
	batch, h, w, c := pd[0], pd[1], pd[2], pd[3]
	dim, p := wd[0], wd[2]
	if wd[1] != c || wd[3] != p || p > h || p > w {
		exceptions.Panicf("clip.PatchEmbed: weight %s does not fit pixels %s: want [dim, %d, p, p] with p ≤ %d", weight.Shape(), pixels.Shape(), c, min(h, w))
	}
	gh, gw := h/p, w/p
	if gh*p != h || gw*p != w {
		pixels = Slice(pixels, AxisRange(), AxisRange(0, gh*p), AxisRange(0, gw*p))
	}
	x := Reshape(pixels, batch, gh, p, gw, p, c)
	x = TransposeAllAxes(x, 0, 1, 3, 2, 4, 5) // [batch, gh, gw, p, p, C]
	x = Reshape(x, batch, gh*gw, p*p*c)
	kernel := Reshape(TransposeAllAxes(weight, 0, 2, 3, 1), dim, p*p*c) // [dim, p·p·C]
	return nn.LinearWith(x, kernel, bias)
}

// FirstToken is x[:, 0] for x: [batch, L, dim] → [batch, dim] (the class token).
func FirstToken(x *Node) *Node {
	return Reshape(Slice(x, AxisRange(), AxisElem(0)), x.Shape().Dim(0), x.Shape().Dim(-1))
}

// PrependToken puts token [dim] (a learned class token) before the sequence x: [batch, L, dim],
// giving [batch, 1+L, dim].
func PrependToken(x, token *Node) *Node {
	batch, dim := x.Shape().Dim(0), x.Shape().Dim(-1)
	cls := BroadcastToDims(Reshape(token, 1, 1, dim), batch, 1, dim)
	return Concatenate([]*Node{cls, x}, 1)
}
