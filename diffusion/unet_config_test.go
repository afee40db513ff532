package diffusion

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
)

// Stable Diffusion 1.5's and 2.1's unet/config.json as published (older diffusers wrote fewer
// keys; the rest take diffusers' defaults).
const (
	sd15UNetConfig = `{
  "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.6.0", "act_fn": "silu",
  "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": false,
  "cross_attention_dim": 768,
  "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
  "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
  "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
  "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]}`
	sd21UNetConfig = `{
  "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.10.0.dev0", "act_fn": "silu",
  "attention_head_dim": [5, 10, 20, 20], "block_out_channels": [320, 640, 1280, 1280],
  "center_input_sample": false, "cross_attention_dim": 1024,
  "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
  "downsample_padding": 1, "dual_cross_attention": false, "flip_sin_to_cos": true, "freq_shift": 0,
  "in_channels": 4, "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32,
  "num_class_embeds": null, "only_cross_attention": false, "out_channels": 4, "sample_size": 96,
  "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
  "upcast_attention": true, "use_linear_projection": true}`
)

func writeConfigFile(t *testing.T, cfg string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The real SD 1.5 and 2.1 configurations resolve to their known architectures: heads per block
// as diffusers reads attention_head_dim (8 heads everywhere; 5, 10, 20, 20 heads of 64), and
// exactly their published parameter counts.
func TestUNetConfigStableDiffusion(t *testing.T) {
	for _, c := range []struct {
		name     string
		json     string
		heads    []int
		headDims []int
		midHeads int
		params   int
	}{
		{"sd15", sd15UNetConfig, []int{8, 8, 8}, []int{40, 80, 160}, 8, 859520964},
		{"sd21", sd21UNetConfig, []int{5, 10, 20}, []int{64, 64, 64}, 20, 865910724},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := LoadUNetConfig(writeConfigFile(t, c.json))
			if err != nil {
				t.Fatal(err)
			}
			p, err := cfg.plan()
			if err != nil {
				t.Fatal(err)
			}
			for i, b := range p.down[:3] {
				if b.heads != c.heads[i] || b.headDim != c.headDims[i] {
					t.Errorf("down block %d: %d heads of %d, want %d of %d", i, b.heads, b.headDim, c.heads[i], c.headDims[i])
				}
			}
			if p.mid.heads != c.midHeads || p.mid.headDim != 1280/c.midHeads {
				t.Errorf("mid block: %d heads of %d, want %d", p.mid.heads, p.mid.headDim, c.midHeads)
			}
			u, err := declareUNet(nil, cfg, 0)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for v := range u.Store().IterVariables() {
				n += v.Shape().Size()
			}
			if n != c.params {
				t.Errorf("%d parameters, want %d", n, c.params)
			}
		})
	}
}

// Every family of unsupported settings is refused at load time with an error naming the field.
func TestUNetConfigRefusals(t *testing.T) {
	base, err := os.ReadFile(filepath.Join(fixtures.Path(t, "parity", "unet_sd1"), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field string
		value any
	}{
		{"class_embed_type", "timestep"},
		{"num_class_embeds", 10},
		{"class_embeddings_concat", true},
		{"addition_embed_type", "text_time"},
		{"encoder_hid_dim", 32},
		{"encoder_hid_dim_type", "text_proj"},
		{"time_cond_proj_dim", 256},
		{"attention_type", "gated"},
		{"dual_cross_attention", true},
		{"resnet_time_scale_shift", "scale_shift"},
		{"time_embedding_type", "fourier"},
		{"dropout", 0.1},
		{"num_attention_heads", 8},
		{"norm_num_groups", nil},
		{"act_fn", "tanh"},
		{"timestep_post_act", "softsign"},
		{"mid_block_type", "UNetMidBlock2DSimpleCrossAttn"},
		{"down_block_types", []string{"SimpleCrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
		{"up_block_types", []string{"UpBlock2D", "AttnUpBlock2D", "CrossAttnUpBlock2D"}},
		{"cross_attention_dim", []int{32, 64, 32}},
		{"some_future_field", 1},
	} {
		t.Run(c.field, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(base, &m); err != nil {
				t.Fatal(err)
			}
			m[c.field] = c.value
			data, _ := json.Marshal(m)
			_, err := LoadUNetConfig(writeConfigFile(t, string(data)))
			if !errors.Is(err, ErrUnsupportedConfig) || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("%s = %v: err = %v, want ErrUnsupportedConfig naming the field", c.field, c.value, err)
			}
			t.Log(err)
		})
	}
	// Inconsistent values are errors too (not "unsupported": diffusers rejects them as well).
	for field, value := range map[string]any{
		"block_out_channels": []int{32, 64},
		"attention_head_dim": []int{4, 8},
		"layers_per_block":   0,
		"_class_name":        "UNet2DModel",
	} {
		var m map[string]any
		_ = json.Unmarshal(base, &m)
		m[field] = value
		data, _ := json.Marshal(m)
		if _, err := LoadUNetConfig(writeConfigFile(t, string(data))); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s = %v: err = %v, want an error naming the field", field, value, err)
		}
	}
	if _, err := LoadUNetConfig(writeConfigFile(t, "{not json")); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("corrupt JSON: err = %v", err)
	}
}

// The VAE refuses block types it does not implement, unknown fields and unknown activations.
func TestVAEConfigRefusals(t *testing.T) {
	base, err := os.ReadFile(filepath.Join(fixtures.Path(t, "parity", "vae"), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for field, value := range map[string]any{
		"down_block_types": []string{"AttnDownEncoderBlock2D", "DownEncoderBlock2D"},
		"up_block_types":   []string{"UpDecoderBlock2D", "AttnUpDecoderBlock2D"},
		"act_fn":           "tanh",
		"norm_type":        "spatial",
	} {
		var m map[string]any
		_ = json.Unmarshal(base, &m)
		m[field] = value
		data, _ := json.Marshal(m)
		_, err := LoadVAEConfig(writeConfigFile(t, string(data)))
		if !errors.Is(err, ErrUnsupportedConfig) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s = %v: err = %v, want ErrUnsupportedConfig naming the field", field, value, err)
		}
	}
}
