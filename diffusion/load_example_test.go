package diffusion_test

import (
	"fmt"
	"os"

	"github.com/gorpo/gorpo"
	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/diffusion/diffusiontest"
)

// Load a pipeline from an fs.FS onto a backend chosen in code. The FS here is os.DirFS over a
// tiny test folder; a program that ships its model inside its binary passes its embed.FS
// (//go:embed model) the same way, and nothing is written to disk.
func ExampleLoadPipelineFS() {
	dir, err := os.MkdirTemp("", "tiny-sd")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := diffusiontest.WriteTinySD(dir, 1); err != nil {
		fmt.Println(err)
		return
	}

	cpu, err := gorpo.NewBackend("go") // or "xla:cuda" in a program that imports gorpo/rpo/xla
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := diffusion.LoadPipelineFS(os.DirFS(dir), ".", diffusion.WithBackend(cpu))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.UNet.Backend() == cpu, p.TextEncoder.Backend() == cpu)
	// Output: true true
}
