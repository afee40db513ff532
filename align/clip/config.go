package clip

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/gorpo/gorpo/internal/nn"
)

// ErrUnsupported is wrapped by every error about a config.json value this package refuses.
var ErrUnsupported = errors.New("unsupported")

// FieldError names the config.json field at fault and why.
type FieldError struct {
	Config string // "CLIPTextConfig", "CLIPVisionConfig" or "CLIPConfig"
	Field  string // upstream JSON name, e.g. "hidden_act"
	Value  any
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("clip: %s: field %q = %v: %s", e.Config, e.Field, e.Value, e.Reason)
}

// Unwrap makes errors.Is(err, ErrUnsupported) true.
func (e *FieldError) Unwrap() error { return ErrUnsupported }

// TextConfig is transformers' CLIPTextConfig under its upstream JSON names: the text tower of
// CLIPModel (config.json's "text_config") and Stable Diffusion's text_encoder (a bare
// CLIPTextModel config.json). Fields the file leaves out take transformers' defaults
// (DefaultTextConfig); fields this package does not use (dropout, initialisers, ...) are ignored.
type TextConfig struct {
	ModelType             string  `json:"model_type"`
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`
	IntermediateSize      int     `json:"intermediate_size"`
	ProjectionDim         int     `json:"projection_dim"`
	NumHiddenLayers       int     `json:"num_hidden_layers"`
	NumAttentionHeads     int     `json:"num_attention_heads"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	HiddenAct             string  `json:"hidden_act"`
	LayerNormEps          float64 `json:"layer_norm_eps"`
	PadTokenID            int     `json:"pad_token_id"`
	BOSTokenID            int     `json:"bos_token_id"`
	// EOSTokenID picks the pooled position: the first position holding it, or, for the legacy
	// value 2 of OpenAI's original configs (SD 1.x/2.x text encoders), the position of the
	// largest id (see PoolIndex).
	EOSTokenID int `json:"eos_token_id"`
}

// VisionConfig is transformers' CLIPVisionConfig under its upstream JSON names (config.json's
// "vision_config" of a CLIPModel). Defaults as DefaultVisionConfig.
type VisionConfig struct {
	ModelType         string  `json:"model_type"`
	HiddenSize        int     `json:"hidden_size"`
	IntermediateSize  int     `json:"intermediate_size"`
	ProjectionDim     int     `json:"projection_dim"`
	NumHiddenLayers   int     `json:"num_hidden_layers"`
	NumAttentionHeads int     `json:"num_attention_heads"`
	NumChannels       int     `json:"num_channels"`
	ImageSize         int     `json:"image_size"`
	PatchSize         int     `json:"patch_size"`
	HiddenAct         string  `json:"hidden_act"`
	LayerNormEps      float64 `json:"layer_norm_eps"`
}

// Config is transformers' CLIPConfig (a CLIPModel's config.json): both towers, the projection
// size and the initial logit scale (the learned one is the checkpoint's "logit_scale").
type Config struct {
	Text                TextConfig   `json:"-"`
	Vision              VisionConfig `json:"-"`
	ModelType           string       `json:"model_type"`
	ProjectionDim       int          `json:"projection_dim"`
	LogitScaleInitValue float64      `json:"logit_scale_init_value"`
}

// DefaultTextConfig returns transformers' CLIPTextConfig defaults (openai/clip-vit-base-patch32's
// text tower).
func DefaultTextConfig() TextConfig {
	return TextConfig{
		ModelType: "clip_text_model", VocabSize: 49408, HiddenSize: 512, IntermediateSize: 2048,
		ProjectionDim: 512, NumHiddenLayers: 12, NumAttentionHeads: 8, MaxPositionEmbeddings: 77,
		HiddenAct: "quick_gelu", LayerNormEps: 1e-5, PadTokenID: 1, BOSTokenID: 49406, EOSTokenID: 49407,
	}
}

// DefaultVisionConfig returns transformers' CLIPVisionConfig defaults (ViT-B/32 at 224×224).
func DefaultVisionConfig() VisionConfig {
	return VisionConfig{
		ModelType: "clip_vision_model", HiddenSize: 768, IntermediateSize: 3072, ProjectionDim: 512,
		NumHiddenLayers: 12, NumAttentionHeads: 12, NumChannels: 3, ImageSize: 224, PatchSize: 32,
		HiddenAct: "quick_gelu", LayerNormEps: 1e-5,
	}
}

// DefaultConfig returns transformers' CLIPConfig defaults.
func DefaultConfig() Config {
	return Config{Text: DefaultTextConfig(), Vision: DefaultVisionConfig(), ModelType: "clip",
		ProjectionDim: 512, LogitScaleInitValue: 2.6592}
}

// readConfigFile reads path, naming it in errors.
func readConfigFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("clip: %w", err) // *fs.PathError names the file
	}
	return data, nil
}

// LoadTextConfig reads a config.json: a CLIPModel's (its "text_config") or a bare CLIPTextModel's.
func LoadTextConfig(path string) (TextConfig, error) {
	data, err := readConfigFile(path)
	if err != nil {
		return TextConfig{}, err
	}
	c, err := ParseTextConfig(data)
	if err != nil {
		return TextConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// LoadConfig reads a CLIPModel's config.json.
func LoadConfig(path string) (Config, error) {
	data, err := readConfigFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseTextConfig reads the contents of a config.json holding a text tower: a CLIPModel's
// "text_config" (with the legacy "text_config_dict" taking precedence, as transformers does) or
// a bare CLIPTextModel config.
func ParseTextConfig(data []byte) (TextConfig, error) {
	raw, err := rawObject("CLIPTextConfig", data)
	if err != nil {
		return TextConfig{}, err
	}
	c := DefaultTextConfig()
	subs := [][]byte{data}
	if isComposite(raw) {
		subs = [][]byte{raw["text_config"], raw["text_config_dict"]}
	}
	for _, sub := range subs {
		if err := decodeInto("CLIPTextConfig", sub, &c); err != nil {
			return TextConfig{}, err
		}
	}
	return c, c.Validate()
}

// ParseVisionConfig reads the vision tower of a CLIPModel config.json ("vision_config", with
// "vision_config_dict" taking precedence) or a bare CLIPVisionModel config.
func ParseVisionConfig(data []byte) (VisionConfig, error) {
	raw, err := rawObject("CLIPVisionConfig", data)
	if err != nil {
		return VisionConfig{}, err
	}
	c := DefaultVisionConfig()
	subs := [][]byte{data}
	if isComposite(raw) {
		subs = [][]byte{raw["vision_config"], raw["vision_config_dict"]}
	}
	for _, sub := range subs {
		if err := decodeInto("CLIPVisionConfig", sub, &c); err != nil {
			return VisionConfig{}, err
		}
	}
	return c, c.Validate()
}

// ParseConfig reads the contents of a CLIPModel config.json: both towers and the projection.
func ParseConfig(data []byte) (Config, error) {
	c := DefaultConfig()
	if err := decodeInto("CLIPConfig", data, &c); err != nil {
		return Config{}, err
	}
	var err error
	if c.Text, err = ParseTextConfig(data); err != nil {
		return Config{}, err
	}
	if c.Vision, err = ParseVisionConfig(data); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// isComposite reports whether a config.json is a CLIPModel's (model_type "clip", or holding a
// tower's sub-config), whose towers are its sub-configs (transformers' defaults where absent).
func isComposite(raw map[string]json.RawMessage) bool {
	for _, k := range []string{"text_config", "text_config_dict", "vision_config", "vision_config_dict"} {
		if raw[k] != nil {
			return true
		}
	}
	var modelType string
	_ = json.Unmarshal(raw["model_type"], &modelType)
	return modelType == "clip"
}

// rawObject splits a JSON object into its fields.
func rawObject(kind string, data []byte) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("clip: %s: %w", kind, err)
	}
	return raw, nil
}

// decodeInto unmarshals data over dst (fields absent from data keep their values); a value of the
// wrong JSON type is a FieldError naming the field.
func decodeInto(kind string, data []byte, dst any) error {
	if len(bytes.TrimSpace(data)) == 0 || string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	if err := json.Unmarshal(data, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &FieldError{Config: kind, Field: te.Field, Value: te.Value,
				Reason: fmt.Sprintf("want a JSON value of Go type %s", te.Type)}
		}
		return fmt.Errorf("clip: %s: %w", kind, err)
	}
	return nil
}

// Validate refuses values this package cannot run, naming the field.
func (c TextConfig) Validate() error {
	const kind = "CLIPTextConfig"
	if c.ModelType != "" && c.ModelType != "clip_text_model" {
		return &FieldError{kind, "model_type", c.ModelType, `want "clip_text_model"`}
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"max_position_embeddings", c.MaxPositionEmbeddings}, {"projection_dim", max(c.ProjectionDim, 1)},
	} {
		if err := checkSize(kind, f.name, f.v); err != nil {
			return err
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return &FieldError{kind, "num_attention_heads", c.NumAttentionHeads,
			fmt.Sprintf("does not divide hidden_size %d", c.HiddenSize)}
	}
	if _, err := nn.ActivationByName(c.HiddenAct); err != nil {
		return &FieldError{kind, "hidden_act", c.HiddenAct, err.Error()}
	}
	if !(c.LayerNormEps > 0) || math.IsInf(c.LayerNormEps, 0) {
		return &FieldError{kind, "layer_norm_eps", c.LayerNormEps, "want a positive number"}
	}
	return nil
}

// Validate refuses values this package cannot run, naming the field.
func (c VisionConfig) Validate() error {
	const kind = "CLIPVisionConfig"
	if c.ModelType != "" && c.ModelType != "clip_vision_model" {
		return &FieldError{kind, "model_type", c.ModelType, `want "clip_vision_model"`}
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"num_channels", c.NumChannels}, {"image_size", c.ImageSize}, {"patch_size", c.PatchSize},
		{"projection_dim", max(c.ProjectionDim, 1)},
	} {
		if err := checkSize(kind, f.name, f.v); err != nil {
			return err
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return &FieldError{kind, "num_attention_heads", c.NumAttentionHeads,
			fmt.Sprintf("does not divide hidden_size %d", c.HiddenSize)}
	}
	if c.PatchSize > c.ImageSize {
		return &FieldError{kind, "patch_size", c.PatchSize, fmt.Sprintf("larger than image_size %d", c.ImageSize)}
	}
	if _, err := nn.ActivationByName(c.HiddenAct); err != nil {
		return &FieldError{kind, "hidden_act", c.HiddenAct, err.Error()}
	}
	if !(c.LayerNormEps > 0) || math.IsInf(c.LayerNormEps, 0) {
		return &FieldError{kind, "layer_norm_eps", c.LayerNormEps, "want a positive number"}
	}
	return nil
}

// NumPatches is the number of image patches, (image_size / patch_size)², rounded down as the
// strided patch convolution does.
func (c VisionConfig) NumPatches() int {
	g := c.ImageSize / c.PatchSize
	return g * g
}

// Validate checks both towers and the projection.
func (c Config) Validate() error {
	if c.ModelType != "" && c.ModelType != "clip" {
		return &FieldError{"CLIPConfig", "model_type", c.ModelType, `want "clip"`}
	}
	if err := checkSize("CLIPConfig", "projection_dim", c.ProjectionDim); err != nil {
		return err
	}
	if err := c.Text.Validate(); err != nil {
		return err
	}
	return c.Vision.Validate()
}

// Limits on the config values that size memory or loops, far above any published CLIP (ViT-bigG:
// width 1664, 48 layers, 16 heads; vocabularies of 49408; 77 positions; 224-336 px images), so
// that a corrupt or hostile config.json is refused by name before anything is allocated.
var sizeLimits = map[string]int{
	"vocab_size":              1 << 22,
	"hidden_size":             1 << 16,
	"intermediate_size":       1 << 18,
	"projection_dim":          1 << 16,
	"num_hidden_layers":       1 << 10,
	"num_attention_heads":     1 << 12,
	"max_position_embeddings": 1 << 16,
	"num_channels":            1 << 10,
	"image_size":              1 << 14,
	"patch_size":              1 << 14,
}

// checkSize refuses a value outside 1 to its sizeLimits entry.
func checkSize(kind, field string, v int) error {
	limit := sizeLimits[field]
	if v <= 0 || (limit > 0 && v > limit) {
		return &FieldError{kind, field, v, fmt.Sprintf("want a positive integer up to %d", limit)}
	}
	return nil
}
