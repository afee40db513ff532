package nn

import (
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// mixedRun builds fn on x converted to dtype under store's root scope, and returns its output
// (as float32) and the gradients of sum(out·cot), for a fixed random cotangent cot, with respect
// to every trainable variable fn reads (sorted by path) and then x. It fails the test unless the output has dtype and every
// gradient has its variable's dtype (float32 master weights get float32 gradients).
func mixedRun(t *testing.T, store *model.Store, dtype dtypes.DType, fn func(scope *model.Scope, x *Node) *Node,
	x graphtest.Array) (out graphtest.Array, grads []graphtest.Array, paths []string) {
	t.Helper()
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, in []*Node) []*Node {
		y := fn(scope, ConvertDType(in[0], dtype))
		if y.DType() != dtype {
			t.Errorf("%s: output dtype %s", dtype, y.DType())
		}
		y = ConvertDType(y, dtypes.Float32)
		cot := Const(y.Graph(), graphtest.Random(2, y.Shape().Dimensions...).Tensor())
		loss := ReduceAllSum(Mul(y, cot))
		var vars []*model.Variable
		for v := range scope.IterVariables() {
			if v.Trainable && v.InUseByGraph(y.Graph()) {
				vars = append(vars, v)
			}
		}
		slices.SortFunc(vars, func(a, b *model.Variable) int { return compareStrings(a.Path(), b.Path()) })
		wrt := []*Node{in[0]}
		paths = paths[:0]
		for _, v := range vars {
			paths = append(paths, v.Path())
			wrt = append(wrt, v.NodeValue(y.Graph()))
		}
		gs := Gradient(loss, wrt...)
		for i, v := range vars {
			if gs[1+i].DType() != v.Shape().DType {
				t.Errorf("%s: gradient of %s (%s) has dtype %s", dtype, v.Path(), v.Shape().DType, gs[1+i].DType())
			}
			gs[1+i] = ConvertDType(gs[1+i], dtypes.Float32)
		}
		return append([]*Node{y}, append(gs[1:], gs[0])...)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	res, err := exec.Exec(x.Tensor())
	if err != nil {
		t.Fatal(err)
	}
	out = graphtest.FromTensor(res[0])
	for _, r := range res[1:] {
		grads = append(grads, graphtest.FromTensor(r))
	}
	return out, grads, paths
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Every layer fed bfloat16 activations over float32 variables (mixed precision with float32
// master weights) computes in bfloat16, agrees with its float32 run, leaves its variables
// float32 and gives them float32 gradients close to the float32 ones.
func TestMixedPrecisionLayers(t *testing.T) {
	const outTol, gradTol = 2e-2, 3e-2
	img := []int{2, 6, 6, 8}
	seq := []int{2, 5, 16}
	conv := func(out, k, stride, pad, groups int, impl convImpl) func(scope *model.Scope, x *Node) *Node {
		return func(scope *model.Scope, x *Node) *Node {
			b := Conv2D(scope.In("conv"), x, out).Kernel(k).Stride(stride).Padding(pad).Groups(groups)
			b.cfg.impl = impl
			return b.Done()
		}
	}
	for _, tc := range []struct {
		name  string
		shape []int
		vars  int
		fn    func(scope *model.Scope, x *Node) *Node
	}{
		{"Linear", seq, 2, func(s *model.Scope, x *Node) *Node { return Linear(s.In("fc"), x, 12, true) }},
		{"GEGLU", seq, 2, func(s *model.Scope, x *Node) *Node { return GEGLU(s, x, 8, true) }},
		{"Conv2D/3x3", img, 2, conv(12, 3, 1, 1, 1, convAuto)},
		{"Conv2D/3x3-stride2", img, 2, conv(12, 3, 2, 1, 1, convAuto)},
		{"Conv2D/1x1", img, 2, conv(12, 1, 1, 0, 1, convAuto)},
		{"Conv2D/groups2", img, 2, conv(12, 3, 1, 1, 2, convAuto)},
		{"Conv2D/depthwise", img, 2, conv(8, 3, 1, 1, 8, convAuto)},
		{"Conv2D/native", img, 2, conv(12, 3, 2, 1, 1, convNative)},
		{"GroupNorm", img, 2, func(s *model.Scope, x *Node) *Node { return GroupNorm(s.In("norm"), x, 4, 1e-5) }},
		{"GroupNorm/autodiff", img, 2, func(s *model.Scope, x *Node) *Node {
			old := normImplDefault
			normImplDefault = normAutodiff
			defer func() { normImplDefault = old }()
			return GroupNorm(s.In("norm"), x, 4, 1e-5)
		}},
		{"LayerNorm", seq, 2, func(s *model.Scope, x *Node) *Node { return LayerNorm(s.In("norm"), x, 1e-5) }},
		{"MultiHeadAttention/self", img, 5, func(s *model.Scope, x *Node) *Node {
			return MultiHeadAttention(s.In("attn1"), x, nil, 2).Done()
		}},
		{"MultiHeadAttention/cross-float32-context", img, 5, func(s *model.Scope, x *Node) *Node {
			// The context stays float32: the layer converts it to x's dtype.
			ctx := Const(x.Graph(), graphtest.Random(99, 2, 3, 6).Tensor())
			return MultiHeadAttention(s.In("attn2"), x, ctx, 2).Done()
		}},
		{"SiLU-GELU-UpsampleNearest-PadHW-AvgPool2D", img, 0, func(_ *model.Scope, x *Node) *Node {
			x = Add(SiLU(x), GELU(x))
			return AvgPool2D(PadHW(UpsampleNearest(x, 2), 1, 1, 1, 1), 2).Done()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := graphtest.Random(1, tc.shape...)
			store := model.NewStore()
			store.SetParam(model.ParamInitialSeed, int64(7))
			mixedRun(t, store, dtypes.Float32, tc.fn, x) // Creates the float32 variables.
			blkRandomizeConstants(t, store)
			want, wantGrads, paths := mixedRun(t, store, dtypes.Float32, tc.fn, x)
			if len(paths) != tc.vars {
				t.Fatalf("variables %v, want %d", paths, tc.vars)
			}
			got, gotGrads, gotPaths := mixedRun(t, store, dtypes.BFloat16, tc.fn, x)
			if !slices.Equal(paths, gotPaths) {
				t.Fatalf("bfloat16 run read %v, float32 run %v", gotPaths, paths)
			}
			for v := range store.IterVariables() {
				if v.Shape().DType != dtypes.Float32 {
					t.Fatalf("variable %s became %s", v.Path(), v.Shape().DType)
				}
			}
			e := fixtures.RelErr(got.Data, want.Data)
			t.Logf("output rel. error %.2g", e)
			if e > outTol {
				t.Errorf("output: relative error %.3g > %g", e, outTol)
			}
			names := append(paths, "x")
			for i, g := range gotGrads {
				e := fixtures.RelErr(g.Data, wantGrads[i].Data)
				t.Logf("d/d %s rel. error %.2g", names[i], e)
				if e > gradTol || blkMaxAbs(wantGrads[i].Data) == 0 {
					t.Errorf("d/d %s: relative error %.3g > %g (max |grad| %g)", names[i], e, gradTol, blkMaxAbs(wantGrads[i].Data))
				}
			}
		})
	}
}

// blkRandomizeConstants replaces the values of constant-initialised variables (norms' ones and
// zeros) by random ones around them, so that their dtype handling shows in the outputs.
func blkRandomizeConstants(t *testing.T, store *model.Store) {
	t.Helper()
	for i, v := range slices.Collect(store.IterVariables()) {
		a := graphtest.FromTensor(v.MustValue())
		if slices.Min(a.Data) != slices.Max(a.Data) {
			continue
		}
		r := graphtest.Random(uint64(100+i), a.Shape...)
		for j := range r.Data {
			r.Data[j] = a.Data[0] + 0.5*r.Data[j]
		}
		if err := v.SetValue(r.Tensor()); err != nil {
			t.Fatal(err)
		}
	}
}

// Variables a layer creates take the dtype of its input: an empty Store fed bfloat16 builds a
// bfloat16 model (bfloat16 weights for inference), and a float32 store read by a bfloat16 graph
// keeps its variables float32.
func TestVariableDTypeFollowsCreation(t *testing.T) {
	store := model.NewStore()
	g := NewGraph(backend.MustDefault(), "create")
	defer g.Finalize()
	x := Parameter(g, "x", shapes.Make(dtypes.BFloat16, 2, 4))
	y := Linear(store.RootScope().In("fc"), x, 3, true)
	if y.DType() != dtypes.BFloat16 {
		t.Fatalf("output %s", y.DType())
	}
	if v := store.GetVariable("/fc/weight"); v.Shape().DType != dtypes.BFloat16 {
		t.Fatalf("created %s, want bfloat16", v.Shape())
	}
	// The same variable read by a float32 layer: converted up, not redeclared.
	x32 := Parameter(g, "x32", shapes.Make(dtypes.Float32, 2, 4))
	if y := Linear(store.RootScope().In("fc"), x32, 3, true); y.DType() != dtypes.Float32 {
		t.Fatalf("output %s", y.DType())
	}
	if v := store.GetVariable("/fc/weight"); v.Shape().DType != dtypes.BFloat16 {
		t.Fatalf("variable became %s", v.Shape())
	}
	// Another shape is still refused.
	defer func() {
		if recover() == nil {
			t.Fatal("a variable of another shape was accepted")
		}
	}()
	Linear(store.RootScope().In("fc"), Parameter(g, "x5", shapes.Make(dtypes.Float32, 2, 5)), 3, true)
}
