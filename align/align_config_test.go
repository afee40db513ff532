package align

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
)

// TestAlignConfigFixture reads parity/align/config.json and checks the parsed values against the
// file's own JSON.
func TestAlignConfigFixture(t *testing.T) {
	path := fixtures.Path(t, "parity", "align", "config.json")
	c, err := LoadAlignConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		ProjectionDim int            `json:"projection_dim"`
		Text          map[string]any `json:"text_config"`
		Vision        map[string]any `json:"vision_config"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if c.ProjectionDim != raw.ProjectionDim {
		t.Errorf("projection_dim %d, file %d", c.ProjectionDim, raw.ProjectionDim)
	}
	check := func(section string, got any, m map[string]any, key string) {
		if v, ok := m[key]; ok {
			if g, _ := json.Marshal(got); string(g) != alignJSON(v) {
				t.Errorf("%s.%s = %s, file %s", section, key, g, alignJSON(v))
			}
		}
	}
	tc, vc := c.TextConfig, c.VisionConfig
	check("text_config", tc.HiddenSize, raw.Text, "hidden_size")
	check("text_config", tc.NumHiddenLayers, raw.Text, "num_hidden_layers")
	check("text_config", tc.LayerNormEps, raw.Text, "layer_norm_eps")
	check("text_config", tc.MaxPositionEmbeddings, raw.Text, "max_position_embeddings")
	check("vision_config", vc.WidthCoefficient, raw.Vision, "width_coefficient")
	check("vision_config", vc.DepthCoefficient, raw.Vision, "depth_coefficient")
	check("vision_config", vc.Strides, raw.Vision, "strides")
	check("vision_config", vc.BatchNormEps, raw.Vision, "batch_norm_eps")
	check("vision_config", vc.HiddenDim, raw.Vision, "hidden_dim")
}

func alignJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAlignConfigErrors checks that unsupported values are refused, naming the field.
func TestAlignConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		json, field string
	}{
		{`{"model_type": "clip"}`, "model_type"},
		{`{"projection_dim": 0}`, "projection_dim"},
		{`{"projection_dim": 512}`, "projection_dim"}, // B7's 640 image channels
		{`{"temperature_init_value": 0}`, "temperature_init_value"},
		{`{"text_config": {"hidden_act": "swiglu"}}`, "text_config.hidden_act"},
		{`{"text_config": {"position_embedding_type": "relative_key"}}`, "text_config.position_embedding_type"},
		{`{"text_config": {"is_decoder": true}}`, "text_config.is_decoder"},
		{`{"text_config": {"hidden_size": 100}}`, "text_config.hidden_size"},
		{`{"text_config": {"hidden_size": "big"}}`, "text_config.hidden_size"},
		{`{"vision_config": {"pooling_type": "avg"}}`, "vision_config.pooling_type"},
		{`{"vision_config": {"hidden_act": "mish"}}`, "vision_config.hidden_act"},
		{`{"vision_config": {"strides": [1, 3, 2, 2, 1, 2, 1]}}`, "vision_config.strides[1]"},
		{`{"vision_config": {"kernel_sizes": [3, 3]}}`, "vision_config.kernel_sizes"},
		{`{"vision_config": {"batch_norm_eps": -1}}`, "vision_config.batch_norm_eps"},
		{`{"vision_config": {"expand_ratios": [1, 6, 6, 6, 6, 6, 6.5]}}`, "vision_config.expand_ratios"},
	} {
		_, err := ParseAlignConfig([]byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v, want one naming %s", tc.json, err, tc.field)
		}
	}
	c, err := ParseAlignConfig([]byte(`{"text_config": null, "unknown_field": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.TextConfig.HiddenSize != NewAlignTextConfig().HiddenSize {
		t.Fatalf("null text_config: hidden_size %d, want the default", c.TextConfig.HiddenSize)
	}
}
