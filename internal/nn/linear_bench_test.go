package nn

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// BenchmarkLinear times forward + backward (gradients w.r.t. x, weight and bias) of Linear at
// U-Net sizes (batch 32 of 16×16 positions = 8192 rows), for each gradient implementation:
// a 32→32 projection, a 3×3-conv-like 288→32 one (im2col patches) and a 32→256 feed-forward one.
//
//	GOEXPERIMENT=simd go test ./internal/nn/ -run XXX -bench Linear -benchtime 20x
func BenchmarkLinear(b *testing.B) {
	const rows = 32 * 16 * 16
	for _, size := range [][2]int{{32, 32}, {288, 32}, {32, 256}} {
		for name, impl := range map[string]linearImplKind{"customvjp": linearCustomVJP, "autodiff": linearAutodiff} {
			b.Run(fmt.Sprintf("%dto%d/%s", size[0], size[1], name), func(b *testing.B) {
				in, out := size[0], size[1]
				arrays := []graphtest.Array{graphtest.Random(1, rows, in), graphtest.Random(2, out, in), graphtest.Random(3, out)}
				exec, err := NewExec(backend.MustDefault(), func(n []*Node) []*Node {
					y := linearImpl(n[0], n[1], n[2], impl)
					loss := ReduceAllSum(Square(y))
					return append([]*Node{loss}, Gradient(loss, n...)...)
				})
				if err != nil {
					b.Fatal(err)
				}
				defer exec.Finalize()
				args := []any{arrays[0].Tensor(), arrays[1].Tensor(), arrays[2].Tensor()}
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
			})
		}
	}
}
