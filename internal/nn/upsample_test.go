package nn

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// TestUpsampleNearest: F.interpolate(scale_factor=f, mode="nearest") reads x[i/f, j/f].
func TestUpsampleNearest(t *testing.T) {
	for _, f := range []int{2, 3} {
		t.Run(fmt.Sprintf("x%d", f), func(t *testing.T) {
			n, h, w, c := 2, 3, 4, 5
			x := graphtest.Random(uint64(f), n, h, w, c)
			ref := func(x []float64) []float64 {
				out := make([]float64, n*h*f*w*f*c)
				for b := range n {
					for i := range h * f {
						for j := range w * f {
							for k := range c {
								out[((b*h*f+i)*w*f+j)*c+k] = x[((b*h+i/f)*w+j/f)*c+k]
							}
						}
					}
				}
				return out
			}
			up := func(x *Node) *Node { return UpsampleNearest(x, f) }
			got := graphtest.Run(t, func(in []*Node) []*Node { return []*Node{up(in[0])} }, x)[0]
			if want := fmt.Sprint([]int{n, h * f, w * f, c}); fmt.Sprint(got.Shape) != want {
				t.Fatalf("shape %v, want %s", got.Shape, want)
			}
			graphtest.AssertClose(t, "forward", got.Data, convFloat32s(ref(graphtest.Float64s(x.Data))), 0)
			convCheckGrad(t, x, []int{n, h * f, w * f, c}, up, ref)
		})
	}
}
