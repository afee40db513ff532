package nn

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// BenchmarkNorm times forward + backward (gradients w.r.t. x, weight and bias) of GroupNorm
// (32 groups, as the U-Net's) and LayerNorm on a U-Net-sized activation: batch 32, 16×16, 32
// channels.
//
//	GOEXPERIMENT=simd go test ./internal/nn/ -run XXX -bench Norm -benchtime 20x
func BenchmarkNorm(b *testing.B) {
	x, w, bias := graphtest.Random(1, 32, 16, 16, 32), graphtest.Random(2, 32), graphtest.Random(3, 32)
	for _, groups := range []int{32, 8} {
		for _, impl := range []struct {
			name string
			impl normImpl
		}{{"customvjp", normCustomVJP}, {"autodiff", normAutodiff}} {
			b.Run(fmt.Sprintf("GroupNorm/groups=%d/%s", groups, impl.name), func(b *testing.B) {
				old := normImplDefault
				normImplDefault = impl.impl
				defer func() { normImplDefault = old }()
				blkBenchGrads(b, func(in []*Node) *Node { return GroupNormWith(in[0], groups, 1e-5, in[1], in[2]) }, x, w, bias)
			})
		}
	}
	b.Run("LayerNorm", func(b *testing.B) {
		blkBenchGrads(b, func(in []*Node) *Node { return LayerNormWith(in[0], 1e-5, in[1], in[2]) }, x, w, bias)
	})
}

// blkBenchGrads times fn's output and the gradients of sum(out²) w.r.t. every input.
func blkBenchGrads(b *testing.B, fn func(in []*Node) *Node, arrays ...graphtest.Array) {
	exec, err := NewExec(backend.MustDefault(), func(n []*Node) []*Node {
		loss := ReduceAllSum(Square(fn(n)))
		return append([]*Node{loss}, Gradient(loss, n...)...)
	})
	if err != nil {
		b.Fatal(err)
	}
	defer exec.Finalize()
	args := make([]any, len(arrays))
	for i, a := range arrays {
		args[i] = a.Tensor()
	}
	run := func() {
		outs, err := exec.Call(args...)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			o.FinalizeAll()
		}
	}
	run()
	b.ResetTimer()
	for range b.N {
		run()
	}
}
