package diffusion_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/diffusion/diffusiontest"
)

// Load a diffusers Stable Diffusion folder and turn prompts into images. Here the folder is a
// tiny random-weight model from package diffusiontest (so the pictures are noise); a real one
// is a snapshot of, say, stable-diffusion-v1-5/stable-diffusion-v1-5, loaded the same way,
// with diffusion.Variant("fp16") to read its half-precision files.
func ExampleLoadPipeline() {
	dir, err := os.MkdirTemp("", "tiny-sd")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := diffusiontest.WriteTinySD(dir, 1); err != nil { // test support: unet/, vae/, text_encoder/, ...
		fmt.Println(err)
		return
	}

	p, err := diffusion.LoadPipeline(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, note := range p.Notes {
		fmt.Println("note:", note)
	}
	images, err := p.Generate(context.Background(),
		[]string{"a photo of a dog on the moon"},
		diffusion.NegativePrompt("blurry"),
		diffusion.Guidance(7.5),
		diffusion.Steps(3), // 50 by default
		diffusion.Seed(42),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("image:", images[0].Bounds().Size())

	paths, err := diffusion.WritePNGs(filepath.Join(dir, "out"), "dog-", images)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("wrote", filepath.Base(paths[0]))
	// Output:
	// note: feature_extractor (transformers.CLIPImageProcessor): skipped; not needed: it only prepares the safety checker's input
	// note: safety_checker (stable_diffusion.StableDiffusionSafetyChecker): skipped; not run: gorpo has no NSFW safety checker
	// image: (32,32)
	// wrote dog-0000.png
}
