package diffusion

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
)

// Pixel unshuffling folds each r×r block of an image's pixels into channels: [C, H, W] becomes
// [C·r², H/r, W/r] with channel c·r² + i·r + j holding pixel (h·r+i, w·r+j) of channel c, the
// order of torch.nn.functional.pixel_unshuffle. It is lossless and costs nothing to learn: a
// pixel-space U-Net that denoises folded images (Pipeline.PixelUnshuffle) works on r² fewer
// positions, which on a CPU backend is the difference between hours and days of training
// (Hoogeboom et al. 2023, "simple diffusion", fold pixels the same way). PixelShuffle unfolds.

// PixelUnshuffle folds images x [n, c, h, w] (NCHW, shape gives it) into [n, c·r², h/r, w/r].
func PixelUnshuffle(x []float32, shape [4]int, r int) ([]float32, [4]int, error) {
	if err := checkHostShape("pixel unshuffle: images", len(x), shape[:]...); err != nil {
		return nil, shape, err
	}
	if r < 1 || shape[2]%r != 0 || shape[3]%r != 0 {
		return nil, shape, fmt.Errorf("pixel unshuffle: images %v by %d, want a factor ≥ 1 dividing height and width", shape, r)
	}
	n, c, h, w := shape[0], shape[1], shape[2], shape[3]
	out := make([]float32, len(x))
	oh, ow := h/r, w/r
	for b := range n {
		for ci := range c {
			for y := range h {
				for xx := range w {
					oc := ci*r*r + (y%r)*r + xx%r
					out[((b*c*r*r+oc)*oh+y/r)*ow+xx/r] = x[((b*c+ci)*h+y)*w+xx]
				}
			}
		}
	}
	return out, [4]int{n, c * r * r, oh, ow}, nil
}

// PixelShuffle unfolds [n, c·r², h, w] into [n, c, h·r, w·r]: the inverse of PixelUnshuffle.
func PixelShuffle(x []float32, shape [4]int, r int) ([]float32, [4]int, error) {
	if err := checkHostShape("pixel shuffle: images", len(x), shape[:]...); err != nil {
		return nil, shape, err
	}
	if r < 1 || shape[1]%(r*r) != 0 {
		return nil, shape, fmt.Errorf("pixel shuffle: tensor %v by %d, want a factor ≥ 1 whose square divides the channels", shape, r)
	}
	n, c, h, w := shape[0], shape[1]/(r*r), shape[2]*r, shape[3]*r
	out := make([]float32, len(x))
	ih, iw := shape[2], shape[3]
	for b := range n {
		for ci := range c {
			for y := range h {
				for xx := range w {
					ic := ci*r*r + (y%r)*r + xx%r
					out[((b*c+ci)*h+y)*w+xx] = x[((b*c*r*r+ic)*ih+y/r)*iw+xx/r]
				}
			}
		}
	}
	return out, [4]int{n, c, h, w}, nil
}

// PixelUnshuffleGraph is PixelUnshuffle in a graph on channels-last images: x [n, h, w, c]
// becomes [n, h/r, w/r, c·r²] with the same channel order.
func PixelUnshuffleGraph(x *Node, r int) *Node {
	d := x.Shape().Dimensions
	n, h, w, c := d[0], d[1], d[2], d[3]
	x = Reshape(x, n, h/r, r, w/r, r, c)      // n, y, i, x, j, c
	x = TransposeAllDims(x, 0, 1, 3, 5, 2, 4) // n, y, x, c, i, j
	return Reshape(x, n, h/r, w/r, c*r*r)
}

// PixelShuffleGraph is PixelShuffle in a graph on channels-last tensors: x [n, h, w, c·r²]
// becomes [n, h·r, w·r, c].
func PixelShuffleGraph(x *Node, r int) *Node {
	d := x.Shape().Dimensions
	n, h, w, c := d[0], d[1], d[2], d[3]/(r*r)
	x = Reshape(x, n, h, w, c, r, r)          // n, y, x, c, i, j
	x = TransposeAllDims(x, 0, 1, 4, 2, 5, 3) // n, y, i, x, j, c
	return Reshape(x, n, h*r, w*r, c)
}
