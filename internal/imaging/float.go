package imaging

import (
	"fmt"
	"math"
)

// LUT maps each channel's byte value to a float32: LUT[c][v]. Because every per-pixel
// preprocessing step (rescale, offset, normalise) is a function of the channel and the 8-bit value
// alone, a table computed once with the reference library's exact float arithmetic reproduces it
// bit for bit.
type LUT [3][256]float32

// NewLUT fills a table from f(channel, value).
func NewLUT(f func(c int, v uint8) float32) *LUT {
	var t LUT
	for c := range 3 {
		for v := range 256 {
			t[c][v] = f(c, uint8(v))
		}
	}
	return &t
}

// UnitLUT maps v to v/255 in float32, as diffusers' pil_to_numpy does.
func UnitLUT() *LUT {
	return NewLUT(func(_ int, v uint8) float32 { return float32(v) / 255 })
}

// SignedUnitLUT maps v to 2·(v/255) − 1 in float32, diffusers' [-1, 1] image convention
// (pil_to_numpy followed by VaeImageProcessor.normalize).
func SignedUnitLUT() *LUT {
	return NewLUT(func(_ int, v uint8) float32 {
		u := float32(v) / 255
		return float32(2*u) - 1
	})
}

// ToCHW writes m as planes [3, H, W] through t into dst, which must hold 3·W·H values, and returns
// dst[:3·W·H]. With dst nil it allocates.
func (m *RGB) ToCHW(dst []float32, t *LUT) ([]float32, error) {
	n := m.W * m.H
	if dst == nil {
		dst = make([]float32, 3*n)
	}
	if len(dst) < 3*n {
		return nil, fmt.Errorf("imaging: ToCHW: dst holds %d values, want %d (3x%dx%d)", len(dst), 3*n, m.H, m.W)
	}
	r, g, b := dst[:n], dst[n:2*n], dst[2*n:3*n]
	for i := range n {
		p := m.Pix[3*i : 3*i+3]
		r[i], g[i], b[i] = t[0][p[0]], t[1][p[1]], t[2][p[2]]
	}
	return dst[:3*n], nil
}

// FromSignedCHW builds an image from planes [3, h, w] in [-1, 1] as diffusers' postprocess does:
// clamp((x/2 + 0.5), 0, 1), times 255, rounded half to even (numpy's round).
func FromSignedCHW(src []float32, w, h int) (*RGB, error) {
	n := w * h
	if w < 1 || h < 1 || len(src) != 3*n {
		return nil, fmt.Errorf("imaging: FromSignedCHW: %d values, want 3x%dx%d", len(src), h, w)
	}
	m := NewRGB(w, h)
	for c := range 3 {
		plane := src[c*n : (c+1)*n]
		for i, x := range plane {
			u := float32(x/2) + 0.5
			if u < 0 || u != u {
				u = 0
			} else if u > 1 {
				u = 1
			}
			m.Pix[3*i+c] = uint8(math.RoundToEven(float64(u * 255)))
		}
	}
	return m, nil
}
