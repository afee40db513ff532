package imaging

import (
	"image"
	"math"
)

// Thumbnail scales img (bilinear) to the smallest size that covers height×width and crops its
// centre: how the examples show reference photos beside generated images, as the trainer
// prepares the photos it trains on.
func Thumbnail(img image.Image, height, width int) (*RGB, error) {
	src, err := FromImage(img)
	if err != nil {
		return nil, err
	}
	scale := math.Max(float64(height)/float64(src.H), float64(width)/float64(src.W))
	w, h := max(width, int(math.Round(float64(src.W)*scale))), max(height, int(math.Round(float64(src.H)*scale)))
	if w != src.W || h != src.H {
		if src, err = Resize(src, w, h, Bilinear); err != nil {
			return nil, err
		}
	}
	return CenterCrop(src, width, height)
}
