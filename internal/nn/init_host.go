package nn

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Initialising on the host. GoMLX's Store.InitializeVariables builds one graph holding every
// uninitialised variable's initial value: for Variable's draws that is a float64 constant per
// variable plus its converted result, all alive at once. For Stable Diffusion's 860M-parameter
// U-Net that is about 10 GB on top of the 3.4 GB of float32 weights, and minutes of graph
// building. InitializeVariables below draws the same values on the host, one variable at a time,
// so the peak is the weights plus one variable's float64 draws.

// hostInitsParam is the root parameter of a Store under which Variable leaves, for
// InitializeVariables, how to fill each variable it declared.
const hostInitsParam = "nn_host_initializers"

// hostInit is how to fill one variable: its random stream's seed and its Init.
type hostInit struct {
	seed uint64
	init Init
}

// hostInits is the registry Variable keeps in a Store, keyed by variable path.
type hostInits struct {
	mu    sync.Mutex
	fills map[string]hostInit
}

// registerHostInit records how Variable fills the variable at path of store.
func registerHostInit(store *model.Store, path string, seed uint64, init Init) {
	reg := model.GetRootParamOr[*hostInits](store, hostInitsParam, nil)
	if reg == nil {
		reg = &hostInits{fills: map[string]hostInit{}}
		store.SetParam("/"+hostInitsParam, reg)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.fills[path] = hostInit{seed: seed, init: init}
}

// InitializeVariables fills every variable of store that has no value yet, as
// Store.InitializeVariables does and with bit-identical values: those declared by Variable in
// float32 or float64 are drawn on the host one at a time (float64 draws rounded to the
// variable's dtype, which is what the graph's ConvertDType does), and any others go through
// GoMLX's initialisation graph on backend.
func InitializeVariables(backend compute.Backend, store *model.Store) error {
	reg := model.GetRootParamOr[*hostInits](store, hostInitsParam, nil)
	if reg != nil {
		reg.mu.Lock()
		defer reg.mu.Unlock()
		for v := range store.IterVariables() {
			if v.HasValue() {
				continue
			}
			fill, ok := reg.fills[v.Path()]
			dtype := v.Shape().DType
			if !ok || (dtype != dtypes.Float32 && dtype != dtypes.Float64) {
				continue
			}
			value, err := hostValue(fill, v.Shape().Dimensions, dtype)
			if err != nil {
				return fmt.Errorf("initialising %s: %w", v.Path(), err)
			}
			if err := v.SetValue(value); err != nil {
				return fmt.Errorf("initialising %s: %w", v.Path(), err)
			}
		}
	}
	// Whatever is left (other dtypes, variables not declared through Variable).
	return store.InitializeVariables(backend, nil)
}

// hostValue draws one variable's initial value, in float32 or float64.
func hostValue(fill hostInit, dims []int, dtype dtypes.DType) (*tensors.Tensor, error) {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float64, n)
	fill.init(rand.New(rand.NewPCG(fill.seed, initStream)), data)
	if dtype == dtypes.Float64 {
		return tensors.FromFlatDataAndDimensions(data, dims...), nil
	}
	f32 := make([]float32, n)
	for i, x := range data {
		f32[i] = float32(x)
	}
	return tensors.FromFlatDataAndDimensions(f32, dims...), nil
}
