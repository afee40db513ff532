package imaging

import (
	"fmt"
	"math"
)

// Filter is a resampling filter, numbered as Pillow's Image.Resampling (and so as the `resample`
// integers of transformers' preprocessor_config.json).
type Filter int

const (
	Nearest  Filter = 0
	Lanczos  Filter = 1
	Bilinear Filter = 2
	Bicubic  Filter = 3
	Box      Filter = 4
	Hamming  Filter = 5
)

// String returns Pillow's name of the filter.
func (f Filter) String() string {
	switch f {
	case Nearest:
		return "NEAREST"
	case Lanczos:
		return "LANCZOS"
	case Bilinear:
		return "BILINEAR"
	case Bicubic:
		return "BICUBIC"
	case Box:
		return "BOX"
	case Hamming:
		return "HAMMING"
	}
	return fmt.Sprintf("Filter(%d)", int(f))
}

// Valid reports whether f is one of the six filters.
func (f Filter) Valid() bool { return f >= Nearest && f <= Hamming }

// kernel is a convolution filter and its support (half-width) at scale 1.
type kernel struct {
	fn      func(x float64) float64
	support float64
}

func (f Filter) kernel() kernel {
	switch f {
	case Box:
		return kernel{boxKernel, 0.5}
	case Bilinear:
		return kernel{triangleKernel, 1}
	case Hamming:
		return kernel{hammingKernel, 1}
	case Bicubic:
		return kernel{bicubicKernel, 2}
	case Lanczos:
		return kernel{lanczosKernel, 3}
	}
	panic("imaging: no kernel for " + f.String())
}

// The kernels below are evaluated in float64 in the same operation order as Pillow's C code;
// explicit float64 conversions keep the compiler from fusing a multiply and an add, which would
// round differently.

func boxKernel(x float64) float64 {
	if x > -0.5 && x <= 0.5 {
		return 1
	}
	return 0
}

func triangleKernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// Pillow writes these two constants as C float literals (0.54f, 0.46f).
var hamA, hamB = float64(float32(0.54)), float64(float32(0.46))

func hammingKernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x == 0 {
		return 1
	}
	if x >= 1 {
		return 0
	}
	x = float64(x * math.Pi)
	return float64(math.Sin(x)/x) * float64(hamA+float64(hamB*math.Cos(x)))
}

// bicubicKernel is Keys' cubic convolution with a = -0.5.
func bicubicKernel(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		t := float64((a+2)*x) - (a + 3)
		t = float64(t * x)
		return float64(t*x) + 1
	}
	if x < 2 {
		t := float64((x-5)*x) + 8
		t = float64(t*x) - 4
		return t * a
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x = float64(x * math.Pi)
	return math.Sin(x) / x
}

func lanczosKernel(x float64) float64 {
	if -3 <= x && x < 3 {
		return float64(sinc(x) * sinc(x/3))
	}
	return 0
}

// precision is Pillow's PRECISION_BITS for 8-bit images: coefficients are fixed point with 22
// fractional bits, leaving 8 bits for the value and 2 for overshoot in a 32-bit int.
const precision = 32 - 8 - 2

// weights are one pass's coefficients: output i reads inputs start[i] .. start[i]+len(k[i])-1.
type weights struct {
	start []int
	k     [][]int32
	prec  uint // fractional bits of k
}

// coefficients computes the fixed-point resampling weights from inSize samples (the span
// [in0, in1) of them, as float32 like Pillow's box) to outSize, as Pillow's precompute_coeffs
// followed by normalize_coeffs_8bpc.
func coefficients(inSize int, in0, in1 float32, outSize int, kern kernel) weights {
	scale := float64(in1-in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := kern.support * filterscale
	inv := 1 / filterscale
	w := weights{start: make([]int, outSize), k: make([][]int32, outSize), prec: precision}
	buf := make([]float64, 0, int(math.Ceil(support))*2+2)
	for xx := 0; xx < outSize; xx++ {
		center := float64(in0) + float64((float64(xx)+0.5)*scale)
		xmin := int(center - support + 0.5) // truncation, as C's (int)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		n := xmax - xmin
		if n < 0 {
			n = 0
		}
		buf = buf[:0]
		ww := 0.0
		for x := 0; x < n; x++ {
			v := kern.fn(float64(float64(x+xmin)-center+0.5) * inv)
			buf = append(buf, v)
			ww += v
		}
		k := make([]int32, n)
		for x, v := range buf {
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + float64(v*(1<<precision)))
			} else {
				k[x] = int32(0.5 + float64(v*(1<<precision)))
			}
		}
		w.start[xx] = xmin
		w.k[xx] = k
	}
	return w
}

// clipFixed turns an accumulated fixed-point sum with prec fractional bits into a byte, as
// Pillow's clip8.
func clipFixed(ss int32, prec uint) uint8 {
	v := ss >> prec
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// horizontal resamples rows y0..y1-1 of src to width len(w.start).
func horizontal(src *RGB, y0, y1 int, w weights) *RGB {
	outW := len(w.start)
	out := NewRGB(outW, y1-y0)
	for y := y0; y < y1; y++ {
		in := src.Pix[3*y*src.W : 3*(y+1)*src.W]
		o := out.Pix[3*(y-y0)*outW:]
		for xx := 0; xx < outW; xx++ {
			half := int32(1) << (w.prec - 1)
			ss0, ss1, ss2 := half, half, half
			p := in[3*w.start[xx]:]
			for x, k := range w.k[xx] {
				ss0 += int32(p[3*x]) * k
				ss1 += int32(p[3*x+1]) * k
				ss2 += int32(p[3*x+2]) * k
			}
			o[3*xx], o[3*xx+1], o[3*xx+2] = clipFixed(ss0, w.prec), clipFixed(ss1, w.prec), clipFixed(ss2, w.prec)
		}
	}
	return out
}

// vertical resamples src to height len(w.start), where w's row indices are offset by -y0
// (src holds source rows y0 onward).
func vertical(src *RGB, y0 int, w weights) *RGB {
	outH := len(w.start)
	stride := 3 * src.W
	out := NewRGB(src.W, outH)
	for yy := 0; yy < outH; yy++ {
		base := w.start[yy] - y0
		o := out.Pix[yy*stride : (yy+1)*stride]
		ks := w.k[yy]
		for i := range o {
			ss := int32(1) << (w.prec - 1)
			for y, k := range ks {
				ss += int32(src.Pix[(base+y)*stride+i]) * k
			}
			o[i] = clipFixed(ss, w.prec)
		}
	}
	return out
}

// Resize returns src resized to w×h exactly as Pillow's Image.resize(size, resample) does on an
// "RGB" image (reducing_gap=None, no box), byte for byte:
//
//   - same size: a copy;
//   - NEAREST: Pillow's affine scale, source pixel trunc((x+0.5)·in/out) accumulated in float64;
//   - otherwise a separable convolution, first along rows (skipped when the width is unchanged,
//     and computed only for the source rows the second pass reads), then along columns (skipped
//     when the height is unchanged), each pass with Pillow's fixed-point weights, rounding and
//     clipping to 8 bits in between. Shrinking widens the kernel by the scale factor
//     (antialiasing). Like Pillow ≥ 12.2, an image more than 100 times taller than wide that
//     shrinks in height is resampled along columns first.
func Resize(src *RGB, w, h int, f Filter) (*RGB, error) {
	if src == nil {
		return nil, fmt.Errorf("imaging: resize: nil image")
	}
	if src.W <= 0 || src.H <= 0 {
		return nil, fmt.Errorf("imaging: resize: %w: %dx%d", ErrEmpty, src.W, src.H)
	}
	if w < 1 || h < 1 {
		return nil, fmt.Errorf("imaging: resize to %dx%d: width and height must be > 0", w, h)
	}
	if !f.Valid() {
		return nil, fmt.Errorf("imaging: resize: unknown filter %d", int(f))
	}
	if w == src.W && h == src.H {
		return src.Clone(), nil
	}
	if f == Nearest {
		return nearest(src, w, h), nil
	}
	kern := f.kernel()
	if src.H > 100*src.W && h < src.H {
		tmp := src
		if h != src.H {
			tmp = vertical(src, 0, coefficients(src.H, 0, float32(src.H), h, kern))
		}
		if w != tmp.W {
			tmp = horizontal(tmp, 0, tmp.H, coefficients(tmp.W, 0, float32(tmp.W), w, kern))
		}
		return tmp, nil
	}
	var hw, vw *weights
	if w != src.W {
		c := coefficients(src.W, 0, float32(src.W), w, kern)
		hw = &c
	}
	if h != src.H {
		c := coefficients(src.H, 0, float32(src.H), h, kern)
		vw = &c
	}
	return separable(src, hw, vw), nil
}

// separable runs the horizontal pass with hw (nil: width unchanged) and then the vertical pass
// with vw (nil: height unchanged). The horizontal pass covers only the source rows the vertical
// pass reads, as in Pillow; that changes no value.
func separable(src *RGB, hw, vw *weights) *RGB {
	out := src
	y0 := 0
	if hw != nil {
		y1 := src.H
		if vw != nil {
			last := len(vw.start) - 1
			y0, y1 = vw.start[0], vw.start[last]+len(vw.k[last])
		}
		out = horizontal(src, y0, y1, *hw)
	}
	if vw != nil {
		out = vertical(out, y0, *vw)
	}
	if out == src {
		out = src.Clone()
	}
	return out
}

// nearest is Pillow's ImagingScaleAffine for a scale-only transform: the source coordinate starts
// at half a step and is accumulated in float64, then truncated.
func nearest(src *RGB, w, h int) *RGB {
	out := NewRGB(w, h)
	ax := float64(float32(src.W)) / float64(w)
	ay := float64(float32(src.H)) / float64(h)
	xin := make([]int, w)
	xo := ax * 0.5
	for x := range xin {
		xin[x] = coord(xo)
		xo += ax
	}
	yo := ay * 0.5
	for y := 0; y < h; y++ {
		yi := coord(yo)
		yo += ay
		if yi < 0 || yi >= src.H {
			continue
		}
		row := src.Pix[3*yi*src.W:]
		o := out.Pix[3*y*w:]
		for x, xi := range xin {
			if xi < 0 || xi >= src.W {
				continue
			}
			copy(o[3*x:3*x+3], row[3*xi:3*xi+3])
		}
	}
	return out
}

// coord is Pillow's COORD macro.
func coord(v float64) int {
	if v < 0 {
		return -1
	}
	return int(v)
}
