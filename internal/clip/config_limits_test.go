package clip

import (
	"strings"
	"testing"
)

// Sizes beyond any CLIP are refused naming the field (issue 12).
func TestConfigLimits(t *testing.T) {
	for field, json := range map[string]string{
		"vocab_size":              `{"vocab_size": 1000000000000}`,
		"max_position_embeddings": `{"max_position_embeddings": 100000000}`,
		"num_hidden_layers":       `{"num_hidden_layers": 1000000}`,
		"hidden_size":             `{"hidden_size": 1073741824, "num_attention_heads": 1}`,
	} {
		_, err := ParseTextConfig([]byte(json))
		if err == nil || !strings.Contains(err.Error(), `"`+field+`"`) {
			t.Errorf("%s: err = %v, want one naming %s", json, err, field)
		}
	}
	if _, err := ParseTextConfig([]byte(`{}`)); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// FuzzParseConfig: any config.json is refused with an error or passes Validate within the limits.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{`{}`, `{"text_config": {"hidden_size": 64, "num_attention_heads": 2}, "vision_config": {"image_size": 32, "patch_size": 8}}`,
		`{"vocab_size": 49408, "max_position_embeddings": 77, "hidden_act": "quick_gelu"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := ParseTextConfig(data); err == nil && c.Validate() != nil {
			t.Fatalf("ParseTextConfig accepted a config Validate refuses: %+v", c)
		}
		if c, err := ParseConfig(data); err == nil && c.Validate() != nil {
			t.Fatalf("ParseConfig accepted a config Validate refuses: %+v", c)
		}
	})
}
