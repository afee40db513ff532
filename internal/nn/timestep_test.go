package nn

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// blkTimestepRef is diffusers' get_timestep_embedding in float64.
func blkTimestepRef(ts []float64, dim int, flip bool, shift, scale, maxPeriod float64) []float64 {
	half := dim / 2
	out := make([]float64, len(ts)*dim)
	for b, t := range ts {
		row := out[b*dim : (b+1)*dim]
		for i := range half {
			arg := scale * t * math.Exp(-math.Log(maxPeriod)*float64(i)/(float64(half)-shift))
			s, c := math.Sin(arg), math.Cos(arg)
			if flip {
				s, c = c, s
			}
			row[i], row[half+i] = s, c
		}
	}
	return out
}

func TestSinusoidalTimestepEmbedding(t *testing.T) {
	ts := graphtest.Array{Shape: []int{4}, Data: []float32{0, 1, 500.5, 999}}
	for _, tc := range []struct {
		dim                 int
		flip                bool
		shift, scale, maxPr float64
	}{
		{8, true, 0, 1, 10000},   // UNet2DConditionModel
		{8, false, 1, 1, 10000},  // the function's defaults
		{7, false, 1, 1, 10000},  // odd: zero pad
		{9, true, 0, 2.5, 100},   // odd, flipped, scaled
		{32, true, 0, 1, 10000},  // a toy U-Net's channel count
		{320, true, 0, 1, 10000}, // SD's
	} {
		out := graphtest.Run(t, func(in []*Node) []*Node {
			return []*Node{SinusoidalTimestepEmbedding(in[0], tc.dim, tc.flip, tc.shift, tc.scale, tc.maxPr)}
		}, ts)[0]
		if len(out.Shape) != 2 || out.Shape[0] != 4 || out.Shape[1] != tc.dim {
			t.Fatalf("dim %d: shape %v", tc.dim, out.Shape)
		}
		want := blkTimestepRef(graphtest.Float64s(ts.Data), tc.dim, tc.flip, tc.shift, tc.scale, tc.maxPr)
		// float32 arguments up to ~2500 carry ~1e-4 absolute error, as in torch.
		graphtest.AssertClose(t, "timestep embedding", out.Data, blkFloat32s(want), 5e-4)
	}
}

// Values worked out by hand: dim 7, shift 1 gives half 3 and frequencies 10000^(-i/2) =
// 1, 0.01, 0.0001; dim 8, shift 0 gives 10000^(-i/4) = 1, 0.1, 0.01, 0.001 with cos first.
func TestSinusoidalTimestepEmbeddingByHand(t *testing.T) {
	ts := graphtest.Array{Shape: []int{2}, Data: []float32{1, 2}}
	out := graphtest.Run(t, func(in []*Node) []*Node {
		return []*Node{SinusoidalTimestepEmbedding(in[0], 7, false, 1, 1, 10000)}
	}, ts)[0]
	want := []float32{
		0.8414709848, 0.0099998333, 0.0001, 0.5403023059, 0.9999500004, 1, 0, // sin 1, sin .01, sin 1e-4, cos …, pad
		0.9092974268, 0.0199986667, 0.0002, -0.4161468365, 0.9998000067, 1, 0,
	}
	graphtest.AssertClose(t, "dim 7", out.Data, want, 1e-6)

	// Integer timesteps, as the schedulers hand them out.
	out = graphtest.Run(t, func(in []*Node) []*Node {
		steps := Const(in[0].Graph(), []int64{10, 0})
		return []*Node{SinusoidalTimestepEmbedding(steps, 8, true, 0, 1, 10000)}
	}, ts)[0]
	want = []float32{
		-0.8390715291, 0.5403023059, 0.9950041653, 0.9999500004, // cos 10, cos 1, cos .1, cos .01
		-0.5440211109, 0.8414709848, 0.0998334166, 0.0099998333, // sin …
		1, 1, 1, 1, 0, 0, 0, 0,
	}
	graphtest.AssertClose(t, "dim 8 int64", out.Data, want, 1e-6)

	// Int32 too.
	out = graphtest.Run(t, func(in []*Node) []*Node {
		steps := ConvertDType(Const(in[0].Graph(), []int64{10, 0}), dtypes.Int32)
		return []*Node{SinusoidalTimestepEmbedding(steps, 8, true, 0, 1, 10000)}
	}, ts)[0]
	graphtest.AssertClose(t, "dim 8 int32", out.Data, want, 1e-6)
}
