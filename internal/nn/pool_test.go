package nn

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// convPoolCase is one average-pooling configuration tested against the host reference.
type convPoolCase struct {
	name            string
	h, w, kh, kw    int
	sh, sw          int
	pad             Padding2D
	countIncludePad bool
}

// TestAvgPool2D compares values and gradients with torch's avg_pool2d semantics, written out.
func TestAvgPool2D(t *testing.T) {
	cases := []convPoolCase{
		{name: "2x2 (blocks)", h: 6, w: 4, kh: 2, kw: 2, sh: 2, sw: 2, countIncludePad: true},
		{name: "2x2 odd size (cropped blocks)", h: 5, w: 7, kh: 2, kw: 2, sh: 2, sw: 2, countIncludePad: true},
		{name: "3x3 stride2 pad1", h: 7, w: 6, kh: 3, kw: 3, sh: 2, sw: 2, pad: convPad(1), countIncludePad: true},
		{name: "3x3 stride2 pad1 exclude pad", h: 7, w: 6, kh: 3, kw: 3, sh: 2, sw: 2, pad: convPad(1)},
		{name: "3x2 stride1 asymmetric pad exclude", h: 5, w: 5, kh: 3, kw: 2, sh: 1, sw: 1,
			pad: Padding2D{Top: 1, Bottom: 0, Left: 0, Right: 1}},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := graphtest.Random(uint64(500+ci), 2, c.h, c.w, 3)
			pool := func(x *Node) *Node {
				return AvgPool2D(x, c.kh).KernelHW(c.kh, c.kw).StrideHW(c.sh, c.sw).
					PaddingHW(c.pad.Top, c.pad.Bottom, c.pad.Left, c.pad.Right).CountIncludePad(c.countIncludePad).Done()
			}
			ref := func(x []float64) ([]float64, []int) { return convPoolRef(x, []int{2, c.h, c.w, 3}, c) }
			want, outShape := ref(graphtest.Float64s(x.Data))
			got := graphtest.Run(t, func(in []*Node) []*Node { return []*Node{pool(in[0])} }, x)[0]
			if fmt.Sprint(got.Shape) != fmt.Sprint(outShape) {
				t.Fatalf("shape %v, want %v", got.Shape, outShape)
			}
			graphtest.AssertClose(t, "forward", got.Data, convFloat32s(want), 1e-5)
			convCheckGrad(t, x, outShape, func(in *Node) *Node { return pool(in) }, func(x []float64) []float64 {
				out, _ := ref(x)
				return out
			})
		})
	}
}

// convPoolRef is avg_pool2d (ceil_mode=False) over channels-last x of shape [n, h, w, c].
func convPoolRef(x []float64, shape []int, c convPoolCase) ([]float64, []int) {
	n, h, w, ch := shape[0], shape[1], shape[2], shape[3]
	ho := (h+c.pad.Top+c.pad.Bottom-c.kh)/c.sh + 1
	wo := (w+c.pad.Left+c.pad.Right-c.kw)/c.sw + 1
	out := make([]float64, n*ho*wo*ch)
	for b := range n {
		for oi := range ho {
			for oj := range wo {
				for k := range ch {
					s, cnt := 0.0, 0
					for ki := range c.kh {
						for kj := range c.kw {
							i, j := oi*c.sh-c.pad.Top+ki, oj*c.sw-c.pad.Left+kj
							if i < 0 || i >= h || j < 0 || j >= w {
								continue
							}
							s += x[((b*h+i)*w+j)*ch+k]
							cnt++
						}
					}
					div := float64(c.kh * c.kw)
					if !c.countIncludePad {
						div = float64(cnt)
					}
					out[((b*ho+oi)*wo+oj)*ch+k] = s / div
				}
			}
		}
	}
	return out, []int{n, ho, wo, ch}
}

// TestGlobalAvgPool2D: the mean over height and width, as [batch, 1, 1, channels].
func TestGlobalAvgPool2D(t *testing.T) {
	x := graphtest.Random(9, 2, 3, 5, 4)
	ref := func(x []float64) []float64 {
		out := make([]float64, 2*4)
		for b := range 2 {
			for i := range 3 * 5 {
				for k := range 4 {
					out[b*4+k] += x[(b*15+i)*4+k] / 15
				}
			}
		}
		return out
	}
	got := graphtest.Run(t, func(in []*Node) []*Node { return []*Node{GlobalAvgPool2D(in[0])} }, x)[0]
	if fmt.Sprint(got.Shape) != "[2 1 1 4]" {
		t.Fatalf("shape %v, want [2 1 1 4]", got.Shape)
	}
	graphtest.AssertClose(t, "forward", got.Data, convFloat32s(ref(graphtest.Float64s(x.Data))), 1e-5)
	convCheckGrad(t, x, []int{2, 1, 1, 4}, GlobalAvgPool2D, ref)
}

// convCheckGrad checks the gradient of sum(fn(x)·cotangent) against finite differences of the
// float64 reference.
func convCheckGrad(t *testing.T, x graphtest.Array, outShape []int, fn func(*Node) *Node, ref func([]float64) []float64) {
	t.Helper()
	cot := graphtest.Random(77, outShape...)
	_, grads := graphtest.Grads(t, func(in []*Node) *Node {
		return ReduceAllSum(Mul(fn(in[0]), Const(in[0].Graph(), cot.Tensor())))
	}, x)
	num := graphtest.NumericGrads(func(in [][]float64) float64 { return graphtest.Dot64(ref(in[0]), cot.Data) },
		[]graphtest.Array{x}, 1e-2)
	graphtest.AssertClose(t, "d/dx", grads[0].Data, num[0].Data, 1e-3)
}
