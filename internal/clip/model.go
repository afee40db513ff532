package clip

import (
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/nn"
)

// ImageFeatures is CLIPModel.get_image_features: visual_projection (Linear without bias) of the
// image tower's pooled output. pixels: [batch, H, W, C] (channels last) → [batch,
// projection_dim]. Learned,
// under scope: vision_model/... (VisionTransformer) and visual_projection/weight [proj, dim].
func ImageFeatures(scope *model.Scope, cfg Config, pixels *Node) *Node {
	out := VisionTransformer(scope.In("vision_model"), cfg.Vision, pixels)
	return nn.Linear(scope.In("visual_projection"), out.Pooled, cfg.ProjectionDim, false)
}

// TextFeatures is CLIPModel.get_text_features: text_projection (Linear without bias) of the text
// tower's pooled output. ids: [batch, L]; attentionMask [batch, L] or nil →
// [batch, projection_dim]. Learned, under scope: text_model/... (TextTransformer) and
// text_projection/weight [proj, dim].
func TextFeatures(scope *model.Scope, cfg Config, ids, attentionMask *Node) *Node {
	out := TextTransformer(scope.In("text_model"), cfg.Text, ids, attentionMask)
	return nn.Linear(scope.In("text_projection"), out.Pooled, cfg.ProjectionDim, false)
}

// Output is what Forward builds: CLIPModel's forward outputs.
type Output struct {
	ImageFeatures, TextFeatures *Node // projected, not normalised: [images, proj], [texts, proj]
	ImageEmbeds, TextEmbeds     *Node // the same, L2-normalised
	LogitsPerImage              *Node // [images, texts]: exp(logit_scale)·ImageEmbeds·TextEmbedsᵀ
	LogitsPerText               *Node // [texts, images], its transpose
}

// Forward is CLIPModel.forward on pixels [images, H, W, C] (channels last) and ids [texts, L]
// (attentionMask
// [texts, L] or nil). Learned, under scope: as ImageFeatures and TextFeatures, and the scalar
// "logit_scale" (the log of the temperature's inverse).
func Forward(scope *model.Scope, cfg Config, pixels, ids, attentionMask *Node) Output {
	var o Output
	o.ImageFeatures = ImageFeatures(scope, cfg, pixels)
	o.TextFeatures = TextFeatures(scope, cfg, ids, attentionMask)
	o.ImageEmbeds = Normalize(o.ImageFeatures)
	o.TextEmbeds = Normalize(o.TextFeatures)
	scale := nn.Variable(scope, "logit_scale", shapes.Make(o.ImageEmbeds.DType()),
		nn.ConstantInit(cfg.LogitScaleInitValue)).NodeValue(pixels.Graph())
	sim := Dot(o.ImageEmbeds, o.TextEmbeds).General([]int{1}, nil, []int{1}, nil) // [images, texts]
	o.LogitsPerImage = Mul(sim, Exp(scale))
	o.LogitsPerText = TransposeAllAxes(o.LogitsPerImage, 1, 0)
	return o
}

// Normalize divides each row of x [..., d] by its L2 norm (transformers' x / x.norm(dim=-1),
// no epsilon).
func Normalize(x *Node) *Node {
	return Div(x, Sqrt(ReduceAndKeep(Square(x), ReduceSum, -1)))
}
