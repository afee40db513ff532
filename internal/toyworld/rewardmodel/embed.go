package rewardmodel

import (
	"embed"
	"errors"
	"fmt"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/internal/embedded"
)

// shipped is the trained folder, written by examples/toyreward.
//
//go:embed align
var shipped embed.FS

// Dir returns a folder holding the shipped reward model as align.LoadALIGN reads it. The first
// call in a process writes the embedded files, once, into the user's cache folder
// (os.UserCacheDir()/gorpo/rewardmodel-<hash of the files>, or under the temporary folder when
// the cache folder is missing or not writable), atomically: a folder that exists is complete.
// Later calls, and later processes with the same files, reuse it.
func Dir() (string, error) {
	dir, err := embedded.Dir(shipped, "align", "rewardmodel")
	if errors.Is(err, embedded.ErrEmpty) {
		return "", fmt.Errorf("rewardmodel: the embedded folder is empty: run examples/toyreward: %w", err)
	}
	return dir, err
}

// Load returns the shipped reward model (see Dir), on the default backend.
func Load() (*align.ALIGN, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	return align.LoadALIGN(dir)
}
