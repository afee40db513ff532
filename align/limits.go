package align

import "fmt"

// sizeLimits bound the config values that size memory or loops, far above any published model
// (BERT-large: width 1024, 24 layers, 16 heads, 512 positions, vocabularies of ~30k–250k;
// EfficientNet-B7 and ViT-g: widths ≤ 2560, 600-px images), so that a corrupt or hostile
// config.json is refused by name before anything is allocated.
var sizeLimits = map[string]int{
	"vocab_size":              1 << 22,
	"type_vocab_size":         1 << 12,
	"hidden_size":             1 << 16,
	"intermediate_size":       1 << 18,
	"projection_dim":          1 << 16,
	"num_hidden_layers":       1 << 10,
	"num_attention_heads":     1 << 12,
	"max_position_embeddings": 1 << 16,
	"num_channels":            1 << 10,
	"image_size":              1 << 14,
	"patch_size":              1 << 14,
	"hidden_dim":              1 << 16,
	"depth_divisor":           1 << 10,
	"in_channels":             1 << 16,
	"out_channels":            1 << 16,
	"kernel_sizes":            63,
	"num_block_repeats":       1 << 10,
	"expand_ratios":           1 << 6,
	"size":                    1 << 14,
	"crop_size":               1 << 14,
}

// maxCoefficient bounds EfficientNet's width and depth multipliers (B7: 2.0 and 3.1).
const maxCoefficient = 64

// checkSize refuses v outside 1 … its field's limit, naming the field as prefix.name.
func checkSize(prefix, name string, v int) error {
	limit, ok := sizeLimits[name]
	if !ok {
		panic("align: no size limit for " + name)
	}
	if v <= 0 || v > limit {
		return fmt.Errorf("%s.%s = %d, want 1 … %d", prefix, name, v, limit)
	}
	return nil
}
