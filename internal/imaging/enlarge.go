package imaging

import (
	"fmt"
	"image"
)

// ViewingSide is the side image grids meant for people enlarge their cells to (EnlargeForViewing's
// minSide in examples/finetune and examples/dreambench): 32×32 toy samples become 128×128.
const ViewingSide = 128

// EnlargeForViewing scales images up by the smallest whole factor that makes the largest of them
// at least minSide pixels on its longer side, nearest-neighbour, so that a person looking at a
// grid of 32×32 samples sees each pixel as a crisp block instead of a blur (the subject's 1–2
// pixel marks stay marks). Images already that large come back unchanged, as do nil entries
// (an empty grid cell).
func EnlargeForViewing(images []image.Image, minSide int) ([]image.Image, error) {
	side := 0
	for _, img := range images {
		if img != nil {
			b := img.Bounds()
			side = max(side, b.Dx(), b.Dy())
		}
	}
	if side == 0 || side >= minSide {
		return images, nil
	}
	k := (minSide + side - 1) / side
	out := make([]image.Image, len(images))
	for i, img := range images {
		if img == nil {
			continue
		}
		rgb, err := FromImage(img)
		if err != nil {
			return nil, fmt.Errorf("imaging: enlarging image %d: %w", i, err)
		}
		out[i] = nearest(rgb, k*rgb.W, k*rgb.H)
	}
	return out, nil
}
