package clip

import (
	"math/rand/v2"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/gorpo/gorpo/internal/nn"
)

// normalInit is torch's default for nn.Embedding and CLIP's class embedding: N(0, 1).
func normalInit(r *rand.Rand, data []float64) {
	for i := range data {
		data[i] = r.NormFloat64()
	}
}

// TextOutput is what TextTransformer builds.
type TextOutput struct {
	// LastHidden is transformers' last_hidden_state, [batch, L, dim]: the last layer's output
	// after final_layer_norm.
	LastHidden *Node
	// Pooled is transformers' pooler_output, [batch, dim]: LastHidden at PoolIndex.
	Pooled *Node
	// Hidden is transformers' hidden_states, num_hidden_layers+1 nodes [batch, L, dim]: the
	// embeddings, then the output of each layer, none with the final layer norm (Hidden[len-2]
	// is the penultimate layer's output, SD 2.x's conditioning once FinalNorm is applied).
	Hidden []*Node
	// FinalNorm applies final_layer_norm (the same weights) to any [..., dim] node, for
	// clip-skip style use of Hidden.
	FinalNorm func(x *Node) *Node
}

// TextTransformer is transformers' CLIPTextTransformer (the text tower of CLIPModel, and
// CLIPTextModel's "text_model").
//
// ids: [batch, L] integer token ids, L ≤ max_position_embeddings. attentionMask, optional
// (nil for none, as Stable Diffusion calls it): [batch, L], 1 for tokens and 0 for padding; it
// is combined with the causal mask. Learned, under scope: embeddings/token_embedding/weight
// [vocab, dim], embeddings/position_embedding/weight [max_positions, dim],
// encoder/layers/N/{layer_norm1, self_attn/{q,k,v,out}_proj, layer_norm2, mlp/fc1, mlp/fc2} and
// final_layer_norm; float32. It computes in float32; see TextTransformerIn for other dtypes.
func TextTransformer(scope *model.Scope, cfg TextConfig, ids, attentionMask *Node) TextOutput {
	return TextTransformerIn(scope, cfg, ids, attentionMask, dtypes.Float32)
}

// TextTransformerIn is TextTransformer computing in dtype (bfloat16 for mixed precision on GPUs):
// the embeddings are looked up in the (float32) variables and converted, every layer converts
// the weights it reads (internal/nn), layer norms and softmax stay in float32, and the outputs
// (LastHidden, Pooled, Hidden, FinalNorm's) are in dtype.
func TextTransformerIn(scope *model.Scope, cfg TextConfig, ids, attentionMask *Node, dtype dtypes.DType) TextOutput {
	if err := cfg.Validate(); err != nil {
		exceptions.Panicf("clip.TextTransformer: %v", err)
	}
	if ids.Rank() != 2 || !ids.DType().IsInt() {
		exceptions.Panicf("clip.TextTransformer: ids %s, want [batch, L] integers", ids.Shape())
	}
	g := ids.Graph()
	batch, l := ids.Shape().Dim(0), ids.Shape().Dim(1)
	if l > cfg.MaxPositionEmbeddings {
		exceptions.Panicf("clip.TextTransformer: %d tokens, more than max_position_embeddings %d", l, cfg.MaxPositionEmbeddings)
	}
	dim, f32 := cfg.HiddenSize, dtypes.Float32

	emb := scope.In("embeddings")
	tokens := nn.Variable(emb.In("token_embedding"), "weight", shapes.Make(f32, cfg.VocabSize, dim), normalInit).NodeValue(g)
	positions := nn.Variable(emb.In("position_embedding"), "weight", shapes.Make(f32, cfg.MaxPositionEmbeddings, dim), normalInit).NodeValue(g)
	x := Gather(tokens, ExpandAxes(ids, -1))                     // [batch, L, dim]
	x = Add(x, ExpandAxes(Slice(positions, AxisRange(0, l)), 0)) // + [1, L, dim]
	x = ConvertDType(x, dtype)

	mask := TextMask(g, batch, l, attentionMask)
	t := tower{layers: cfg.NumHiddenLayers, heads: cfg.NumAttentionHeads, intermediate: cfg.IntermediateSize,
		eps: cfg.LayerNormEps, act: mustActivation(cfg.HiddenAct)}
	hidden := encoder(scope.In("encoder"), t, x, mask)

	lnScope := scope.In("final_layer_norm")
	lnShape := shapes.Make(f32, dim)
	lnW := nn.Variable(lnScope, "weight", lnShape, nn.ConstantInit(1)).NodeValue(g)
	lnB := nn.Variable(lnScope, "bias", lnShape, nn.ConstantInit(0)).NodeValue(g)
	finalNorm := func(x *Node) *Node { return nn.LayerNormWith(x, cfg.LayerNormEps, lnW, lnB) }

	last := finalNorm(hidden[len(hidden)-1])
	return TextOutput{
		LastHidden: last,
		Pooled:     GatherRows(last, PoolIndex(ids, cfg.EOSTokenID)),
		Hidden:     hidden,
		FinalNorm:  finalNorm,
	}
}

// TextMask is the boolean attention mask of CLIP's text tower, [batch, 1, L, L] (true to
// attend): causal (query i sees keys j ≤ i) and, when attentionMask [batch, L] is not nil,
// only keys whose mask is non-zero.
func TextMask(g *Graph, batch, l int, attentionMask *Node) *Node {
	shape := shapes.Make(dtypes.Int32, l, l)
	causal := LessOrEqual(Iota(g, shape, 1), Iota(g, shape, 0)) // key ≤ query
	mask := BroadcastToDims(Reshape(causal, 1, 1, l, l), batch, 1, l, l)
	if attentionMask == nil {
		return mask
	}
	if attentionMask.Rank() != 2 || attentionMask.Shape().Dim(0) != batch || attentionMask.Shape().Dim(1) != l {
		exceptions.Panicf("clip.TextMask: attention mask %s, want [%d, %d]", attentionMask.Shape(), batch, l)
	}
	keep := attentionMask
	if keep.DType() != dtypes.Bool {
		keep = NotEqual(keep, ZerosLike(keep))
	}
	keep = BroadcastToDims(Reshape(keep, batch, 1, 1, l), batch, 1, l, l)
	return LogicalAnd(mask, keep)
}

// PoolIndex returns, for ids [batch, L], the position transformers' CLIPTextTransformer pools
// at, [batch] int32: with the legacy eos_token_id 2 of OpenAI's original configs (Stable
// Diffusion's text encoders), the first position of the largest id (<|endoftext|> has the
// largest id of CLIP's vocabulary); otherwise the first position equal to eosTokenID, or 0 when
// there is none (torch's argmax of all zeros).
func PoolIndex(ids *Node, eosTokenID int) *Node {
	g := ids.Graph()
	batch, l := ids.Shape().Dim(0), ids.Shape().Dim(1)
	var hit *Node
	if eosTokenID == 2 {
		hit = Equal(ids, BroadcastToDims(ReduceAndKeep(ids, ReduceMax, 1), batch, l))
	} else {
		hit = Equal(ids, Scalar(g, ids.DType(), eosTokenID))
	}
	pos := Iota(g, shapes.Make(dtypes.Int32, batch, l), 1)
	none := Scalar(g, dtypes.Int32, l)
	first := ReduceMin(Where(hit, pos, none), 1)
	return Where(Equal(first, none), ZerosLike(first), first)
}

// GatherRows picks x[b, index[b]] for x: [batch, L, dim] and index: [batch] → [batch, dim].
func GatherRows(x, index *Node) *Node {
	g := x.Graph()
	batch := x.Shape().Dim(0)
	index = ConvertDType(index, dtypes.Int32)
	rows := Iota(g, shapes.Make(dtypes.Int32, batch), 0)
	return Gather(x, Stack([]*Node{rows, index}, -1))
}
