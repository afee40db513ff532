package main

import (
	"errors"
	"fmt"
	"image"
	"math"

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

// thumbnail scales img to cover height×width and crops its centre, as the trainer prepares the
// photos it trains on.
func thumbnail(img image.Image, height, width int) (image.Image, error) {
	src, err := imaging.FromImage(img)
	if err != nil {
		return nil, err
	}
	scale := math.Max(float64(height)/float64(src.H), float64(width)/float64(src.W))
	w, h := max(width, int(math.Round(float64(src.W)*scale))), max(height, int(math.Round(float64(src.H)*scale)))
	if w != src.W || h != src.H {
		if src, err = imaging.Resize(src, w, h, imaging.Bilinear); err != nil {
			return nil, err
		}
	}
	return imaging.CenterCrop(src, width, height)
}
