package nn

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/graphtest"
)

func TestLinearWith(t *testing.T) {
	for name, impl := range map[string]linearImplKind{"customvjp": linearCustomVJP, "autodiff": linearAutodiff} {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct{ in, out int }{{5, 4}, {3, 7}} { // both dw formulas
				x := graphtest.Random(1, 2, 3, tc.in)
				w, b := graphtest.Random(2, tc.out, tc.in), graphtest.Random(3, tc.out)
				blkCheck(t, "Linear", func(in []*Node) *Node {
					return linearImpl(in[0], in[1], in[2], impl)
				}, func(in [][]float64) []float64 {
					return blkLinearRef(in[0], in[1], in[2], tc.in, tc.out)
				}, 1e-5, 1e-4, x, w, b)

				blkCheck(t, "Linear without bias, rank 2", func(in []*Node) *Node {
					return linearImpl(in[0], in[1], nil, impl)
				}, func(in [][]float64) []float64 {
					return blkLinearRef(in[0], in[1], nil, tc.in, tc.out)
				}, 1e-5, 1e-4, graphtest.Array{Shape: []int{6, tc.in}, Data: x.Data}, w)
			}
		})
	}
}

// Gradients only w.r.t. some of the inputs, and the same input through two layers (their
// gradients add up).
func TestLinearPartialAndSharedGradients(t *testing.T) {
	x := graphtest.Random(1, 4, 3)
	w1, w2 := graphtest.Random(2, 2, 3), graphtest.Random(3, 5, 3)
	_, grads := graphtest.Grads(t, func(in []*Node) *Node {
		y1 := LinearWith(in[0], StopGradient(in[1]), nil)
		y2 := LinearWith(in[0], in[2], nil)
		return Add(ReduceAllSum(Square(y1)), ReduceAllSum(Square(y2)))
	}, x, w1, w2)
	num := graphtest.NumericGrads(func(in [][]float64) float64 {
		s := 0.0
		for _, y := range [][]float64{blkLinearRef(in[0], in[1], nil, 3, 2), blkLinearRef(in[0], in[2], nil, 3, 5)} {
			for _, v := range y {
				s += v * v
			}
		}
		return s
	}, []graphtest.Array{x, w1, w2}, 1e-3)
	graphtest.AssertClose(t, "dx", grads[0].Data, num[0].Data, 1e-4)
	if blkMaxAbs(grads[1].Data) != 0 {
		t.Fatal("gradient through StopGradient")
	}
	graphtest.AssertClose(t, "dw2", grads[2].Data, num[2].Data, 1e-4)
}

// The scoped layer names its variables as torch does and initialises them in U(-1/√in, 1/√in).
func TestLinearScoped(t *testing.T) {
	x := graphtest.Random(4, 2, 3, 16)
	out, store := blkRunScoped(t, 0, func(scope *model.Scope, in []*Node) *Node {
		return Linear(scope.In("proj_in"), in[0], 8, true)
	}, x)
	w := blkVar(t, store, "/proj_in/weight", 8, 16)
	b := blkVar(t, store, "/proj_in/bias", 8)
	bound := float32(1 / math.Sqrt(16))
	for _, v := range append(append([]float32(nil), w.Data...), b.Data...) {
		if v < -bound || v > bound {
			t.Fatalf("initial value %g outside ±%g", v, bound)
		}
	}
	want := blkLinearRef(graphtest.Float64s(x.Data), graphtest.Float64s(w.Data), graphtest.Float64s(b.Data), 16, 8)
	graphtest.AssertClose(t, "Linear scoped", out.Data, blkFloat32s(want), 1e-5)

	_, store = blkRunScoped(t, 0, func(scope *model.Scope, in []*Node) *Node {
		return Linear(scope.In("to_q"), in[0], 8, false)
	}, x)
	if store.GetVariable("/to_q/bias") != nil {
		t.Fatal("Linear(bias=false) created a bias")
	}
}

// Linear, GEGLU and the activations run in float64 and half precision.
func TestLinearActivationDTypes(t *testing.T) {
	x := graphtest.Random(5, 2, 3, 4)
	w, b := graphtest.Random(6, 6, 4), graphtest.Random(7, 6)
	xs := graphtest.Float64s(x.Data)
	want := blkGEGLURef(xs, graphtest.Float64s(w.Data), graphtest.Float64s(b.Data), 4, 3)
	for i, v := range want {
		want[i] = v * blkSigmoid(v) // SiLU
	}
	for _, tc := range []struct {
		dtype dtypes.DType
		tol   float64
	}{{dtypes.Float64, 1e-6}, {dtypes.Float16, 5e-3}, {dtypes.BFloat16, 3e-2}} {
		t.Run(tc.dtype.String(), func(t *testing.T) {
			outs := graphtest.Run(t, func(in []*Node) []*Node {
				c := func(n *Node) *Node { return ConvertDType(n, tc.dtype) }
				y := SiLU(GEGLUWith(c(in[0]), c(in[1]), c(in[2])))
				if y.DType() != tc.dtype {
					t.Errorf("output dtype %s, want %s", y.DType(), tc.dtype)
				}
				grads := Gradient(ReduceAllSum(Mul(y, GELUTanh(QuickGELU(y)))), in...)
				return []*Node{ConvertDType(y, dtypes.Float32), grads[0], grads[1]}
			}, x, w, b)
			graphtest.AssertClose(t, "SiLU(GEGLU) "+tc.dtype.String(), outs[0].Data, blkFloat32s(want), tc.tol)
			for _, g := range outs[1:] {
				if m := blkMaxAbs(g.Data); m == 0 || math.IsNaN(m) {
					t.Fatalf("gradient max |·| = %g", m)
				}
			}
		})
	}
}
