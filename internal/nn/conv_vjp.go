package nn

import (
	. "github.com/gomlx/gomlx/core/graph"
)

// This file gives the Go backend's dense im2col convolution a hand-written backward pass.
//
// Autodiff of the im2col forward is correct but slow on the Go backend: the weight gradient
// contracts the patches over their leading (batch·position) axes, which the backend's matmul
// takes only after transposing both operands, the patch tensor kh·kw times the input's size
// among them; and the input gradient scatters the patch gradient back through kh·kw Slice
// gradients (Pads) and Adds. Here instead:
//
//   - dW = vᵀ·patches: only v (output-sized) is transposed, and the patches kept from the
//     forward are the matmul's right operand as they are;
//   - dx (stride 1) is the transposed convolution: im2col of the padded v times the flipped
//     weight, one more matmul; for larger strides (few, small layers) the patch gradient v·W is
//     scattered back with Pad (a block copy) and Add.
//
// For 8×32×32×64 → 64, 3×3, forward+backward went from 95–130 ms with autodiff to 55 ms, with
// the transposes and pads gone from the profile (GOEXPERIMENT=simd); without SIMD, 370 → 300 ms.

// convPadFast pads (or, for negative amounts, crops) the spatial axes of x: [b, h, w, c] with
// zeros, with interior zeros between elements (a stride's dilation). It uses graph.Pad, a block
// copy on the Go backend, which has no gradient: only for code that autodiff never traverses.
func convPadFast(x *Node, hPad, wPad [2]int, interior int) *Node {
	crop := [2][2]int{}
	for a, p := range [2][2]int{hPad, wPad} {
		for s := range 2 {
			if p[s] < 0 {
				crop[a][s] = -p[s]
			}
		}
	}
	pads := []PadAxis{{}, {Start: max(hPad[0], 0), End: max(hPad[1], 0), Interior: interior},
		{Start: max(wPad[0], 0), End: max(wPad[1], 0), Interior: interior}, {}}
	if pads[1] != (PadAxis{}) || pads[2] != (PadAxis{}) {
		x = Pad(x, ScalarZero(x.Graph(), x.DType()), pads...)
	}
	if crop != ([2][2]int{}) {
		d := x.Shape().Dimensions
		x = Slice(x, AxisRange(), AxisRange(crop[0][0], d[1]-crop[0][1]), AxisRange(crop[1][0], d[2]-crop[1][1]))
	}
	return x
}

// convIm2colGrad is the groups == 1 im2col convolution with the hand-written backward.
func convIm2colGrad(x, weight *Node, g convGeom) *Node {
	var patches *Node // Saved by the forward for dW.
	forward := func(x, weight *Node) *Node {
		xp := convPadFast(x, [2]int{g.pad.Top, g.pad.Bottom}, [2]int{g.pad.Left, g.pad.Right}, 0)
		patches = convPatches(xp, g)
		return DotGeneral(patches, []int{3}, nil, convWeightMatrix(weight, g), []int{1}, nil)
	}
	gradW := func(v *Node) *Node {
		vT := TransposeAllAxes(v, 3, 0, 1, 2) // [cout, b, ho, wo]: output-sized.
		dw := DotGeneral(vT, []int{1, 2, 3}, nil, patches, []int{0, 1, 2}, nil)
		dw = Reshape(dw, g.cout, g.kh, g.kw, g.cin)
		return TransposeAllAxes(dw, 0, 3, 1, 2)
	}
	gradX := func(v *Node) *Node {
		if g.sh == 1 && g.sw == 1 {
			return convTransposedStride1(v, weight, g)
		}
		return convScatterPatchGrad(v, weight, g)
	}
	return withCustomVJP(forward(x, weight), []*Node{x, weight}, []func(*Node) *Node{gradX, gradW})
}

// convWeightMatrix reshapes weight [cout, cin, kh, kw] to [cout, kh·kw·cin], the patches' order.
func convWeightMatrix(weight *Node, g convGeom) *Node {
	if g.kh*g.kw > 1 {
		weight = TransposeAllAxes(weight, 0, 2, 3, 1) // [cout, kh, kw, cin]: weight-sized, cheap.
	}
	return Reshape(weight, g.cout, g.kh*g.kw*g.cin)
}

// convTransposedStride1 is dx of a stride-1 convolution: the "full" convolution of v with the
// spatially flipped, in/out-swapped kernel, itself computed by im2col.
func convTransposedStride1(v, weight *Node, g convGeom) *Node {
	hPad := [2]int{g.kh - 1 - g.pad.Top, g.h - g.ho + g.pad.Top}
	wPad := [2]int{g.kw - 1 - g.pad.Left, g.w - g.wo + g.pad.Left}
	vp := convPadFast(v, hPad, wPad, 0)
	gt := convGeom{batch: g.batch, h: vp.Shape().Dimensions[1], w: vp.Shape().Dimensions[2], cin: g.cout,
		cout: g.cin, kh: g.kh, kw: g.kw, groups: 1, sh: 1, sw: 1, ho: g.h, wo: g.w}
	flipped := Reverse(weight, 2, 3)            // [cout, cin, kh, kw], kernel flipped.
	wf := TransposeAllAxes(flipped, 1, 2, 3, 0) // [cin, kh, kw, cout]
	wf = Reshape(wf, g.cin, g.kh*g.kw*g.cout)   // Matches the patches of vp.
	return DotGeneral(convPatches(vp, gt), []int{3}, nil, wf, []int{1}, nil)
}

// convScatterPatchGrad is dx of a strided convolution: the patch gradient v·W, each kernel
// tap's block placed back (Pad with the stride as interior padding) where its window came from,
// summed, and the convolution's padding cropped.
func convScatterPatchGrad(v, weight *Node, g convGeom) *Node {
	w2 := convWeightMatrix(weight, g)
	dPatches := DotGeneral(v, []int{3}, nil, w2, []int{0}, nil) // [b, ho, wo, kh·kw·cin]
	hp, wp := g.h+g.pad.Top+g.pad.Bottom, g.w+g.pad.Left+g.pad.Right
	var dxp *Node
	for i := range g.kh {
		for j := range g.kw {
			t := i*g.kw + j
			block := Slice(dPatches, AxisRange(), AxisRange(), AxisRange(), AxisRange(t*g.cin, (t+1)*g.cin))
			hEnd, wEnd := i+(g.ho-1)*g.sh+1, j+(g.wo-1)*g.sw+1
			placed := Pad(block, ScalarZero(v.Graph(), v.DType()), PadAxis{},
				PadAxis{Start: i, End: hp - hEnd, Interior: g.sh - 1},
				PadAxis{Start: j, End: wp - wEnd, Interior: g.sw - 1}, PadAxis{})
			if dxp == nil {
				dxp = placed
			} else {
				dxp = Add(dxp, placed)
			}
		}
	}
	return convPadFast(dxp, [2]int{-g.pad.Top, -g.pad.Bottom}, [2]int{-g.pad.Left, -g.pad.Right}, 0)
}
