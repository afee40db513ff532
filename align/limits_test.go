package align

import (
	"strings"
	"testing"
)

// Hostile configs that would allocate without bound are refused at parse time, naming the field.
func TestConfigSizeLimits(t *testing.T) {
	for _, c := range []struct {
		name, json, field string
		parse             func([]byte) error
	}{
		{"bert vocab", `{"text_config": {"vocab_size": 10000000000}, "vision_config": {}}`, "text_config.vocab_size", parseAlign},
		{"bert positions", `{"text_config": {"max_position_embeddings": 100000000}, "vision_config": {}}`, "text_config.max_position_embeddings", parseAlign},
		{"bert layers", `{"text_config": {"num_hidden_layers": 1000000}, "vision_config": {}}`, "text_config.num_hidden_layers", parseAlign},
		{"efficientnet image", `{"text_config": {}, "vision_config": {"image_size": 1000000}}`, "vision_config.image_size", parseAlign},
		{"efficientnet channels", `{"text_config": {}, "vision_config": {"out_channels": [16, 24, 40, 80, 112, 192, 99999999]}}`, "vision_config.out_channels[6]", parseAlign},
		{"efficientnet width", `{"text_config": {}, "vision_config": {"width_coefficient": 1e9}}`, "vision_config.width_coefficient", parseAlign},
		{"align projection", `{"text_config": {}, "vision_config": {}, "projection_dim": 1000000000}`, "projection_dim", parseAlign},
		{"vit hidden", `{"hidden_size": 1000000000, "num_attention_heads": 1}`, "hidden_size", parseViT},
		{"vit image", `{"image_size": 100000000}`, "image_size", parseViT},
		{"processor size", `{"do_resize": true, "size": {"height": 1000000, "width": 224}}`, `"size"`, parseProcessor},
		{"processor crop", `{"do_center_crop": true, "crop_size": {"height": 224, "width": 1000000}}`, `"crop_size"`, parseProcessor},
	} {
		err := c.parse([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.field)
		}
	}
	// The published configurations stay within the limits.
	if err := NewAlignConfig().Validate(); err != nil {
		t.Errorf("ALIGN-base defaults: %v", err)
	}
	if err := DefaultViTConfig().Validate(); err != nil {
		t.Errorf("ViT defaults: %v", err)
	}
}

func parseAlign(data []byte) error {
	_, err := ParseAlignConfig(data)
	return err
}

func parseViT(data []byte) error {
	_, err := ParseViTConfig(data)
	return err
}

func parseProcessor(data []byte) error {
	_, err := ParseImageProcessor(append([]byte(`{"image_processor_type": "CLIPImageProcessor", `), data[1:]...))
	return err
}

// FuzzAlignConfigs feeds arbitrary JSON to the ALIGN, ViT and image-processor config parsers:
// they return a value or an error, never panic, and what they accept stays within the limits.
func FuzzAlignConfigs(f *testing.F) {
	for _, seed := range []string{
		`{"text_config": {}, "vision_config": {}}`,
		`{"text_config": {"vocab_size": 120, "hidden_size": 32}, "vision_config": {"image_size": 32}, "projection_dim": 640}`,
		`{"hidden_size": 384, "num_attention_heads": 6, "image_size": 224, "patch_size": 16}`,
		`{"image_processor_type": "CLIPImageProcessor", "do_resize": true, "size": {"shortest_edge": 224}}`,
		`{"text_config": {"num_hidden_layers": -1}}`, `[]`, `{"size": 1e300}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := ParseAlignConfig(data); err == nil {
			if c.TextConfig.VocabSize > sizeLimits["vocab_size"] || c.VisionConfig.ImageSize > sizeLimits["image_size"] {
				t.Fatalf("accepted %+v", c)
			}
		}
		if c, err := ParseViTConfig(data); err == nil && c.HiddenSize > sizeLimits["hidden_size"] {
			t.Fatalf("accepted %+v", c)
		}
		_, _ = ParseImageProcessor(data)
	})
}
