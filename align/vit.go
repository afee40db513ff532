package align

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"

	"github.com/gorpo/gorpo/internal/clip"
	"github.com/gorpo/gorpo/internal/modelfs"
	"github.com/gorpo/gorpo/internal/nn"
)

// ViTConfig is transformers' ViTConfig (a ViTModel's config.json, such as facebook/dino-vits16's)
// under its upstream JSON names. Fields the file leaves out take transformers' defaults
// (DefaultViTConfig); fields the encoder does not use (dropout, initialisers, the pooler's, which
// DINO does not use) are ignored; values it cannot reproduce are refused, naming the field.
type ViTConfig struct {
	ModelType         string  `json:"model_type"`
	HiddenSize        int     `json:"hidden_size"`
	NumHiddenLayers   int     `json:"num_hidden_layers"`
	NumAttentionHeads int     `json:"num_attention_heads"`
	IntermediateSize  int     `json:"intermediate_size"`
	HiddenAct         string  `json:"hidden_act"`
	LayerNormEps      float64 `json:"layer_norm_eps"`
	ImageSize         int     `json:"image_size"`
	PatchSize         int     `json:"patch_size"`
	NumChannels       int     `json:"num_channels"`
	QKVBias           bool    `json:"qkv_bias"`
	InitializerRange  float64 `json:"initializer_range"`
}

// DefaultViTConfig returns transformers' ViTConfig defaults (ViT-B/16 at 224×224, layer norm eps
// 1e-12).
func DefaultViTConfig() ViTConfig {
	return ViTConfig{
		ModelType: "vit", HiddenSize: 768, NumHiddenLayers: 12, NumAttentionHeads: 12, IntermediateSize: 3072,
		HiddenAct: "gelu", LayerNormEps: 1e-12, ImageSize: 224, PatchSize: 16, NumChannels: 3, QKVBias: true,
		InitializerRange: 0.02,
	}
}

// LoadViTConfig reads a ViTModel config.json (path is the file, or a folder holding it).
func LoadViTConfig(path string) (ViTConfig, error) { return loadViTConfig(modelfs.OS, path) }

func loadViTConfig(fsys modelfs.FS, path string) (ViTConfig, error) {
	if info, err := fsys.Stat(path); err == nil && info.IsDir() {
		path = fsys.Join(path, "config.json")
	}
	data, err := fsys.ReadFile(path)
	if err != nil {
		return ViTConfig{}, fmt.Errorf("align: %w", err)
	}
	c, err := ParseViTConfig(data)
	if err != nil {
		return ViTConfig{}, fmt.Errorf("align: %s: %w", path, err)
	}
	return c, nil
}

// ParseViTConfig is LoadViTConfig on the contents of a config.json.
func ParseViTConfig(data []byte) (ViTConfig, error) {
	c := DefaultViTConfig()
	if err := json.Unmarshal(data, &c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return ViTConfig{}, fmt.Errorf("ViTConfig: field %q: a JSON %s, want %s", te.Field, te.Value, te.Type)
		}
		return ViTConfig{}, fmt.Errorf("ViTConfig: %w", err)
	}
	return c, c.Validate()
}

// Validate refuses what the encoder cannot reproduce; the error names the field.
func (c ViTConfig) Validate() error {
	if c.ModelType != "" && c.ModelType != "vit" {
		return fmt.Errorf("ViTConfig: field \"model_type\" = %q, want \"vit\"", c.ModelType)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"hidden_size", c.HiddenSize}, {"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads}, {"intermediate_size", c.IntermediateSize},
		{"image_size", c.ImageSize}, {"patch_size", c.PatchSize}, {"num_channels", c.NumChannels},
	} {
		if err := checkSize("ViTConfig", f.name, f.v); err != nil {
			return err
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("ViTConfig: field \"num_attention_heads\" = %d does not divide hidden_size %d", c.NumAttentionHeads, c.HiddenSize)
	}
	if c.PatchSize > c.ImageSize {
		return fmt.Errorf("ViTConfig: field \"patch_size\" = %d, larger than image_size %d", c.PatchSize, c.ImageSize)
	}
	if _, err := clip.Activation(c.HiddenAct); err != nil {
		return fmt.Errorf("ViTConfig: field \"hidden_act\" = %q: %v", c.HiddenAct, err)
	}
	if !(c.LayerNormEps > 0) || math.IsInf(c.LayerNormEps, 0) {
		return fmt.Errorf("ViTConfig: field \"layer_norm_eps\" = %v, want a positive number", c.LayerNormEps)
	}
	return nil
}

// NumPatches is (image_size / patch_size)², rounded down as the strided patch convolution does.
func (c ViTConfig) NumPatches() int {
	g := c.ImageSize / c.PatchSize
	return g * g
}

// vitNormalInit is N(0, std²), for the class token and position embeddings of fresh models
// (transformers draws them truncated at ±2 std; only trained weights matter here).
func vitNormalInit(std float64) nn.Init {
	return func(r *rand.Rand, data []float64) {
		for i := range data {
			data[i] = r.NormFloat64() * std
		}
	}
}

// ViTModel is transformers' ViTModel without its pooler (add_pooling_layer=False, DINO's use):
// patch embedding, class token and position embeddings, pre-norm transformer layers, and the
// final layer norm over the whole sequence. The class token of the result is DINO's image
// embedding.
//
// pixels: [batch, image_size, image_size, num_channels], channels last (ViTImageProcessor's NCHW
// pixel values transposed; any float dtype, which the result keeps) → last_hidden_state
// [batch, 1+patches, hidden_size]. Learned, under scope, by their upstream names:
// embeddings/{cls_token [1, 1, dim], position_embeddings [1, 1+patches, dim],
// patch_embeddings/projection (a convolution with bias)}, encoder/layer/N/{layernorm_before,
// attention/attention/{query,key,value}, attention/output/dense, layernorm_after,
// intermediate/dense, output/dense}, and layernorm.
func ViTModel(scope *model.Scope, cfg ViTConfig, pixels *Node) *Node {
	if err := cfg.Validate(); err != nil {
		exceptions.Panicf("align.ViTModel: %v", err)
	}
	want := []int{pixels.Shape().Dim(0), cfg.ImageSize, cfg.ImageSize, cfg.NumChannels}
	if pixels.Rank() != 4 || !pixels.Shape().Equal(shapes.Make(pixels.DType(), want...)) {
		exceptions.Panicf("align.ViTModel: pixels %s, want %v (channels last)", pixels.Shape(), want)
	}
	g, dtype, dim := pixels.Graph(), pixels.DType(), cfg.HiddenSize
	p, c := cfg.PatchSize, cfg.NumChannels

	emb := scope.In("embeddings")
	proj := emb.In("patch_embeddings").In("projection")
	fanIn := c * p * p
	w := nn.Variable(proj, "weight", shapes.Make(dtype, dim, c, p, p), nn.KaimingUniformInit(fanIn)).NodeValue(g)
	b := nn.Variable(proj, "bias", shapes.Make(dtype, dim), nn.KaimingUniformInit(fanIn)).NodeValue(g)
	cls := nn.Variable(emb, "cls_token", shapes.Make(dtype, 1, 1, dim), vitNormalInit(cfg.InitializerRange)).NodeValue(g)
	pos := nn.Variable(emb, "position_embeddings", shapes.Make(dtype, 1, cfg.NumPatches()+1, dim),
		vitNormalInit(cfg.InitializerRange)).NodeValue(g)
	x := clip.PrependToken(clip.PatchEmbed(pixels, w, b), Reshape(cls, dim))
	x = Add(x, pos)

	act, _ := clip.Activation(cfg.HiddenAct)
	layers := scope.In("encoder").In("layer")
	for i := range cfg.NumHiddenLayers {
		x = vitLayer(layers.In("%d", i), cfg, act, x)
	}
	return nn.LayerNorm(scope.In("layernorm"), x, cfg.LayerNormEps)
}

// vitLayer is transformers' ViTLayer: pre-norm self-attention and MLP, each with a residual.
func vitLayer(scope *model.Scope, cfg ViTConfig, act func(*Node) *Node, x *Node) *Node {
	attn := scope.In("attention")
	self := attn.In("attention")
	h := nn.LayerNorm(scope.In("layernorm_before"), x, cfg.LayerNormEps)
	h = clip.SelfAttention(h, cfg.NumAttentionHeads, cfg.QKVBias, nil,
		self.In("query"), self.In("key"), self.In("value"), attn.In("output").In("dense"))
	x = Add(x, h)
	h = nn.LayerNorm(scope.In("layernorm_after"), x, cfg.LayerNormEps)
	h = act(nn.Linear(scope.In("intermediate").In("dense"), h, cfg.IntermediateSize, true))
	h = nn.Linear(scope.In("output").In("dense"), h, cfg.HiddenSize, true)
	return Add(x, h)
}
