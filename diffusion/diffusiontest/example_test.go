package diffusiontest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/diffusion/diffusiontest"
)

// A test's Stable Diffusion: a tiny random-weight folder that diffusion.LoadPipeline loads like
// any other.
func ExampleWriteTinySD() {
	dir, err := os.MkdirTemp("", "diffusiontest")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := diffusiontest.WriteTinySD(filepath.Join(dir, "sd"), 1); err != nil {
		fmt.Println(err)
		return
	}
	pipe, err := diffusion.LoadPipeline(filepath.Join(dir, "sd"))
	if err != nil {
		fmt.Println(err)
		return
	}
	images, err := pipe.Generate(context.Background(), []string{"a photo of a dog"}, diffusion.Steps(2), diffusion.Seed(7))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(images), "image of", images[0].Bounds().Size())
	// Output:
	// 1 image of (32,32)
}
