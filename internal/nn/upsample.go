package nn

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// UpsampleNearest repeats every pixel of x: [batch, height, width, channels] factor×factor
// times, returning [batch, height·factor, width·factor, channels]: torch's
// F.interpolate(x, scale_factor=factor, mode="nearest") for an integer factor (the U-Net's
// Upsample2D uses factor 2). It is differentiable.
//
// The copies are made by concatenation (block copies on the Go backend): for 8×32×32×64,
// forward 1.2 ms against 3.2 ms for a broadcast, and forward+backward 18 against 22 ms.
func UpsampleNearest(x *Node, factor int) *Node {
	if x.Rank() != 4 {
		exceptions.Panicf("nn.UpsampleNearest: x must be [batch, height, width, channels], got shape %s", x.Shape())
	}
	if factor < 1 {
		exceptions.Panicf("nn.UpsampleNearest: factor must be a positive integer, got %d", factor)
	}
	if factor == 1 {
		return x
	}
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	repeat := func(x *Node, axis int) *Node {
		copies := make([]*Node, factor)
		for i := range copies {
			copies[i] = x
		}
		return Concatenate(copies, axis)
	}
	x = repeat(Reshape(x, b, h, w, 1, c), 3)       // [b, h, w, factor, c]: columns repeated.
	x = repeat(Reshape(x, b, h, 1, w*factor*c), 2) // [b, h, factor, w·factor·c]: rows repeated.
	return Reshape(x, b, h*factor, w*factor, c)
}
