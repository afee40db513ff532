// Package photos reads a folder of reference photos, as the programs that fine-tune on a
// user's subject take it.
package photos

import (
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorpo/gorpo/internal/imaging"
)

// ErrNone is returned, wrapped, for a folder with no photo in it.
var ErrNone = errors.New("no photos (.jpg, .jpeg or .png)")

// Load reads the photos in dir: every .jpg, .jpeg and .png file (any case), in name order,
// decoded to RGB, each at most maxPixels pixels (width × height, checked from the file's header
// before decoding; a larger one is an error wrapping imaging.ErrTooLarge). It returns the
// images and their paths; a folder without one is an error wrapping ErrNone.
func Load(dir string, maxPixels int) ([]image.Image, []string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var images []image.Image
	var paths []string
	for _, e := range entries { // sorted by name
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png":
		default:
			continue
		}
		if e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		img, err := imaging.LoadMax(path, maxPixels)
		if err != nil {
			return nil, nil, err
		}
		images = append(images, img)
		paths = append(paths, path)
	}
	if len(images) == 0 {
		return nil, nil, fmt.Errorf("%s: %w", dir, ErrNone)
	}
	return images, paths, nil
}
