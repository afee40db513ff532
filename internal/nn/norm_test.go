package nn

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// blkGroupNormRef is torch.nn.GroupNorm on channels-last x [batch, positions..., channels]
// (w and b may be nil).
func blkGroupNormRef(x, w, b []float64, batch, channels, groups int, eps float64) []float64 {
	y := make([]float64, len(x))
	positions := len(x) / (batch * channels)
	per := channels / groups
	for n := range batch {
		for g := range groups {
			var sum, sq float64
			for p := range positions {
				for c := g * per; c < (g+1)*per; c++ {
					sum += x[(n*positions+p)*channels+c]
				}
			}
			count := float64(positions * per)
			mean := sum / count
			for p := range positions {
				for c := g * per; c < (g+1)*per; c++ {
					d := x[(n*positions+p)*channels+c] - mean
					sq += d * d
				}
			}
			inv := 1 / math.Sqrt(sq/count+eps)
			for p := range positions {
				for c := g * per; c < (g+1)*per; c++ {
					i := (n*positions+p)*channels + c
					v := (x[i] - mean) * inv
					if w != nil {
						v *= w[c]
					}
					if b != nil {
						v += b[c]
					}
					y[i] = v
				}
			}
		}
	}
	return y
}

func TestGroupNormWith(t *testing.T) {
	for implName, impl := range map[string]normImpl{"customvjp": normCustomVJP, "autodiff": normAutodiff} {
		old := normImplDefault
		normImplDefault = impl
		for _, tc := range []struct {
			name   string
			dims   []int
			groups int
		}{
			{"image 2 groups", []int{2, 3, 2, 4}, 2},
			{"image 1 group", []int{2, 2, 2, 6}, 1},
			{"groups = channels", []int{1, 3, 3, 3}, 3},
			{"rank 3", []int{2, 5, 4}, 2},
			{"rank 5", []int{1, 2, 2, 2, 4}, 2},
		} {
			t.Run(tc.name+"/"+implName, func(t *testing.T) {
				c := tc.dims[len(tc.dims)-1]
				x := graphtest.Random(1, tc.dims...)
				for i := range x.Data {
					x.Data[i] = 3 + 2*x.Data[i] // an offset mean, as activations have
				}
				w, b := graphtest.Random(2, c), graphtest.Random(3, c)
				const eps = 1e-5
				blkCheck(t, "GroupNorm", func(in []*Node) *Node {
					return GroupNormWith(in[0], tc.groups, eps, in[1], in[2])
				}, func(in [][]float64) []float64 {
					return blkGroupNormRef(in[0], in[1], in[2], tc.dims[0], c, tc.groups, eps)
				}, 1e-5, 1e-4, x, w, b)
				blkCheck(t, "GroupNorm without affine", func(in []*Node) *Node {
					return GroupNormWith(in[0], tc.groups, eps, nil, nil)
				}, func(in [][]float64) []float64 {
					return blkGroupNormRef(in[0], nil, nil, tc.dims[0], c, tc.groups, eps)
				}, 1e-5, 1e-4, x)
				blkCheck(t, "GroupNorm weight only", func(in []*Node) *Node {
					return GroupNormWith(in[0], tc.groups, eps, in[1], nil)
				}, func(in [][]float64) []float64 {
					return blkGroupNormRef(in[0], in[1], nil, tc.dims[0], c, tc.groups, eps)
				}, 1e-5, 1e-4, x, w)
			})
		}
		normImplDefault = old
	}
}

// The scoped layer creates weight (ones) and bias (zeros) [C] and matches torch's defaults.
func TestGroupNormScoped(t *testing.T) {
	x := graphtest.Random(4, 2, 3, 3, 8)
	out, store := blkRunScoped(t, 0, func(scope *model.Scope, in []*Node) *Node {
		return GroupNorm(scope.In("norm1"), in[0], 4, 1e-6)
	}, x)
	for i, v := range blkVar(t, store, "/norm1/weight", 8).Data {
		if v != 1 {
			t.Fatalf("weight[%d] = %g, want 1", i, v)
		}
	}
	for i, v := range blkVar(t, store, "/norm1/bias", 8).Data {
		if v != 0 {
			t.Fatalf("bias[%d] = %g, want 0", i, v)
		}
	}
	want := blkGroupNormRef(graphtest.Float64s(x.Data), nil, nil, 2, 8, 4, 1e-6)
	graphtest.AssertClose(t, "GroupNorm scoped", out.Data, blkFloat32s(want), 1e-5)
}

// blkLayerNormRef is torch.nn.LayerNorm over the last axis (w and b may be nil).
func blkLayerNormRef(x, w, b []float64, c int, eps float64) []float64 {
	y := make([]float64, len(x))
	for r := 0; r < len(x); r += c {
		var mean, variance float64
		for _, v := range x[r : r+c] {
			mean += v
		}
		mean /= float64(c)
		for _, v := range x[r : r+c] {
			variance += (v - mean) * (v - mean)
		}
		inv := 1 / math.Sqrt(variance/float64(c)+eps)
		for i := range c {
			v := (x[r+i] - mean) * inv
			if w != nil {
				v *= w[i]
			}
			if b != nil {
				v += b[i]
			}
			y[r+i] = v
		}
	}
	return y
}

func TestLayerNormWith(t *testing.T) {
	x := graphtest.Random(5, 2, 3, 6)
	w, b := graphtest.Random(6, 6), graphtest.Random(7, 6)
	blkCheck(t, "LayerNorm", func(in []*Node) *Node {
		return LayerNormWith(in[0], 1e-5, in[1], in[2])
	}, func(in [][]float64) []float64 {
		return blkLayerNormRef(in[0], in[1], in[2], 6, 1e-5)
	}, 1e-5, 1e-4, x, w, b)

	blkCheck(t, "LayerNorm without affine", func(in []*Node) *Node {
		return LayerNormWith(in[0], 1e-6, nil, nil)
	}, func(in [][]float64) []float64 {
		return blkLayerNormRef(in[0], nil, nil, 6, 1e-6)
	}, 1e-5, 1e-4, x)
}

func TestLayerNormScoped(t *testing.T) {
	x := graphtest.Random(8, 2, 5, 4)
	out, store := blkRunScoped(t, 0, func(scope *model.Scope, in []*Node) *Node {
		return LayerNorm(scope.In("norm1"), in[0], 1e-5)
	}, x)
	blkVar(t, store, "/norm1/weight", 4)
	blkVar(t, store, "/norm1/bias", 4)
	want := blkLayerNormRef(graphtest.Float64s(x.Data), nil, nil, 4, 1e-5)
	graphtest.AssertClose(t, "LayerNorm scoped", out.Data, blkFloat32s(want), 1e-5)
}

// Other float dtypes: float64 matches the reference as float32 does; half precision is
// normalised in float32 and stays close; outputs and gradients keep the input dtype.
func TestNormDTypes(t *testing.T) {
	x := graphtest.Random(9, 2, 3, 3, 8)
	w, b := graphtest.Random(10, 8), graphtest.Random(11, 8)
	xs, ws, bs := graphtest.Float64s(x.Data), graphtest.Float64s(w.Data), graphtest.Float64s(b.Data)
	wantGN := blkFloat32s(blkGroupNormRef(xs, ws, bs, 2, 8, 4, 1e-5))
	wantLN := blkFloat32s(blkLayerNormRef(xs, ws, bs, 8, 1e-5))
	for _, tc := range []struct {
		dtype dtypes.DType
		tol   float64
	}{{dtypes.Float64, 1e-6}, {dtypes.Float16, 5e-3}, {dtypes.BFloat16, 3e-2}} {
		t.Run(tc.dtype.String(), func(t *testing.T) {
			outs := graphtest.Run(t, func(in []*Node) []*Node {
				c := func(n *Node) *Node { return ConvertDType(n, tc.dtype) }
				gn := GroupNormWith(c(in[0]), 4, 1e-5, c(in[1]), c(in[2]))
				ln := LayerNormWith(c(in[0]), 1e-5, c(in[1]), c(in[2]))
				loss := ReduceAllSum(Mul(gn, ln))
				grads := Gradient(loss, in...)
				if gn.DType() != tc.dtype || ln.DType() != tc.dtype {
					t.Errorf("output dtypes %s, %s, want %s", gn.DType(), ln.DType(), tc.dtype)
				}
				return []*Node{ConvertDType(gn, dtypes.Float32), ConvertDType(ln, dtypes.Float32), grads[0]}
			}, x, w, b)
			graphtest.AssertClose(t, "GroupNorm "+tc.dtype.String(), outs[0].Data, wantGN, tc.tol)
			graphtest.AssertClose(t, "LayerNorm "+tc.dtype.String(), outs[1].Data, wantLN, tc.tol)
			if m := blkMaxAbs(outs[2].Data); m == 0 || math.IsNaN(m) {
				t.Fatalf("gradient max |·| = %g", m)
			}
		})
	}
}
