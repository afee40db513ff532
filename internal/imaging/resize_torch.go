package imaging

import (
	"fmt"
	"math"
)

// ResizeTorch returns src resized to w×h as torchvision.transforms.v2.functional.resize(...,
// antialias=True) does on a uint8 CPU tensor, which is what transformers' torchvision image
// processors (the default backend of transformers 5) run:
//
//   - BILINEAR and BICUBIC: ATen's separable uint8 antialiased kernel. It is Pillow's algorithm
//     (same support, centres and pass order: rows first, then columns, each skipped when its size
//     is unchanged) with one difference: each pass's weights are rounded to int16 with as many
//     fractional bits as the largest weight allows (at most 22) instead of Pillow's fixed 22, so a
//     small fraction of pixels land one step away from Pillow's. Its bicubic polynomial is Keys'
//     a = -0.5 written as ATen writes it.
//   - NEAREST: ATen's nearest-exact (transformers maps Pillow's NEAREST to it), the source pixel
//     whose centre is nearest, as Pillow's NEAREST picks.
//
// Torchvision has no LANCZOS, BOX or HAMMING for tensors; they are an error here (transformers
// itself substitutes BICUBIC for LANCZOS).
func ResizeTorch(src *RGB, w, h int, f Filter) (*RGB, error) {
	if src == nil {
		return nil, fmt.Errorf("imaging: resize: nil image")
	}
	if src.W <= 0 || src.H <= 0 {
		return nil, fmt.Errorf("imaging: resize: %w: %dx%d", ErrEmpty, src.W, src.H)
	}
	if w < 1 || h < 1 {
		return nil, fmt.Errorf("imaging: resize to %dx%d: width and height must be > 0", w, h)
	}
	var kern kernel
	if w == src.W && h == src.H && (f == Nearest || f == Bilinear || f == Bicubic) {
		return src.Clone(), nil
	}
	switch f {
	case Nearest:
		return torchNearest(src, w, h), nil
	case Bilinear:
		kern = kernel{triangleKernel, 1}
	case Bicubic:
		kern = kernel{torchCubicKernel, 2}
	default:
		return nil, fmt.Errorf("imaging: resize: filter %v not supported by torchvision on tensors", f)
	}
	var hw, vw *weights
	if w != src.W {
		c := torchCoefficients(src.W, w, kern)
		hw = &c
	}
	if h != src.H {
		c := torchCoefficients(src.H, h, kern)
		vw = &c
	}
	return separable(src, hw, vw), nil
}

// torchCubicKernel is ATen's aa_filter for bicubic: cubic_convolution1/2 with A = -0.5.
func torchCubicKernel(x float64) float64 {
	const a = -0.5
	x = math.Abs(x)
	if x < 1 {
		t := float64((a+2)*x) - (a + 3)
		t = float64(t * x)
		return float64(t*x) + 1
	}
	if x < 2 {
		t := float64(a*x) - 5*a
		t = float64(t*x) + 8*a
		return float64(t*x) - 4*a
	}
	return 0
}

// torchCoefficients is ATen's _compute_index_ranges_int16_weights with antialias=True,
// align_corners=False and no explicit scale.
func torchCoefficients(inSize, outSize int, kern kernel) weights {
	scale := float64(inSize) / float64(outSize)
	support := kern.support
	invscale := 1.0
	if scale >= 1 {
		support = kern.support * scale
		invscale = 1 / scale
	}
	maxSize := int(math.Ceil(support))*2 + 1
	w := weights{start: make([]int, outSize), k: make([][]int32, outSize)}
	fw := make([][]float64, outSize)
	wtMax := 0.0
	for i := 0; i < outSize; i++ {
		center := float64(scale * (float64(i) + 0.5))
		xmin := max(int(center-support+0.5), 0)
		xsize := min(int(center+support+0.5), inSize) - xmin
		xsize = min(max(xsize, 0), maxSize)
		ws := make([]float64, xsize)
		total := 0.0
		for j := range ws {
			ws[j] = kern.fn(float64(float64(j+xmin)-center+0.5) * invscale)
			total += ws[j]
		}
		if total != 0 {
			for j := range ws {
				ws[j] /= total
				wtMax = max(wtMax, ws[j])
			}
		}
		w.start[i], fw[i] = xmin, ws
	}
	var prec uint
	for prec = 0; prec < 22; prec++ {
		if int(0.5+wtMax*float64(int(1)<<(prec+1))) >= 1<<15 {
			break
		}
	}
	w.prec = prec
	for i, ws := range fw {
		k := make([]int32, len(ws))
		for j, v := range ws {
			v *= float64(int(1) << prec)
			if v < 0 {
				k[j] = int32(int16(int(-0.5 + v)))
			} else {
				k[j] = int32(int16(int(0.5 + v)))
			}
		}
		w.k[i] = k
	}
	return w
}

// torchNearest is ATen's nearest-exact on uint8 (what transformers asks torchvision for when the
// config says NEAREST): source index min(floor((i+0.5)·float32(in/out)), in−1). The product is
// rounded to float32 before the floor, as ATen's channels-last kernel does; its other kernel
// rounds slightly differently, which can matter only where (i+0.5)·in/out is within float32
// rounding of an integer.
func torchNearest(src *RGB, w, h int) *RGB {
	idx := func(in, out int) []int {
		s := float32(in) / float32(out)
		r := make([]int, out)
		for i := range r {
			r[i] = min(int(math.Floor(float64(float32((float64(i)+0.5)*float64(s))))), in-1)
		}
		return r
	}
	xs, ys := idx(src.W, w), idx(src.H, h)
	out := NewRGB(w, h)
	for y, yi := range ys {
		row := src.Pix[3*yi*src.W:]
		o := out.Pix[3*y*w:]
		for x, xi := range xs {
			copy(o[3*x:3*x+3], row[3*xi:3*xi+3])
		}
	}
	return out
}
