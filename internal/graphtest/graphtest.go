// Package graphtest runs small GoMLX graphs in tests and compares them with straightforward
// host-side reference computations: forward values, and gradients against central finite
// differences of the reference (computed in float64).
//
// A typical building-block test:
//
//	x := graphtest.Random(1, 2, 8, 8, 4)
//	out := graphtest.Run(t, func(in []*Node) []*Node { return []*Node{nn.SiLU(in[0])} }, x)
//	graphtest.AssertClose(t, "silu", out[0].Data, reference(x), 1e-5)
package graphtest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/fixtures"
)

// Array is a host float32 tensor: a shape and its row-major data.
type Array struct {
	Shape []int
	Data  []float32
}

// Size is the number of elements of a shape.
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Random returns an Array of the given shape with values uniform in [-1, 1), from seed.
func Random(seed uint64, shape ...int) Array {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	data := make([]float32, Size(shape))
	for i := range data {
		data[i] = float32(2*r.Float64() - 1)
	}
	return Array{Shape: append([]int(nil), shape...), Data: data}
}

// Tensor converts the Array to a GoMLX tensor.
func (a Array) Tensor() *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(append([]float32(nil), a.Data...), a.Shape...)
}

// FromTensor converts a float32 GoMLX tensor to an Array.
func FromTensor(t *tensors.Tensor) Array {
	return Array{Shape: t.Shape().Dimensions, Data: tensors.MustCopyFlatData[float32](t)}
}

// Run builds fn over the inputs on the default backend, executes it once and returns its outputs.
func Run(t testing.TB, fn func(inputs []*graph.Node) []*graph.Node, inputs ...Array) []Array {
	t.Helper()
	exec, err := graph.NewExec(backend.MustDefault(), fn)
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in.Tensor()
	}
	outs, err := exec.Call(args...)
	if err != nil {
		t.Fatal(err)
	}
	res := make([]Array, len(outs))
	for i, o := range outs {
		res[i] = FromTensor(o)
	}
	return res
}

// Grads builds the scalar loss(inputs) and returns its value and its gradient with respect to
// every input, computed by GoMLX's reverse-mode autodiff.
func Grads(t testing.TB, loss func(inputs []*graph.Node) *graph.Node, inputs ...Array) (float32, []Array) {
	t.Helper()
	outs := Run(t, func(in []*graph.Node) []*graph.Node {
		l := loss(in)
		return append([]*graph.Node{l}, graph.Gradient(l, in...)...)
	}, inputs...)
	return outs[0].Data[0], outs[1:]
}

// Float64s converts float32 data to float64.
func Float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// NumericGrads returns the central finite-difference gradient of the float64 reference loss f
// with respect to each input, with step eps.
func NumericGrads(f func(inputs [][]float64) float64, inputs []Array, eps float64) []Array {
	xs := make([][]float64, len(inputs))
	for i, in := range inputs {
		xs[i] = Float64s(in.Data)
	}
	grads := make([]Array, len(inputs))
	for i := range xs {
		g := make([]float32, len(xs[i]))
		for j := range xs[i] {
			orig := xs[i][j]
			xs[i][j] = orig + eps
			plus := f(xs)
			xs[i][j] = orig - eps
			minus := f(xs)
			xs[i][j] = orig
			g[j] = float32((plus - minus) / (2 * eps))
		}
		grads[i] = Array{Shape: inputs[i].Shape, Data: g}
	}
	return grads
}

// Dot64 is sum(a*b) in float64: the loss that turns an output into a scalar for gradient checks
// (with b a fixed random cotangent).
func Dot64(a []float64, b []float32) float64 {
	var s float64
	for i := range a {
		s += a[i] * float64(b[i])
	}
	return s
}

// AssertClose fails the test if the relative error max|got-want|/max|want| exceeds tol,
// or if any value is NaN.
func AssertClose(t testing.TB, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i, v := range got {
		if math.IsNaN(float64(v)) {
			t.Fatalf("%s: NaN at %d", name, i)
		}
	}
	if e := fixtures.RelErr(got, want); e > tol {
		t.Fatalf("%s: relative error %.3g > %.3g", name, e, tol)
	}
}
