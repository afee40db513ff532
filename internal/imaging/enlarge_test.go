package imaging

import (
	"image"
	"testing"
)

// TestEnlargeForViewing checks the whole-factor nearest-neighbour enlargement: every source pixel
// becomes a k×k block, nil cells stay nil, and large images are left alone.
func TestEnlargeForViewing(t *testing.T) {
	small := NewRGB(3, 2)
	for i := range small.Pix {
		small.Pix[i] = uint8(10 * i)
	}
	tall := NewRGB(2, 5)
	got, err := EnlargeForViewing([]image.Image{small, nil, tall}, 12)
	if err != nil {
		t.Fatal(err)
	}
	// The largest side is 5, so k = ceil(12/5) = 3 for every image.
	if got[1] != nil {
		t.Errorf("nil cell became %v", got[1])
	}
	if b := got[2].Bounds(); b.Dx() != 6 || b.Dy() != 15 {
		t.Errorf("tall image enlarged to %v, want 6×15", b)
	}
	big := got[0].(*RGB)
	if big.W != 9 || big.H != 6 {
		t.Fatalf("small image enlarged to %d×%d, want 9×6", big.W, big.H)
	}
	for y := range big.H {
		for x := range big.W {
			for c := range 3 {
				want := small.Pix[3*((y/3)*small.W+x/3)+c]
				if g := big.Pix[3*(y*big.W+x)+c]; g != want {
					t.Fatalf("pixel (%d,%d) channel %d = %d, want source pixel (%d,%d)'s %d", x, y, c, g, x/3, y/3, want)
				}
			}
		}
	}
	same, err := EnlargeForViewing([]image.Image{small}, 3)
	if err != nil || same[0] != image.Image(small) {
		t.Errorf("an image as large as minSide came back as %v, %v; want it unchanged", same, err)
	}
}
