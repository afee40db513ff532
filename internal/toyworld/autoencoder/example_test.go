package autoencoder_test

import (
	"fmt"

	"github.com/gorpo/gorpo/internal/toyworld/autoencoder"
)

// The toy autoencoder's latent space: a 32×32 render becomes 16×16×8 latents, the shape the toy
// base model's U-Net denoises.
func ExampleDefaultConfig() {
	cfg := autoencoder.DefaultConfig()
	f := 1 << (len(cfg.BlockOutChannels) - 1)
	fmt.Printf("%s: 32×32×%d → %d×%d×%d (f = %d)\n", cfg.ClassName, cfg.InChannels, 32/f, 32/f, cfg.LatentChannels, f)
	// Output:
	// AutoencoderKL: 32×32×3 → 16×16×8 (f = 2)
}
