package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// Shared helpers of this package's norm, linear, activation, attention and timestep tests.

// blkCheck compares fn's forward output with the float64 host reference ref on the same inputs,
// and the gradients of sum(out·cot), for a fixed random cotangent cot, with respect to every
// input against central finite differences of the reference.
func blkCheck(t *testing.T, name string, fn func(in []*Node) *Node, ref func(in [][]float64) []float64,
	fwdTol, gradTol float64, inputs ...graphtest.Array) {
	t.Helper()
	out := graphtest.Run(t, func(in []*Node) []*Node { return []*Node{fn(in)} }, inputs...)[0]
	xs := make([][]float64, len(inputs))
	for i, in := range inputs {
		xs[i] = graphtest.Float64s(in.Data)
	}
	graphtest.AssertClose(t, name+" forward", out.Data, blkFloat32s(ref(xs)), fwdTol)

	cot := graphtest.Random(99, out.Shape...)
	_, grads := graphtest.Grads(t, func(in []*Node) *Node {
		y := fn(in)
		return ReduceAllSum(Mul(y, ConvertDType(Const(y.Graph(), cot.Tensor()), y.DType())))
	}, inputs...)
	num := graphtest.NumericGrads(func(in [][]float64) float64 { return graphtest.Dot64(ref(in), cot.Data) }, inputs, 1e-3)
	for i := range inputs {
		what := fmt.Sprintf("%s gradient w.r.t. input %d", name, i)
		if blkMaxAbs(num[i].Data) < 1e-6 {
			// A gradient that is zero in exact arithmetic (e.g. attention's key bias, which shifts
			// every score of a query equally): only float32 noise is allowed.
			if m := blkMaxAbs(grads[i].Data); m > 1e-5 {
				t.Fatalf("%s: max |gradient| %g, want 0", what, m)
			}
			continue
		}
		graphtest.AssertClose(t, what, grads[i].Data, num[i].Data, gradTol)
	}
}

func blkMaxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}

func blkFloat32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// blkRunScoped runs fn once with a fresh store (seeded with seed when seed != 0) and returns its
// output and the store.
func blkRunScoped(t *testing.T, seed int64, fn func(scope *model.Scope, in []*Node) *Node, inputs ...graphtest.Array) (graphtest.Array, *model.Store) {
	t.Helper()
	store := model.NewStore()
	if seed != 0 {
		store.SetParam(model.ParamInitialSeed, seed)
	}
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, in []*Node) *Node { return fn(scope, in) })
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in.Tensor()
	}
	outs, err := exec.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	return graphtest.FromTensor(outs[0]), store
}

// blkVar returns the float32 value of the variable at path, failing if it is missing or has
// another shape.
func blkVar(t *testing.T, store *model.Store, path string, dims ...int) graphtest.Array {
	t.Helper()
	v := store.GetVariable(path)
	if v == nil {
		var names []string
		for v := range store.IterVariables() {
			names = append(names, v.Path())
		}
		t.Fatalf("no variable %s; have %v", path, names)
	}
	if !v.Shape().Equal(shapes.Make(dtypes.Float32, dims...)) {
		t.Fatalf("variable %s: shape %s, want float32 %v", path, v.Shape(), dims)
	}
	return graphtest.FromTensor(v.MustValue())
}

// blkLinearRef is y = x·wᵀ + b over the last axis of x (b may be nil).
func blkLinearRef(x, w, b []float64, in, out int) []float64 {
	rows := len(x) / in
	y := make([]float64, rows*out)
	for r := range rows {
		for o := range out {
			s := 0.0
			if b != nil {
				s = b[o]
			}
			for i := range in {
				s += x[r*in+i] * w[o*in+i]
			}
			y[r*out+o] = s
		}
	}
	return y
}

// Variables are created once, in the shape asked for, with values in the init's range, the same
// for the same seed and path whatever the creation order, and different across paths and seeds.
func TestInitVariable(t *testing.T) {
	x := graphtest.Random(1, 2, 3)
	build := func(order []string) func(scope *model.Scope, in []*Node) *Node {
		return func(scope *model.Scope, in []*Node) *Node {
			for _, name := range order {
				Variable(scope.In("%s", name), "weight", shapes.Make(dtypes.Float32, 4, 5), KaimingUniformInit(5))
			}
			return in[0]
		}
	}
	_, s1 := blkRunScoped(t, 0, build([]string{"a", "b"}), x)
	_, s2 := blkRunScoped(t, 0, build([]string{"b", "a"}), x)
	_, s3 := blkRunScoped(t, 7, build([]string{"a", "b"}), x)
	a1, b1 := blkVar(t, s1, "/a/weight", 4, 5), blkVar(t, s1, "/b/weight", 4, 5)
	a2, a3 := blkVar(t, s2, "/a/weight", 4, 5), blkVar(t, s3, "/a/weight", 4, 5)
	bound := float32(1 / math.Sqrt(5))
	for i, v := range a1.Data {
		if v < -bound || v > bound {
			t.Fatalf("a/weight[%d] = %g outside ±%g", i, v, bound)
		}
		if v != a2.Data[i] {
			t.Fatalf("a/weight differs with creation order at %d: %g vs %g", i, v, a2.Data[i])
		}
	}
	if blkSame(a1.Data, b1.Data) || blkSame(a1.Data, a3.Data) {
		t.Fatal("different paths or seeds gave the same values")
	}
	if got := KaimingUniformBound(320); math.Abs(got-1/math.Sqrt(320)) > 1e-15 {
		t.Fatalf("KaimingUniformBound(320) = %g", got)
	}

	// Float64 variables get the same draws, at float64 precision.
	_, s4 := blkRunScoped(t, 0, func(scope *model.Scope, in []*Node) *Node {
		Variable(scope.In("a"), "weight", shapes.Make(dtypes.Float64, 4, 5), KaimingUniformInit(5))
		return in[0]
	}, x)
	w64 := tensors.MustCopyFlatData[float64](s4.GetVariable("/a/weight").MustValue())
	for i, v := range w64 {
		if float32(v) != a1.Data[i] {
			t.Fatalf("float64 a/weight[%d] = %g, float32 %g", i, v, a1.Data[i])
		}
	}
}

// A variable already in the store (e.g. loaded from a checkpoint) is used as it is.
func TestInitVariableKeepsExisting(t *testing.T) {
	x := graphtest.Random(1, 1, 3)
	out, _ := blkRunScoped(t, 0, func(scope *model.Scope, in []*Node) *Node {
		lin := scope.In("lin")
		lin.VariableWithValue("weight", [][]float32{{1, 2, 3}, {4, 5, 6}})
		return Linear(lin, in[0], 2, false)
	}, x)
	want := blkLinearRef(graphtest.Float64s(x.Data), []float64{1, 2, 3, 4, 5, 6}, nil, 3, 2)
	graphtest.AssertClose(t, "linear with existing weight", out.Data, blkFloat32s(want), 1e-6)
}

func blkSame(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
