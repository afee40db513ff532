package rewardmodel

import (
	"embed"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/internal/embedded"
)

// shippedFS is the trained folder, written by examples/toyreward.
//
//go:embed align
var shippedFS embed.FS

var shipped = embedded.Shipped{FS: shippedFS, Root: "align", Name: "rewardmodel", Index: "config.json",
	Program: "examples/toyreward"}

// Dir returns a folder on disk holding the shipped reward model, for programs that need a path
// (Load needs none: it reads the embedded files in place). The first
// call in a process writes the embedded files, once, into the user's cache folder
// (os.UserCacheDir()/gorpo/rewardmodel-<hash of the files>, or under the temporary folder when
// the cache folder is missing or not writable), atomically: a folder that exists is complete.
// Later calls, and later processes with the same files, reuse it.
func Dir() (string, error) { return shipped.Dir() }

// Load returns the shipped reward model, read in place from the files compiled into the binary
// (align.LoadALIGNFS; nothing is written to disk), on the default backend unless
// align.WithBackend names another.
func Load(opts ...align.LoadOption) (*align.ALIGN, error) {
	if err := shipped.Check(); err != nil {
		return nil, err
	}
	return align.LoadALIGNFS(shipped.FS, shipped.Root, opts...)
}
