package nn

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/graphtest"
)

func blkSigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func blkGELU(x float64) float64 { return x * (1 + math.Erf(x/math.Sqrt2)) / 2 }

func blkMap(f func(float64) float64) func(in [][]float64) []float64 {
	return func(in [][]float64) []float64 {
		y := make([]float64, len(in[0]))
		for i, v := range in[0] {
			y[i] = f(v)
		}
		return y
	}
}

func TestActivations(t *testing.T) {
	// Values spread over [-4, 4], where the functions bend.
	x := graphtest.Random(1, 3, 4, 5)
	for i := range x.Data {
		x.Data[i] *= 4
	}
	for _, tc := range []struct {
		name string
		fn   func(*Node) *Node
		ref  func(float64) float64
	}{
		{"SiLU", SiLU, func(v float64) float64 { return v * blkSigmoid(v) }},
		{"GELU", GELU, blkGELU},
		{"GELUTanh", GELUTanh, func(v float64) float64 {
			return v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))) / 2
		}},
		{"QuickGELU", QuickGELU, func(v float64) float64 { return v * blkSigmoid(1.702*v) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blkCheck(t, tc.name, func(in []*Node) *Node { return tc.fn(in[0]) }, blkMap(tc.ref), 1e-6, 1e-4, x)
		})
	}
}

// A few known values: GELU(1) = Φ(1) = 0.841344746…, GELU(-1) = -0.158655253…
func TestActivationGELUValues(t *testing.T) {
	x := graphtest.Array{Shape: []int{3}, Data: []float32{1, -1, 0}}
	out := graphtest.Run(t, func(in []*Node) []*Node { return []*Node{GELU(in[0])} }, x)[0]
	graphtest.AssertClose(t, "GELU", out.Data, []float32{0.8413447460685429, -0.15865525393145707, 0}, 1e-6)
}

// blkGEGLURef is diffusers' GEGLU: proj to 2·out, first half hidden, second half gate.
func blkGEGLURef(x, w, b []float64, in, out int) []float64 {
	h := blkLinearRef(x, w, b, in, 2*out)
	rows := len(h) / (2 * out)
	y := make([]float64, rows*out)
	for r := range rows {
		for o := range out {
			y[r*out+o] = h[r*2*out+o] * blkGELU(h[r*2*out+out+o])
		}
	}
	return y
}

func TestActivationGEGLU(t *testing.T) {
	x := graphtest.Random(2, 2, 3, 4)
	w, b := graphtest.Random(3, 6, 4), graphtest.Random(4, 6)
	blkCheck(t, "GEGLU", func(in []*Node) *Node {
		return GEGLUWith(in[0], in[1], in[2])
	}, func(in [][]float64) []float64 {
		return blkGEGLURef(in[0], in[1], in[2], 4, 3)
	}, 1e-5, 1e-4, x, w, b)

	out, store := blkRunScoped(t, 0, func(scope *model.Scope, in []*Node) *Node {
		return GEGLU(scope.In("net").In("0"), in[0], 5, true)
	}, x)
	w2 := blkVar(t, store, "/net/0/proj/weight", 10, 4)
	b2 := blkVar(t, store, "/net/0/proj/bias", 10)
	want := blkGEGLURef(graphtest.Float64s(x.Data), graphtest.Float64s(w2.Data), graphtest.Float64s(b2.Data), 4, 5)
	graphtest.AssertClose(t, "GEGLU scoped", out.Data, blkFloat32s(want), 1e-5)
}
