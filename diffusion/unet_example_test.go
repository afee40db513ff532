package diffusion_test

import (
	"context"
	"fmt"

	"github.com/gorpo/gorpo/diffusion"
)

// Load a diffusers U-Net folder and predict the noise in a batch of latents (NCHW, as diffusers
// lays them out) at one timestep, conditioned on text-encoder states.
func ExampleLoadUNet() {
	unet, err := diffusion.LoadUNet("../testdata/fixtures/parity/unet_sd1")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := unet.Config()
	shape := [4]int{2, cfg.InChannels, 16, 16}            // batch, channels, height, width
	ctxShape := [3]int{2, 7, cfg.CrossAttentionDim.At(0)} // batch, tokens, width
	latents := make([]float32, shape[0]*shape[1]*shape[2]*shape[3])
	states := make([]float32, ctxShape[0]*ctxShape[1]*ctxShape[2])
	eps, err := unet.Predict(context.Background(), latents, shape, []float64{999}, states, ctxShape)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("noise prediction:", len(eps), "values, NCHW", [4]int{shape[0], cfg.OutChannels, shape[2], shape[3]})
	// Output: noise prediction: 2048 values, NCHW [2 4 16 16]
}
