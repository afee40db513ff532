package rpo

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func solid(w, h int, c color.Color) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	return img
}

func TestImageGrid(t *testing.T) {
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	var missing *image.RGBA
	images := []image.Image{solid(8, 8, red), solid(8, 8, blue), solid(4, 4, red), missing, solid(8, 6, blue)}
	grid, err := ImageGrid(images, 2)
	if err != nil {
		t.Fatal(err)
	}
	// 3 rows of 2 cells of 8×8 with 4-pixel gaps.
	if b := grid.Bounds(); b.Dx() != 2*12+4 || b.Dy() != 3*12+4 {
		t.Fatalf("grid %v", b)
	}
	for _, c := range []struct {
		x, y int
		want color.RGBA
	}{
		{4, 4, red}, {16, 4, blue}, // first row
		{0, 0, color.RGBA{255, 255, 255, 255}},                        // margin
		{4 + 2, 16 + 2, red}, {4, 16, color.RGBA{255, 255, 255, 255}}, // the small image is centred
		{16 + 4, 16 + 4, color.RGBA{255, 255, 255, 255}}, // the missing one is blank
		{4, 28 + 1, blue},
	} {
		if got := grid.RGBAAt(c.x, c.y); got != c.want {
			t.Errorf("pixel (%d,%d) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	path := filepath.Join(t.TempDir(), "grid.png")
	if err := WriteImageGrid(path, images, 2); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	if img, err := png.Decode(f); err != nil || img.Bounds() != grid.Bounds() {
		t.Errorf("written grid: %v", err)
	}
	if _, err := ImageGrid(nil, 2); err == nil {
		t.Error("an empty grid was made")
	}
	if _, err := ImageGrid(images, 0); err == nil {
		t.Error("a grid of 0 columns was made")
	}
}
