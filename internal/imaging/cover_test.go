package imaging

import (
	"image"
	"image/color"
	"testing"
)

// A 8×4 picture, left half red and right half blue, thumbnailed to 2×2 keeps its middle: red on
// the left, blue on the right.
func TestThumbnail(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 8, 4))
	for y := range 4 {
		for x := range 8 {
			c := color.RGBA{255, 0, 0, 255}
			if x >= 4 {
				c = color.RGBA{0, 0, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	th, err := Thumbnail(img, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if th.W != 2 || th.H != 2 {
		t.Fatalf("size %dx%d, want 2x2", th.W, th.H)
	}
	l, r := th.At(0, 0).(color.RGBA), th.At(1, 0).(color.RGBA)
	if !(l.R > l.B && r.B > r.R) {
		t.Errorf("left %v, right %v: want red then blue", l, r)
	}
}
