package diffusion

import (
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/nn"
)

// textTimeEmbedding is diffusers' TextTimeEmbedding, the U-Net's add_embedding when
// addition_embed_type is "text": the text encoder's hidden states pooled into one vector and
// added to the time embedding, so that the prompt reaches every ResNet of every resolution
// (through its time_emb_proj), not only the blocks with cross-attention.
//
//	norm1 (LayerNorm) → pool (AttentionPooling) → proj (Linear to time_embed_dim) → norm2 (LayerNorm)
//
// context: [batch, Lk, C]; returns [batch, timeEmbedDim]. Every position is pooled, padding
// included, as diffusers does (it passes no mask).
func textTimeEmbedding(scope *model.Scope, context *Node, heads, timeEmbedDim int) *Node {
	h := nn.LayerNorm(scope.In("norm1"), context, 1e-5)
	h = attentionPooling(scope.In("pool"), h, heads)
	h = nn.Linear(scope.In("proj"), h, timeEmbedDim, true)
	return nn.LayerNorm(scope.In("norm2"), h, 1e-5)
}

// attentionPooling is diffusers' AttentionPooling (from CLIP's attention pool): a class token,
// the mean of x plus a learned positional_embedding [1, C], attends with heads heads over itself
// and x (k_proj, q_proj, v_proj: Linear C→C with bias); returns the class token's output
// [batch, C], heads concatenated. x: [batch, L, C], C divisible by heads.
func attentionPooling(scope *model.Scope, x *Node, heads int) *Node {
	d := x.Shape().Dimensions
	b, l, c := d[0], d[1], d[2]
	dph := c / heads
	// torch.randn(1, embed_dim) / embed_dim**0.5
	pos := nn.Variable(scope, "positional_embedding", shapes.Make(x.DType(), 1, c), func(r *rand.Rand, data []float64) {
		for i := range data {
			data[i] = r.NormFloat64() / math.Sqrt(float64(c))
		}
	}).NodeValue(x.Graph())
	cls := Add(ReduceAndKeep(x, ReduceMean, 1), Reshape(pos, 1, 1, c)) // [b, 1, c]
	all := Concatenate([]*Node{cls, x}, 1)                             // [b, l+1, c]
	q := Reshape(nn.Linear(scope.In("q_proj"), cls, c, true), b, 1, heads, dph)
	k := Reshape(nn.Linear(scope.In("k_proj"), all, c, true), b, l+1, heads, dph)
	v := Reshape(nn.Linear(scope.In("v_proj"), all, c, true), b, l+1, heads, dph)
	// diffusers scales q and k by dph^(-1/4) each: softmax(q·kᵀ/√dph), SDPA's default scale.
	return Reshape(nn.ScaledDotProductAttention(q, k, v, nil, 0), b, c)
}
