package rpo_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/rpo"
)

// Add rank-4 LoRA adapters to a U-Net's attention projections, attach them (the U-Net's
// Predict, and every diffusion.Pipeline over it, now run the adapted model while only the
// adapters train), save them for diffusers' load_lora_weights, load them back, and merge them
// into the U-Net for inference.
func ExampleNewLoRA() {
	unet, err := diffusion.LoadUNet("../testdata/fixtures/parity/unet_sd1")
	if err != nil {
		fmt.Println(err)
		return
	}
	lora, err := rpo.NewLoRA(unet, 4, 4, 1) // rank 4, α = 4, seed 1
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := lora.Attach(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("adapted modules:", len(lora.Modules()), "e.g.", lora.Modules()[0])

	// ... train (the Trainer does), then save the adapters as diffusers does.
	dir, err := os.MkdirTemp("", "lora")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := lora.Save(dir); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("saved", filepath.Base(filepath.Join(dir, rpo.LoRAWeightName)))

	lora.Detach() // the U-Net computes (and trains) as before

	// Later, for inference: load them into a U-Net and fold them into its weights.
	loaded, err := rpo.LoadLoRA(unet, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("loaded rank %d, scale α/r = %g\n", loaded.Rank(), loaded.Scale())
	if err := loaded.Merge(); err != nil {
		fmt.Println(err)
		return
	}
	// Output:
	// adapted modules: 88 e.g. down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k
	// saved pytorch_lora_weights.safetensors
	// loaded rank 4, scale α/r = 1
}
