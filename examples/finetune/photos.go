package main

import (
	"errors"
	"fmt"
	"image"

	"github.com/gorpo/gorpo/examples/internal/photos"
	"github.com/gorpo/gorpo/internal/imaging"
)

// loadPhotos reads the reference photos in dir (photos.Load: every .jpg, .jpeg and .png file, in
// name order, each at most maxPixels pixels, --max-image-pixels). A folder without one is an
// error.
func loadPhotos(dir string, maxPixels int) ([]image.Image, []string, error) {
	images, paths, err := photos.Load(dir, maxPixels)
	switch {
	case errors.Is(err, imaging.ErrTooLarge):
		return nil, nil, fmt.Errorf("--subject-dir: %w (--max-image-pixels %d; raise it to read this photo)", err, maxPixels)
	case errors.Is(err, photos.ErrNone):
		return nil, nil, fmt.Errorf("--subject-dir %s: no photos (.jpg, .jpeg or .png): want a few photos of the subject", dir)
	case err != nil:
		return nil, nil, fmt.Errorf("--subject-dir: %w", err)
	}
	return images, paths, nil
}
