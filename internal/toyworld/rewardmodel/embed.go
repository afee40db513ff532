package rewardmodel

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/internal/embedded"
)

// shipped is the trained folder, written by examples/toyreward.
//
//go:embed align
var shipped embed.FS

// Dir returns a folder on disk holding the shipped reward model, for programs that need a path
// (Load needs none: it reads the embedded files in place). The first
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

// Load returns the shipped reward model, read in place from the files compiled into the binary
// (align.LoadALIGNFS; nothing is written to disk), on the default backend unless
// align.WithBackend names another.
func Load(opts ...align.LoadOption) (*align.ALIGN, error) {
	if _, err := fs.Stat(shipped, "align/config.json"); err != nil {
		return nil, fmt.Errorf("rewardmodel: the embedded folder has no config.json: run examples/toyreward: %w", embedded.ErrEmpty)
	}
	return align.LoadALIGNFS(shipped, "align", opts...)
}
