// Package modelfs lets one loader read a model folder either from the operating system's files
// (native paths, what every path-taking loader does) or from an fs.FS (slash paths inside it: an
// embed.FS compiled into the binary, a zip.Reader, a fstest.MapFS in a test), so that the
// public XxxFS loaders and the path loaders are the same code.
//
// The two differ only where the file system does: on the OS, large safetensors files are
// memory-mapped (internal/safetensors.Open); in an fs.FS every file is read into memory, as
// an fs.FS offers nothing else.
package modelfs

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// FS is where a loader reads: the zero value (OS) is the operating system's file system, with
// native paths; In(fsys) reads inside fsys, with slash-separated paths as fs.FS wants them.
type FS struct{ fsys fs.FS }

// OS reads the operating system's files, by native paths.
var OS FS

// In reads inside fsys. A nil fsys is the operating system's file system.
func In(fsys fs.FS) FS { return FS{fsys: fsys} }

// IsOS reports whether m reads the operating system's files (and so may memory-map them).
func (m FS) IsOS() bool { return m.fsys == nil }

// Join joins path elements the way the file system spells paths: filepath.Join on the OS,
// path.Join inside an fs.FS.
func (m FS) Join(elem ...string) string {
	if m.fsys == nil {
		return filepath.Join(elem...)
	}
	return path.Join(elem...)
}

// Base returns the last element of name.
func (m FS) Base(name string) string {
	if m.fsys == nil {
		return filepath.Base(name)
	}
	return path.Base(name)
}

// Dir returns all but the last element of name.
func (m FS) Dir(name string) string {
	if m.fsys == nil {
		return filepath.Dir(name)
	}
	return path.Dir(name)
}

// CheckDir refuses a folder name an fs.FS cannot hold ("/abs", "a/../b", "a\\b" is allowed as a
// name): it returns an error naming what and the folder, or nil. Native paths are not checked.
func (m FS) CheckDir(what, dir string) error {
	if m.fsys != nil && !fs.ValidPath(dir) {
		return fmt.Errorf("%s: %q is not a valid path inside an fs.FS (want slash-separated, unrooted, "+
			"no . or .. elements, \".\" for the root)", what, dir)
	}
	return nil
}

// ReadFile reads a whole file.
func (m FS) ReadFile(name string) ([]byte, error) {
	if m.fsys == nil {
		return os.ReadFile(name)
	}
	return fs.ReadFile(m.fsys, name)
}

// Stat describes a file or folder.
func (m FS) Stat(name string) (fs.FileInfo, error) {
	if m.fsys == nil {
		return os.Stat(name)
	}
	return fs.Stat(m.fsys, name)
}

// Open opens a file for reading; the caller closes it.
func (m FS) Open(name string) (fs.File, error) {
	if m.fsys == nil {
		return os.Open(name)
	}
	return m.fsys.Open(name)
}

// Exists reports whether name exists (a Stat without error).
func (m FS) Exists(name string) bool {
	_, err := m.Stat(name)
	return err == nil
}

// FS returns the fs.FS that m reads inside, or nil for the operating system's files.
func (m FS) FS() fs.FS { return m.fsys }
