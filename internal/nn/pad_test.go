package nn

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// TestZeroPad: padding (and negative-padding crops) of every axis, values and gradient.
func TestZeroPad(t *testing.T) {
	shape := []int{2, 3, 4, 2}
	pads := [][2]int{{0, 1}, {2, 1}, {-1, 2}, {0, 0}}
	x := graphtest.Random(11, shape...)
	outShape := make([]int, len(shape))
	for a := range shape {
		outShape[a] = shape[a] + pads[a][0] + pads[a][1]
	}
	ref := func(x []float64) []float64 {
		out := make([]float64, graphtest.Size(outShape))
		for o := range out {
			idx, rem, inside := 0, o, true
			src := make([]int, len(shape))
			for a := len(shape) - 1; a >= 0; a-- {
				src[a] = rem%outShape[a] - pads[a][0]
				rem /= outShape[a]
				if src[a] < 0 || src[a] >= shape[a] {
					inside = false
				}
			}
			if !inside {
				continue
			}
			for a := range shape {
				idx = idx*shape[a] + src[a]
			}
			out[o] = x[idx]
		}
		return out
	}
	pad := func(x *Node) *Node { return ZeroPad(x, pads...) }
	got := graphtest.Run(t, func(in []*Node) []*Node { return []*Node{pad(in[0])} }, x)[0]
	if fmt.Sprint(got.Shape) != fmt.Sprint(outShape) {
		t.Fatalf("shape %v, want %v", got.Shape, outShape)
	}
	graphtest.AssertClose(t, "forward", got.Data, convFloat32s(ref(graphtest.Float64s(x.Data))), 0)
	convCheckGrad(t, x, outShape, pad, ref)

	// PadHW is ZeroPad of the spatial axes.
	hw := graphtest.Run(t, func(in []*Node) []*Node {
		return []*Node{Sub(PadHW(in[0], 1, 2, 0, 3), ZeroPad(in[0], [2]int{}, [2]int{1, 2}, [2]int{0, 3}))}
	}, x)[0]
	for _, v := range hw.Data {
		if v != 0 {
			t.Fatal("PadHW differs from ZeroPad of the spatial axes")
		}
	}
}
