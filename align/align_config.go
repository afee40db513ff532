package align

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gorpo/gorpo/internal/modelfs"
	"github.com/gorpo/gorpo/internal/nn"
)

// AlignConfig is transformers' AlignConfig, an ALIGN checkpoint's config.json: the two towers'
// configurations and the joint space. Field names are the upstream JSON names; keys the model
// does not read (transformers' generic PretrainedConfig fields) are accepted and ignored, and a
// value the model cannot reproduce is refused, naming the field.
type AlignConfig struct {
	ModelType    string             `json:"model_type"`
	TextConfig   *AlignTextConfig   `json:"text_config"`
	VisionConfig *AlignVisionConfig `json:"vision_config"`

	// ProjectionDim is the joint embedding size: text_projection's output, and the image tower's
	// channel count (which ALIGN uses as is, with no image projection).
	ProjectionDim int `json:"projection_dim"`

	// TemperatureInitValue is the initial "temperature" (logits are cosines divided by it); the
	// checkpoint's own "temperature" tensor takes precedence.
	TemperatureInitValue float64 `json:"temperature_init_value"`
}

// NewAlignConfig returns transformers' defaults (kakaobrain/align-base's architecture).
func NewAlignConfig() *AlignConfig {
	return &AlignConfig{
		ModelType:            "align",
		TextConfig:           NewAlignTextConfig(),
		VisionConfig:         NewAlignVisionConfig(),
		ProjectionDim:        640,
		TemperatureInitValue: 1.0,
	}
}

// LoadAlignConfig reads an ALIGN config.json (path is the file, or a folder holding it).
func LoadAlignConfig(path string) (*AlignConfig, error) { return loadAlignConfig(modelfs.OS, path) }

func loadAlignConfig(fsys modelfs.FS, path string) (*AlignConfig, error) {
	if info, err := fsys.Stat(path); err == nil && info.IsDir() {
		path = fsys.Join(path, "config.json")
	}
	data, err := fsys.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	c, err := ParseAlignConfig(data)
	if err != nil {
		return nil, fmt.Errorf("align: %s: %w", path, err)
	}
	return c, nil
}

// ParseAlignConfig is LoadAlignConfig on the contents of a config.json. Fields it does not hold
// take transformers' defaults; the result is validated.
func ParseAlignConfig(data []byte) (*AlignConfig, error) {
	c := NewAlignConfig()
	if err := json.Unmarshal(data, c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fmt.Errorf("config: field %q: a JSON %s, want %s", te.Field, te.Value, te.Type)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	// "text_config": null (or absent) means the defaults, as in transformers.
	if c.TextConfig == nil {
		c.TextConfig = NewAlignTextConfig()
	}
	if c.VisionConfig == nil {
		c.VisionConfig = NewAlignVisionConfig()
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// Validate checks that the model can be built as transformers builds it from c; an error names
// the offending field.
func (c *AlignConfig) Validate() error {
	if c.ModelType != "" && c.ModelType != "align" {
		return fmt.Errorf("model_type = %q, want \"align\"", c.ModelType)
	}
	if c.TextConfig == nil || c.VisionConfig == nil {
		return errors.New("text_config and vision_config must be set")
	}
	if err := c.TextConfig.validate(); err != nil {
		return err
	}
	if err := c.VisionConfig.validate(); err != nil {
		return err
	}
	if err := checkSize("AlignConfig", "projection_dim", c.ProjectionDim); err != nil {
		return err
	}
	if h := c.VisionConfig.HiddenSize(); h != c.ProjectionDim {
		return fmt.Errorf("projection_dim = %d, but the image features have %d channels "+
			"(vision_config.out_channels[-1] scaled by width_coefficient): ALIGN compares them directly, want them equal",
			c.ProjectionDim, h)
	}
	if t := c.TemperatureInitValue; math.IsNaN(t) || math.IsInf(t, 0) || t == 0 {
		return fmt.Errorf("temperature_init_value = %v, want a finite non-zero number", t)
	}
	return nil
}

// alignActivation returns the activation transformers' ACT2FN[name] computes.
func alignActivation(name string) (func(*Node) *Node, bool) {
	f, err := nn.ActivationByName(name)
	return f, err == nil
}
