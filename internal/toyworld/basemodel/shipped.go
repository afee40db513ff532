package basemodel

import (
	"embed"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/embedded"
)

// shippedFS is the trained base model, the diffusers folder examples/toypretrain exports:
// compiled in so that the toy world's fine-tuning runs and tests start from it without a
// download.
//
//go:embed model
var shippedFS embed.FS

var shipped = embedded.Shipped{FS: shippedFS, Root: "model", Name: "basemodel", Index: "model_index.json",
	Program: "examples/toypretrain"}

// Dir returns a folder on disk holding the shipped base model, for programs that need a path
// (Load needs none: it reads the embedded files in place). The
// first call in a process writes the embedded files, once, into the user's cache folder
// (os.UserCacheDir()/gorpo/basemodel-<hash of the files>, or under the temporary folder when
// the cache folder is missing or not writable), atomically: a folder that exists is complete.
// Later calls, and later processes with the same files, reuse it.
func Dir() (string, error) { return shipped.Dir() }

// Load returns the shipped base model, a plain Stable Diffusion pipeline at toy size: 32×32
// images, the U-Net denoising the autoencoder's 16×16×8 latents, DDIM by default. It reads the files
// compiled into the binary in place (diffusion.LoadPipelineFS); nothing is written to disk.
func Load(opts ...diffusion.LoadOption) (*diffusion.Pipeline, error) {
	if err := shipped.Check(); err != nil {
		return nil, err
	}
	return diffusion.LoadPipelineFS(shipped.FS, shipped.Root, opts...)
}
