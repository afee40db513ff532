package autoencoder

import "github.com/gorpo/gorpo/diffusion"

// DefaultConfig is the toy world's AutoencoderKL: 32×32 RGB renders to 16×16×4 latents
// (downsampling factor f = 2, two blocks of 32 and 64 channels, one ResNet layer per block, so
// the decoder has two per block as diffusers builds it), GroupNorm with 8 groups, no attention
// in the mid blocks (mid_block_add_attention false: at 16×16 positions attention would cost more
// than the convolutions and the scenes need no long-range mixing to reconstruct), SiLU.
//
// f = 2 rather than Stable Diffusion's 8: a first probe (the base-model issue) kept the subjects'
// marks at 16×16×4 (29.2 dB held-out PSNR) and lost them at 8×8×4 (24.3 dB). The
// scaling_factor here is a placeholder; the trained model's is measured (MeasureScale).
func DefaultConfig() diffusion.VAEConfig {
	c := diffusion.DefaultVAEConfig()
	c.BlockOutChannels = []int{16, 32}
	c.DownBlockTypes = []string{"DownEncoderBlock2D", "DownEncoderBlock2D"}
	c.UpBlockTypes = []string{"UpDecoderBlock2D", "UpDecoderBlock2D"}
	c.LayersPerBlock = 1
	c.LatentChannels = 4
	c.NormNumGroups = 8
	size := diffusion.Int(32)
	c.SampleSize = &size
	c.MidBlockAddAttention = false
	c.ScalingFactor = 1
	c.ForceUpcast = false
	return c
}
