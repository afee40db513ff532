package embedded

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// Shipped is a model folder that a package compiles in, with what its errors say when the folder
// was never exported before the build: the program to run, rather than a file that is missing.
type Shipped struct {
	FS      fs.FS
	Root    string // the folder in FS: "model"
	Name    string // the package: it begins the errors and names the copy Dir writes
	Index   string // the file a complete folder holds: "config.json"
	Program string // what exports the folder: "examples/toyvae"
}

// Dir is Dir(s.FS, s.Root, s.Name), with an empty folder's error naming s.Program.
func (s Shipped) Dir() (string, error) {
	dir, err := Dir(s.FS, s.Root, s.Name)
	if errors.Is(err, ErrEmpty) {
		return "", fmt.Errorf("%s: the embedded folder is empty: run %s: %w", s.Name, s.Program, err)
	}
	return dir, err
}

// Check refuses a folder without its Index file with an error wrapping ErrEmpty, for the loaders
// that read s.FS in place.
func (s Shipped) Check() error {
	if _, err := fs.Stat(s.FS, path.Join(s.Root, s.Index)); err != nil {
		return fmt.Errorf("%s: the embedded folder has no %s: run %s: %w", s.Name, s.Index, s.Program, ErrEmpty)
	}
	return nil
}
