package diffusion

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
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
