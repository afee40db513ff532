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
//
// Large convolutions run in bands of output rows (convBands): the patch tensor is kh·kw times the
// input's size (1.2 GB for one 3×3 convolution of Stable Diffusion's VAE decoder at 512 px), and
// made whole it would dominate the memory of inference. Each band's patches are made, multiplied
// and, in an inference graph, released before the next band's; the bands' outputs are then
// concatenated. A training graph keeps every band's patches for dW, as it kept the whole tensor.
func convIm2colGrad(x, weight *Node, g convGeom) *Node {
	bands := convBands(g)
	patches := make([]*Node, len(bands)) // Saved by the forward for dW.
	forward := func(x, weight *Node) *Node {
		xp := convPadFast(x, [2]int{g.pad.Top, g.pad.Bottom}, [2]int{g.pad.Left, g.pad.Right}, 0)
		wm := convWeightMatrix(weight, g)
		outs := make([]*Node, len(bands))
		for i, b := range bands {
			xb, gb := xp, g
			if len(bands) > 1 {
				// Output rows [b[0], b[1]) read padded input rows [b[0]·sh, (b[1]−1)·sh + kh).
				xb = Slice(xp, AxisRange(), AxisRange(b[0]*g.sh, (b[1]-1)*g.sh+g.kh))
				gb.ho = b[1] - b[0]
			}
			patches[i] = convPatches(xb, gb)
			outs[i] = DotGeneral(patches[i], []int{3}, nil, wm, []int{1}, nil)
		}
		if len(outs) == 1 {
			return outs[0]
		}
		return Concatenate(outs, 1)
	}
	gradW := func(v *Node) *Node {
		var dw *Node
		for i, b := range bands {
			vb := v
			if len(bands) > 1 {
				vb = Slice(v, AxisRange(), AxisRange(b[0], b[1]))
			}
			vT := TransposeAllAxes(vb, 3, 0, 1, 2) // [cout, b, ho, wo]: output-sized.
			d := DotGeneral(vT, []int{1, 2, 3}, nil, patches[i], []int{0, 1, 2}, nil)
			if dw == nil {
				dw = d
			} else {
				dw = Add(dw, d)
			}
		}
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

// convBandElements bounds the elements of one band's patch tensor: 32 Mi float32 values are
// 128 MiB. Every convolution of the toy models and of Stable Diffusion's U-Net at 512 px (batch
// 2) fits in one band; the VAE's full-resolution layers take about ten.
var convBandElements = 32 << 20

// convBands splits the output rows [0, ho) into bands whose patch tensors hold at most
// convBandElements values each: one band, [0, ho), for all but large convolutions.
func convBands(g convGeom) [][2]int {
	return evenSpans(g.ho, convBandElements/max(g.batch*g.wo*g.kh*g.kw*g.cin, 1))
}

// evenSpans splits [0, n) into the fewest spans of at most per (≥ 1) items each, as even as
// they can be: [[0, n)] when per ≥ n. Banded convolutions and chunked attention share it.
func evenSpans(n, per int) [][2]int {
	per = max(per, 1)
	if per >= n {
		return [][2]int{{0, n}}
	}
	k := (n + per - 1) / per
	per = (n + k - 1) / k
	var spans [][2]int
	for r := 0; r < n; r += per {
		spans = append(spans, [2]int{r, min(r+per, n)})
	}
	return spans
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
