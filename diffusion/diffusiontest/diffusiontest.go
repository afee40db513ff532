// Package diffusiontest provides what tests of code built on package diffusion need, as
// net/http/httptest does for net/http: a tiny Stable Diffusion folder that loads with
// diffusion.LoadPipeline and generates in well under a second on a CPU.
//
// Its weights are random, so its images are noise: it exercises code paths (loading, generation,
// training, saving, resuming), not image quality.
package diffusiontest

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gorpo/gorpo/diffusion"
)

// tinysd holds the parts of the folder that are not drawn from a seed: model_index.json,
// scheduler/ (Stable Diffusion 1.5's PNDM settings), text_encoder/ (a 3-layer, 32-wide CLIP text
// model with random weights saved by transformers) and tokenizer/ (CLIP's BPE cut to the text
// model's 1000-entry vocabulary).
//
//go:embed tinysd
var tinysd embed.FS

// unetConfig is a two-level Stable Diffusion 1.x U-Net, 16 and 32 channels, cross-attention at
// the first level: 4-channel latents, conditioned on the 32-wide text encoder.
const unetConfig = `{
  "_class_name": "UNet2DConditionModel",
  "sample_size": 16,
  "in_channels": 4,
  "out_channels": 4,
  "block_out_channels": [16, 32],
  "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
  "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
  "layers_per_block": 1,
  "norm_num_groups": 8,
  "attention_head_dim": 4,
  "cross_attention_dim": 32
}
`

// vaeConfig is an AutoencoderKL with one 2× down- and up-sampling, 16 and 32 channels.
const vaeConfig = `{
  "_class_name": "AutoencoderKL",
  "act_fn": "silu",
  "block_out_channels": [16, 32],
  "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
  "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
  "in_channels": 3,
  "out_channels": 3,
  "latent_channels": 4,
  "layers_per_block": 1,
  "norm_num_groups": 8,
  "sample_size": 16,
  "scaling_factor": 0.18215
}
`

// WriteTinySD writes a Stable Diffusion 1.x folder in diffusers' layout into dir (created if
// missing): model_index.json, scheduler/, text_encoder/, tokenizer/, and unet/ and vae/ with
// PyTorch's default random initialisation drawn from seed. Its default image size is 32×32
// (16×16 latents). The same seed writes the same weights on the same backend.
func WriteTinySD(dir string, seed int64) error {
	if err := fs.WalkDir(tinysd, "tinysd", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := tinysd.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel("tinysd", filepath.FromSlash(path))
		if err != nil {
			return err
		}
		return writeFile(filepath.Join(dir, rel), []byte(data))
	}); err != nil {
		return fmt.Errorf("diffusiontest: %w", err)
	}
	unetDir, vaeDir := filepath.Join(dir, "unet"), filepath.Join(dir, "vae")
	if err := writeFile(filepath.Join(unetDir, "config.json"), []byte(unetConfig)); err != nil {
		return fmt.Errorf("diffusiontest: %w", err)
	}
	if err := writeFile(filepath.Join(vaeDir, "config.json"), []byte(vaeConfig)); err != nil {
		return fmt.Errorf("diffusiontest: %w", err)
	}
	ucfg, err := diffusion.LoadUNetConfig(filepath.Join(unetDir, "config.json"))
	if err != nil {
		return fmt.Errorf("diffusiontest: %w", err)
	}
	unet, err := diffusion.NewUNet(ucfg, seed)
	if err != nil {
		return fmt.Errorf("diffusiontest: %w", err)
	}
	if err := unet.Save(unetDir); err != nil {
		return fmt.Errorf("diffusiontest: %w", err)
	}
	vcfg, err := diffusion.LoadVAEConfig(filepath.Join(vaeDir, "config.json"))
	if err != nil {
		return fmt.Errorf("diffusiontest: %w", err)
	}
	vae, err := diffusion.NewVAE(vcfg, seed+1)
	if err != nil {
		return fmt.Errorf("diffusiontest: %w", err)
	}
	if err := vae.Save(vaeDir); err != nil {
		return fmt.Errorf("diffusiontest: %w", err)
	}
	return nil
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
