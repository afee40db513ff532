package rpo

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"reflect"

	"github.com/gorpo/gorpo/internal/safetensors"
)

// gridGap is the white margin around and between the cells of an image grid, in pixels.
const gridGap = 4

// ImageGrid lays images out row by row, cols to a row, on a white background with a 4-pixel gap.
// Every cell is as large as the largest image; smaller ones sit centred in theirs, and a nil image
// leaves its cell empty. For validation images, cols = ValidationImagesPerPrompt gives one row per
// prompt.
func ImageGrid(images []image.Image, cols int) (*image.RGBA, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("rpo: image grid: no images")
	}
	if cols < 1 {
		return nil, fmt.Errorf("rpo: image grid: %d columns, want at least 1", cols)
	}
	cols = min(cols, len(images))
	rows := (len(images) + cols - 1) / cols
	var cw, ch int
	for _, img := range images {
		if !isNilImage(img) {
			b := img.Bounds()
			cw, ch = max(cw, b.Dx()), max(ch, b.Dy())
		}
	}
	if cw == 0 || ch == 0 {
		return nil, fmt.Errorf("rpo: image grid: all %d images are empty", len(images))
	}
	out := image.NewRGBA(image.Rect(0, 0, cols*(cw+gridGap)+gridGap, rows*(ch+gridGap)+gridGap))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for i, img := range images {
		if isNilImage(img) {
			continue
		}
		b := img.Bounds()
		x := gridGap + (i%cols)*(cw+gridGap) + (cw-b.Dx())/2
		y := gridGap + (i/cols)*(ch+gridGap) + (ch-b.Dy())/2
		draw.Draw(out, image.Rect(x, y, x+b.Dx(), y+b.Dy()), img, b.Min, draw.Src)
	}
	return out, nil
}

// WriteImageGrid writes ImageGrid(images, cols) as a PNG to path, atomically.
func WriteImageGrid(path string, images []image.Image, cols int) error {
	grid, err := ImageGrid(images, cols)
	if err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	if err := safetensors.WriteAtomic(path, func(w io.Writer) error { return png.Encode(w, grid) }); err != nil {
		return fmt.Errorf("rpo: image grid: %w", err)
	}
	return nil
}

// isNilImage reports a nil image, also one held as a typed nil pointer.
func isNilImage(img image.Image) bool {
	if img == nil {
		return true
	}
	v := reflect.ValueOf(img)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
