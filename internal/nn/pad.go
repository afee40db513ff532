package nn

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// ZeroPad pads x with zeros: paddings[i] = {before, after} for axis i (axes beyond
// len(paddings) are left alone). A negative amount crops that many elements instead, like
// torch.nn.functional.pad. It is differentiable.
//
// GoMLX's Pad has no gradient, so ZeroPad concatenates zero blocks along each padded axis:
// Concatenate is a block copy on the Go backend, and its gradient is a Slice.
func ZeroPad(x *Node, paddings ...[2]int) *Node {
	if len(paddings) > x.Rank() {
		exceptions.Panicf("nn.ZeroPad: %d paddings for x of rank %d (shape %s)", len(paddings), x.Rank(), x.Shape())
	}
	for axis, p := range paddings {
		x = padAxis(x, axis, p[0], p[1])
	}
	return x
}

// PadHW zero-pads the spatial axes of x: [batch, height, width, channels] by top and bottom
// rows and left and right columns (negative amounts crop). It is differentiable.
func PadHW(x *Node, top, bottom, left, right int) *Node {
	if x.Rank() != 4 {
		exceptions.Panicf("nn.PadHW: x must be [batch, height, width, channels], got shape %s", x.Shape())
	}
	return ZeroPad(x, [2]int{}, [2]int{top, bottom}, [2]int{left, right})
}

// padAxis zero-pads (or, for negative amounts, crops) one axis of x.
func padAxis(x *Node, axis, before, after int) *Node {
	if before == 0 && after == 0 {
		return x
	}
	dim := x.Shape().Dimensions[axis]
	if before < 0 || after < 0 {
		start, end := max(-before, 0), dim-max(-after, 0)
		if start > end {
			exceptions.Panicf("nn.ZeroPad: cropping %d and %d from axis %d of size %d", -before, -after, axis, dim)
		}
		x = SliceAxis(x, axis, AxisRange(start, end))
		before, after = max(before, 0), max(after, 0)
		if before == 0 && after == 0 {
			return x
		}
	}
	parts := make([]*Node, 0, 3)
	zeros := func(n int) *Node {
		dims := x.Shape().Clone()
		dims.Dimensions[axis] = n
		return Zeros(x.Graph(), dims)
	}
	if before > 0 {
		parts = append(parts, zeros(before))
	}
	parts = append(parts, x)
	if after > 0 {
		parts = append(parts, zeros(after))
	}
	return Concatenate(parts, axis)
}
