package align

import (
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/gorpo/gorpo/internal/nn"
)

// AlignTextModel is ALIGN's text tower, transformers' AlignTextModel: BERT (Devlin et al., 2019,
// arXiv:1810.04805), post-LayerNorm, with absolute position embeddings. It returns the last
// hidden state [batch, seq, hidden_size].
//
//   - inputIDs: [batch, seq], integer token ids (WordPiece; see WordPiece.EncodePadded).
//   - attentionMask: [batch, seq], 1 for tokens and 0 for padding (any dtype), or nil for no
//     padding. Padded keys get an additive −max-float32 score, as transformers does.
//   - tokenTypeIDs: [batch, seq] segment ids, or nil for all zeros.
//
// seq must not exceed max_position_embeddings. Learned, under scope, with transformers' names:
// "embeddings" ("word_embeddings", "position_embeddings", "token_type_embeddings", "LayerNorm")
// and "encoder/layer/<i>" ("attention/self/{query,key,value}", "attention/output/{dense,LayerNorm}",
// "intermediate/dense", "output/{dense,LayerNorm}"). The pooler is not part of it: ALIGN's text
// features project the first token's last hidden state instead (see ALIGN.TextFeatures).
func AlignTextModel(scope *model.Scope, cfg *AlignTextConfig, inputIDs, attentionMask, tokenTypeIDs *Node) *Node {
	if inputIDs.Rank() != 2 || !inputIDs.DType().IsInt() {
		exceptions.Panicf("align: input ids %s, want integers [batch, seq]", inputIDs.Shape())
	}
	batch, seq := inputIDs.Shape().Dim(0), inputIDs.Shape().Dim(1)
	for _, in := range []struct {
		name string
		x    *Node
	}{{"attention mask", attentionMask}, {"token type ids", tokenTypeIDs}} {
		if in.x != nil && (in.x.Rank() != 2 || in.x.Shape().Dim(0) != batch || in.x.Shape().Dim(1) != seq) {
			exceptions.Panicf("align: %s %s, want [%d, %d] like the input ids", in.name, in.x.Shape(), batch, seq)
		}
	}
	if tokenTypeIDs != nil && !tokenTypeIDs.DType().IsInt() {
		exceptions.Panicf("align: token type ids %s, want integers", tokenTypeIDs.Shape())
	}
	if seq > cfg.MaxPositionEmbeddings {
		exceptions.Panicf("align: %d tokens, more than text_config.max_position_embeddings = %d", seq, cfg.MaxPositionEmbeddings)
	}
	act, ok := alignActivation(cfg.HiddenAct)
	if !ok {
		exceptions.Panicf("align: text_config.hidden_act = %q not supported", cfg.HiddenAct)
	}

	x := bertEmbeddings(scope.In("embeddings"), cfg, inputIDs, tokenTypeIDs)
	var mask *Node
	if attentionMask != nil {
		mask = nn.PaddingMask(attentionMask) // [batch, 1, 1, seq]
	}
	layers := scope.In("encoder").In("layer")
	for i := range cfg.NumHiddenLayers {
		x = bertLayer(layers.In("%d", i), cfg, act, x, mask)
	}
	return x
}

// bertEmbeddings is AlignTextEmbeddings: word + token type + position embeddings, then LayerNorm.
func bertEmbeddings(scope *model.Scope, cfg *AlignTextConfig, ids, types *Node) *Node {
	g, dtype := ids.Graph(), alignDType
	d := cfg.HiddenSize
	batch, seq := ids.Shape().Dim(0), ids.Shape().Dim(1)
	table := func(name string, rows int) *Node {
		return nn.Variable(scope.In("%s", name), "weight", shapes.Make(dtype, rows, d), nn.UniformInit(1)).NodeValue(g)
	}
	words := table("word_embeddings", cfg.VocabSize)
	positions := table("position_embeddings", cfg.MaxPositionEmbeddings)
	typeTable := table("token_type_embeddings", cfg.TypeVocabSize)

	x := Gather(words, ExpandAxes(ids, -1)) // [batch, seq, d]
	if types != nil {
		x = Add(x, Gather(typeTable, ExpandAxes(types, -1)))
	} else {
		x = Add(x, Reshape(Slice(typeTable, AxisRange(0, 1)), 1, 1, d))
	}
	x = Add(x, Reshape(Slice(positions, AxisRange(0, seq)), 1, seq, d))
	x.AssertDims(batch, seq, d)
	return nn.LayerNorm(scope.In("LayerNorm"), x, cfg.LayerNormEps)
}

// bertLayer is AlignTextLayer: self-attention with its output projection and residual
// LayerNorm, then the feed-forward block with its residual LayerNorm.
func bertLayer(scope *model.Scope, cfg *AlignTextConfig, act func(*Node) *Node, x, mask *Node) *Node {
	d, heads := cfg.HiddenSize, cfg.NumAttentionHeads
	batch, seq := x.Shape().Dim(0), x.Shape().Dim(1)
	eps := cfg.LayerNormEps

	attn := scope.In("attention")
	self := attn.In("self")
	split := func(name string) *Node {
		return Reshape(nn.Linear(self.In("%s", name), x, d, true), batch, seq, heads, d/heads)
	}
	q, k, v := split("query"), split("key"), split("value")
	ctx := Reshape(nn.ScaledDotProductAttention(q, k, v, mask, 0), batch, seq, d)
	out := attn.In("output")
	h := nn.LayerNorm(out.In("LayerNorm"), Add(nn.Linear(out.In("dense"), ctx, d, true), x), eps)

	inter := act(nn.Linear(scope.In("intermediate").In("dense"), h, cfg.IntermediateSize, true))
	o := scope.In("output")
	return nn.LayerNorm(o.In("LayerNorm"), Add(nn.Linear(o.In("dense"), inter, d, true), h), eps)
}
