package rewardmodel

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/gorpo/gorpo/align"
)

// shipped is the trained folder, written by examples/toyreward.
//
//go:embed align
var shipped embed.FS

const shippedRoot = "align"

var (
	dirMu   sync.Mutex
	dirPath string
)

// Dir returns a folder holding the shipped reward model as align.LoadALIGN reads it. The first
// call in a process writes the embedded files, once, into the user's cache folder
// (os.UserCacheDir()/gorpo/rewardmodel-<hash of the files>, or under the temporary folder when
// the cache folder is missing or not writable), atomically: a folder that exists is complete. Later calls, and later
// processes with the same files, reuse it.
func Dir() (string, error) {
	dirMu.Lock()
	defer dirMu.Unlock()
	if dirPath != "" {
		return dirPath, nil
	}
	names, key, err := shippedFiles()
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
		dir, err := writeShipped(filepath.Join(base, "gorpo"), names, key)
		if err == nil {
			dirPath = dir
			return dir, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

// writeShipped writes the embedded files to parent/rewardmodel-<key> unless they are there, and
// returns that folder.
func writeShipped(parent string, names []string, key string) (string, error) {
	dir := filepath.Join(parent, "rewardmodel-"+key)
	if complete(dir, names) {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("rewardmodel: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".rewardmodel-"+key+".tmp-")
	if err != nil {
		return "", fmt.Errorf("rewardmodel: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for _, name := range names {
		data, err := shipped.ReadFile(shippedRoot + "/" + name)
		if err != nil {
			return "", fmt.Errorf("rewardmodel: embedded %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return "", fmt.Errorf("rewardmodel: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("rewardmodel: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process may have written the same folder meanwhile.
		if !complete(dir, names) {
			return "", fmt.Errorf("rewardmodel: writing %s: %w", dir, err)
		}
	}
	return dir, nil
}

// Load returns the shipped reward model (see Dir), on the default backend.
func Load() (*align.ALIGN, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	return align.LoadALIGN(dir)
}

// shippedFiles lists the embedded files and hashes their names and contents.
func shippedFiles() ([]string, string, error) {
	entries, err := fs.ReadDir(shipped, shippedRoot)
	if err != nil {
		return nil, "", fmt.Errorf("rewardmodel: embedded folder: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, "", errors.New("rewardmodel: the embedded folder is empty: run examples/toyreward")
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		data, err := shipped.ReadFile(shippedRoot + "/" + name)
		if err != nil {
			return nil, "", fmt.Errorf("rewardmodel: embedded %s: %w", name, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	return names, hex.EncodeToString(h.Sum(nil))[:16], nil
}

// complete reports whether dir holds every one of names.
func complete(dir string, names []string) bool {
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}
