package align

import (
	"fmt"
	"math"

	"github.com/gorpo/gorpo/internal/nn"
)

// AlignTextConfig is transformers' AlignTextConfig, the "text_config" of an ALIGN config.json: a
// BERT encoder. Field names are the upstream JSON names; the defaults (NewAlignTextConfig) are
// transformers' (BERT-base, as kakaobrain/align-base).
type AlignTextConfig struct {
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`
	NumHiddenLayers       int     `json:"num_hidden_layers"`
	NumAttentionHeads     int     `json:"num_attention_heads"`
	IntermediateSize      int     `json:"intermediate_size"`
	HiddenAct             string  `json:"hidden_act"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	TypeVocabSize         int     `json:"type_vocab_size"`
	LayerNormEps          float64 `json:"layer_norm_eps"`
	PadTokenID            int     `json:"pad_token_id"`

	// Settings of which only the default is supported: absolute position embeddings, an
	// encoder without cross-attention.
	PositionEmbeddingType string `json:"position_embedding_type"`
	IsDecoder             bool   `json:"is_decoder"`
	AddCrossAttention     bool   `json:"add_cross_attention"`

	// Training-only settings, read and ignored (no dropout at inference).
	HiddenDropoutProb         float64 `json:"hidden_dropout_prob"`
	AttentionProbsDropoutProb float64 `json:"attention_probs_dropout_prob"`
}

// NewAlignTextConfig returns transformers' defaults.
func NewAlignTextConfig() *AlignTextConfig {
	return &AlignTextConfig{
		VocabSize:                 30522,
		HiddenSize:                768,
		NumHiddenLayers:           12,
		NumAttentionHeads:         12,
		IntermediateSize:          3072,
		HiddenAct:                 "gelu",
		MaxPositionEmbeddings:     512,
		TypeVocabSize:             2,
		LayerNormEps:              1e-12,
		PositionEmbeddingType:     "absolute",
		HiddenDropoutProb:         0.1,
		AttentionProbsDropoutProb: 0.1,
	}
}

// validate checks every setting the model reads; errors name the field.
func (c *AlignTextConfig) validate() error {
	const s = "text_config"
	for _, p := range []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads}, {"intermediate_size", c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings}, {"type_vocab_size", c.TypeVocabSize},
	} {
		if err := checkSize(s, p.name, p.v); err != nil {
			return err
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("%s.hidden_size = %d is not a multiple of num_attention_heads = %d", s, c.HiddenSize, c.NumAttentionHeads)
	}
	if !(c.LayerNormEps >= 0) || math.IsInf(c.LayerNormEps, 0) {
		return fmt.Errorf("%s.layer_norm_eps = %v, want a finite number >= 0", s, c.LayerNormEps)
	}
	if _, ok := alignActivation(c.HiddenAct); !ok {
		return fmt.Errorf("%s.hidden_act = %q not supported (want one of %v)", s, c.HiddenAct, nn.ActivationNames())
	}
	if c.PositionEmbeddingType != "" && c.PositionEmbeddingType != "absolute" {
		return fmt.Errorf("%s.position_embedding_type = %q not supported (want \"absolute\")", s, c.PositionEmbeddingType)
	}
	if c.IsDecoder {
		return fmt.Errorf("%s.is_decoder = true not supported (ALIGN's text tower is an encoder)", s)
	}
	if c.AddCrossAttention {
		return fmt.Errorf("%s.add_cross_attention = true not supported", s)
	}
	return nil
}
