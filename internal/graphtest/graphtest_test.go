package graphtest

import (
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
)

// The helpers themselves: x² has gradient 2x both ways, and a wrong reference is caught.
func TestGradsMatchNumeric(t *testing.T) {
	x := Random(3, 4, 5)
	w := Random(4, 4, 5)
	_, grads := Grads(t, func(in []*Node) *Node {
		return ReduceAllSum(Mul(Square(in[0]), Const(in[0].Graph(), w.Data)))
	}, Array{Shape: []int{20}, Data: x.Data})
	num := NumericGrads(func(in [][]float64) float64 {
		sq := make([]float64, len(in[0]))
		for i, v := range in[0] {
			sq[i] = v * v
		}
		return Dot64(sq, w.Data)
	}, []Array{{Shape: []int{20}, Data: x.Data}}, 1e-3)
	AssertClose(t, "d(x²·w)/dx", grads[0].Data, num[0].Data, 1e-4)

	bad := append([]float32(nil), num[0].Data...)
	bad[3] += 1
	ft := &testing.T{}
	done := make(chan bool)
	go func() {
		defer func() { done <- ft.Failed() }()
		AssertClose(ft, "bad", grads[0].Data, bad, 1e-4)
	}()
	if !<-done {
		t.Fatal("AssertClose accepted a wrong gradient")
	}
}
