package basemodel

import (
	"embed"
	"errors"
	"fmt"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/embedded"
)

// shipped is the trained base model, the diffusers folder examples/toypretrain exports: compiled
// in so that the toy world's fine-tuning runs and tests start from it without a download.
//
//go:embed model
var shipped embed.FS

// Dir returns a folder holding the shipped base model as diffusion.LoadPipeline reads it. The
// first call in a process writes the embedded files, once, into the user's cache folder
// (os.UserCacheDir()/gorpo/basemodel-<hash of the files>, or under the temporary folder when
// the cache folder is missing or not writable), atomically: a folder that exists is complete.
// Later calls, and later processes with the same files, reuse it.
func Dir() (string, error) {
	dir, err := embedded.Dir(shipped, "model", "basemodel")
	if errors.Is(err, embedded.ErrEmpty) {
		return "", fmt.Errorf("basemodel: the embedded folder is empty: run examples/toypretrain: %w", err)
	}
	return dir, err
}

// Load returns the shipped base model (see Dir) as a pixel-space pipeline: 32×32 images, the
// U-Net working on them folded 2×2 (Pipeline.PixelUnshuffle), DDIM by default.
func Load(opts ...diffusion.LoadOption) (*diffusion.Pipeline, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	return diffusion.LoadPipeline(dir, opts...)
}
