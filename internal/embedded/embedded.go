// Package embedded turns a folder compiled into the binary (an embed.FS) into a folder on disk,
// for programs that need a path to the toy world's shipped models (to pass on the command line,
// say). Loading needs no copy: the shipped models' Load functions read their embed.FS in place
// (diffusion.LoadPipelineFS, align.LoadALIGNFS), and RunWithoutDisk tests that they do.
package embedded

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// ErrEmpty is returned by Dir for a root that holds no files: typically a model folder that was
// never exported before the build.
var ErrEmpty = errors.New("no files")

type memoKey struct {
	fsys       fs.FS
	root, name string
}

var (
	mu   sync.Mutex
	memo = map[memoKey]string{}
)

// Dir returns a folder on disk holding a copy of the tree under root in fsys, sub-folders
// included. The copy is os.UserCacheDir()/gorpo/<name>-<key>, or os.TempDir()/gorpo/<name>-<key>
// when the cache folder is missing or not writable, where key is 16 hex digits of a SHA-256
// over every file's path, size and content: a rebuilt binary with other files gets another
// folder, and later processes with the same files reuse this one.
//
// The copy is written once, atomically (into a temporary sibling, then renamed), so a folder
// that exists is complete; when another process wins the rename, its folder is used. Calls with
// the same arguments are answered from memory after the first, when fsys is comparable (an
// embed.FS is; a fstest.MapFS is not, and is hashed again on each call): fsys is taken not to
// change, as an embed.FS cannot.
func Dir(fsys fs.FS, root, name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("embedded: name %q, want a single folder name", name)
	}
	if !fs.ValidPath(root) {
		return "", fmt.Errorf("embedded: root %q is not a valid fs path", root)
	}
	mu.Lock()
	defer mu.Unlock()
	// A map in an interface panics as a map key; such file systems skip the memo.
	var key *memoKey
	if fsys != nil && reflect.ValueOf(fsys).Comparable() {
		key = &memoKey{fsys, root, name}
		if dir, ok := memo[*key]; ok {
			return dir, nil
		}
	}
	files, sum, err := list(fsys, root)
	if err != nil {
		return "", err
	}
	var bases []string
	if base, err := os.UserCacheDir(); err == nil && base != "" {
		bases = append(bases, base)
	}
	bases = append(bases, os.TempDir())
	var errs []error
	for _, base := range bases {
		dir, err := materialise(fsys, root, filepath.Join(base, "gorpo"), name+"-"+sum, files)
		if err == nil {
			if key != nil {
				memo[*key] = dir
			}
			return dir, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

// file is one regular file of the tree: its path relative to root (slash-separated) and size.
type file struct {
	rel  string
	size int64
}

// list returns the files under root, sorted by path, and the key naming their copy. The hash
// input, path NUL size NUL content per file, is the one rewardmodel used before this package,
// so its flat folder keeps its key.
func list(fsys fs.FS, root string) ([]file, string, error) {
	if fsys == nil {
		return nil, "", errors.New("embedded: nil file system")
	}
	var files []file
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		files = append(files, file{rel: relative(root, p)})
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("embedded: %s: %w", root, err)
	}
	if len(files) == 0 {
		return nil, "", fmt.Errorf("embedded: %s: %w", root, ErrEmpty)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	h := sha256.New()
	for i, f := range files {
		data, err := fs.ReadFile(fsys, path.Join(root, f.rel))
		if err != nil {
			return nil, "", fmt.Errorf("embedded: %w", err)
		}
		files[i].size = int64(len(data))
		fmt.Fprintf(h, "%s\x00%d\x00", f.rel, len(data))
		h.Write(data)
	}
	return files, hex.EncodeToString(h.Sum(nil))[:16], nil
}

// relative returns p, a path WalkDir gave under root, relative to root.
func relative(root, p string) string {
	if root == "." {
		return p
	}
	return strings.TrimPrefix(p, root+"/")
}

// materialise writes files to parent/dirName unless they are there, and returns that folder.
func materialise(fsys fs.FS, root, parent, dirName string, files []file) (string, error) {
	dir := filepath.Join(parent, dirName)
	if _, err := os.Stat(dir); err == nil {
		if err := complete(dir, files); err != nil {
			return "", fmt.Errorf("embedded: %s is incomplete (%w); remove it to have it written again", dir, err)
		}
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("embedded: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+dirName+".tmp-")
	if err != nil {
		return "", fmt.Errorf("embedded: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for _, f := range files {
		data, err := fs.ReadFile(fsys, path.Join(root, f.rel))
		if err != nil {
			return "", fmt.Errorf("embedded: %w", err)
		}
		dst := filepath.Join(tmp, filepath.FromSlash(f.rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("embedded: %w", err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return "", fmt.Errorf("embedded: %w", err)
		}
	}
	// MkdirTemp made it private; the copy is meant to be shared like any cache entry.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("embedded: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process may have renamed the same files into place meanwhile.
		if cerr := complete(dir, files); cerr != nil {
			return "", fmt.Errorf("embedded: writing %s: %w", dir, err)
		}
	}
	return dir, nil
}

// complete returns an error unless dir holds every one of files at its size.
func complete(dir string, files []file) error {
	for _, f := range files {
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.rel)))
		if err != nil {
			return err
		}
		if st.Size() != f.size {
			return fmt.Errorf("%s: %d bytes, want %d", f.rel, st.Size(), f.size)
		}
	}
	return nil
}
