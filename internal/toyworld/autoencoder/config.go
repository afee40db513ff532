package autoencoder

import "github.com/gorpo/gorpo/diffusion"

// DefaultConfig is the toy world's AutoencoderKL: 32×32 RGB renders to 16×16×8 latents
// (downsampling factor f = 2, two blocks of 16 and 32 channels, one ResNet layer per block, so
// the decoder has two per block as diffusers builds it), GroupNorm with 8 groups, no attention
// in the mid blocks (mid_block_add_attention false: at 16×16 positions attention would cost more
// than the convolutions, and reconstructing needs no long-range mixing), SiLU.
//
// f = 2 rather than Stable Diffusion's 8: a first probe (the base-model issue) kept the subjects'
// marks at 16×16×4 (29.2 dB held-out PSNR) and lost them at 8×8×4 (24.3 dB). 8 latent channels
// rather than 4: at channels 16/32 (what two CPU cores can train in an hour) 4 channels gave
// 25.3 dB and a judge that read the round trip's colour as the original's only 86% of the time,
// halfway through training; 8 channels (each 2×2×3 patch kept in 8 numbers, as SD 3 widened its
// latents for detail) cost the U-Net nothing measurable. The scaling_factor here is a
// placeholder; the trained model's is measured (MeasureScale).
func DefaultConfig() diffusion.VAEConfig {
	c := diffusion.DefaultVAEConfig()
	c.BlockOutChannels = []int{16, 32}
	c.DownBlockTypes = []string{"DownEncoderBlock2D", "DownEncoderBlock2D"}
	c.UpBlockTypes = []string{"UpDecoderBlock2D", "UpDecoderBlock2D"}
	c.LayersPerBlock = 1
	c.LatentChannels = 8
	c.NormNumGroups = 8
	size := diffusion.Int(32)
	c.SampleSize = &size
	c.MidBlockAddAttention = false
	c.ScalingFactor = 1
	c.ForceUpcast = false
	return c
}
