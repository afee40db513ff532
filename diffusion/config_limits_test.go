package diffusion

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Values that size memory or loops are refused at load, naming the file and the field (issue 12:
// sample_size 1e9 gave a 2e9×2e9 default image and a fatal out-of-memory).
func TestConfigLimits(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		load        func(string) error
		json, field string
	}{
		{loadU, `{"sample_size": 1000000000}`, "sample_size"},
		{loadU, `{"sample_size": [64, 1000000000]}`, "sample_size"},
		{loadU, `{"block_out_channels": [320, 640, 1280, 100000000]}`, "block_out_channels"},
		{loadU, `{"layers_per_block": 100000}`, "layers_per_block"},
		{loadU, `{"cross_attention_dim": 1000000000}`, "cross_attention_dim"},
		{loadU, `{"attention_head_dim": [8, 8, 8, 1000000]}`, "attention_head_dim"},
		{loadU, `{"transformer_layers_per_block": 1000}`, "transformer_layers_per_block"},
		{loadU, `{"in_channels": 0}`, "in_channels"},
		{loadU, `{"conv_in_kernel": 1001}`, "conv_in_kernel"},
		{loadV, `{"sample_size": 1000000000}`, "sample_size"},
		{loadV, `{"latent_channels": 1000000000}`, "latent_channels"},
		{loadV, `{"layers_per_block": 1000000}`, "layers_per_block"},
	} {
		path := filepath.Join(dir, "config.json")
		if err := os.WriteFile(path, []byte(c.json), 0o644); err != nil {
			t.Fatal(err)
		}
		err := c.load(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.field+" = ") {
			t.Errorf("%s: err = %v, want one naming %s and %s", c.json, err, path, c.field)
		}
	}
	// The defaults (SD 1.x) are within the limits.
	for _, load := range []func(string) error{loadU, loadV} {
		path := filepath.Join(dir, "config.json")
		if err := os.WriteFile(path, []byte(`{}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := load(path); err != nil {
			t.Errorf("defaults: %v", err)
		}
	}
}

func loadU(path string) error { _, err := LoadUNetConfig(path); return err }
func loadV(path string) error { _, err := LoadVAEConfig(path); return err }

// FuzzModelConfigs: any config.json either is refused with an error or gives a U-Net (and VAE)
// configuration within the limits whose plan builds.
func FuzzModelConfigs(f *testing.F) {
	for _, s := range []string{`{}`, `{"sample_size": 96, "attention_head_dim": [5, 10, 20, 20], "cross_attention_dim": 1024, "use_linear_projection": true}`,
		`{"block_out_channels": [32, 64], "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "layers_per_block": 1, "norm_num_groups": 8}`,
		`{"transformer_layers_per_block": [1, [2, 3]], "sample_size": [64, 96]}`, `{"latent_channels": 16, "scaling_factor": 0.13}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u := DefaultUNetConfig()
		if decodeConfig(data, "config.json", &u) == nil && u.Validate() == nil {
			if err := u.checkLimits(); err != nil {
				t.Fatalf("valid config beyond the limits: %v", err)
			}
		}
		v := DefaultVAEConfig()
		if decodeConfig(data, "config.json", &v) == nil && v.Validate() == nil {
			if err := v.checkLimits(); err != nil {
				t.Fatalf("valid VAE config beyond the limits: %v", err)
			}
		}
	})
}
