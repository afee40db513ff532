package nn

import (
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
)

// InitializeVariables (host draws, one variable at a time) gives bit for bit what GoMLX's
// initialisation graph gives for the same declarations, in float32, float64 and in a dtype it
// leaves to the graph (bfloat16), and keeps values already set.
func TestInitializeVariablesMatchesGraph(t *testing.T) {
	b, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	declare := func(seed int64) *model.Store {
		store := model.NewStore()
		store.SetParam(model.ParamInitialSeed, seed)
		g := graph.NewGraph(b, "declare")
		defer g.Finalize()
		scope := store.RootScope()
		lin := scope.In("lin")
		Variable(lin, "weight", shapes.Make(dtypes.Float32, 7, 5), KaimingUniformInit(5))
		Variable(lin, "bias", shapes.Make(dtypes.Float32, 7), KaimingUniformInit(5))
		Variable(scope.In("norm"), "weight", shapes.Make(dtypes.Float32, 3), ConstantInit(1))
		Variable(scope.In("f64"), "weight", shapes.Make(dtypes.Float64, 2, 3), UniformInit(0.5))
		Variable(scope.In("bf16"), "weight", shapes.Make(dtypes.BFloat16, 4), UniformInit(2))
		scope.In("kept").VariableWithValue("weight", []float32{9, 8})
		return store
	}
	for _, seed := range []int64{0, 3} {
		viaGraph, viaHost := declare(seed), declare(seed)
		if err := viaGraph.InitializeVariables(b, nil); err != nil {
			t.Fatal(err)
		}
		if err := InitializeVariables(b, viaHost); err != nil {
			t.Fatal(err)
		}
		n := 0
		for v := range viaGraph.IterVariables() {
			h := viaHost.GetVariable(v.Path())
			if h == nil || !h.HasValue() {
				t.Fatalf("seed %d: %s not initialised on the host path", seed, v.Path())
			}
			if !h.Shape().Equal(v.Shape()) {
				t.Fatalf("seed %d: %s: shape %s, graph %s", seed, v.Path(), h.Shape(), v.Shape())
			}
			want, got := bytesOf(t, v.MustValue()), bytesOf(t, h.MustValue())
			if string(want) != string(got) {
				t.Fatalf("seed %d: %s differs from the graph initialisation", seed, v.Path())
			}
			n++
		}
		if n != 6 {
			t.Fatalf("compared %d variables, want 6", n)
		}
	}
}

// bytesOf is a tensor's raw bytes.
func bytesOf(t *testing.T, v *tensors.Tensor) []byte {
	t.Helper()
	var out []byte
	if err := v.ConstBytes(func(data []byte) { out = append([]byte(nil), data...) }); err != nil {
		t.Fatal(err)
	}
	return out
}
