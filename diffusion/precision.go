package diffusion

import (
	"fmt"
	"sync"

	"github.com/gomlx/compute/dtypes"

	"github.com/gorpo/gorpo/internal/hostexec"
)

// Precision. The models keep their weights in float32 (as loaded, as saved) and compute in
// float32 by default. SetComputeDType on UNet, AutoencoderKL or TextEncoder makes their graphs
// compute in another float dtype, typically dtypes.BFloat16 on an XLA GPU backend: the inputs
// are converted to it on the way in, every layer converts the weights it reads (internal/nn's
// mixed precision), norms and softmax stay in float32, and the outputs come back as float32.
// Training through such a graph updates the float32 weights with float32 gradients (float32
// master weights). Half precision is for XLA backends: GoMLX's Go backend runs it correctly but
// slower than float32 (see UNet.SetComputeDType).

// checkComputeDType accepts the dtypes a model can compute in: Float32, BFloat16, Float16 and
// Float64 (the zero value, InvalidDType, stands for the default Float32).
func checkComputeDType(what string, dtype dtypes.DType) (dtypes.DType, error) {
	switch dtype {
	case dtypes.InvalidDType:
		return dtypes.Float32, nil
	case dtypes.Float32, dtypes.BFloat16, dtypes.Float16, dtypes.Float64:
		return dtype, nil
	}
	return dtypes.InvalidDType, fmt.Errorf("%s: compute dtype %s, want Float32, BFloat16, Float16 or Float64", what, dtype)
}

// orFloat32 is the compute dtype a model's zero-valued field stands for.
func orFloat32(dtype dtypes.DType) dtypes.DType {
	if dtype == dtypes.InvalidDType {
		return dtypes.Float32
	}
	return dtype
}

// hostState is what UNet and AutoencoderKL keep for their host calls: the compute dtype, and mu,
// which serialises the host calls and guards the graphs they compile in that dtype.
type hostState struct {
	mu    sync.Mutex
	dtype dtypes.DType // compute dtype; the zero value is Float32
}

// setComputeDType is SetComputeDType: it checks dtype and makes it the compute dtype, dropping
// the compiled host graphs execs when it changes (they were built in the old one).
func (h *hostState) setComputeDType(what string, dtype dtypes.DType, execs ...*hostexec.Exec) error {
	dtype, err := checkComputeDType(what, dtype)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if dtype != orFloat32(h.dtype) {
		dropExecs(execs...)
	}
	h.dtype = dtype
	return nil
}

// dropExecs finalizes the compiled host graphs, so that the next host call compiles again.
func dropExecs(execs ...*hostexec.Exec) {
	for _, e := range execs {
		e.Finalize()
	}
}
