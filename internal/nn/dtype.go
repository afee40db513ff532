package nn

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
)

// Mixed precision: a layer computes in the dtype of its input activation and converts the
// weights it reads to the dtype it uses them in (castParam). A model whose variables are float32
// (the master weights) therefore runs in bfloat16 when it is fed bfloat16 activations, and its
// gradients come back through ConvertDType as float32 for the float32 variables: one copy of
// the weights, no float32 → bfloat16 bookkeeping in the trainer. Norm statistics, the norms'
// affine step, softmax scores and the timestep embedding's sin/cos stay in float32.

// castParam returns the weight p (nil stays nil) in dtype, converting it when it is a float of
// another width; anything else is left for the shape checks to refuse.
func castParam(p *Node, dtype dtypes.DType) *Node {
	if p == nil || p.DType() == dtype || !p.DType().IsFloat() || !dtype.IsFloat() {
		return p
	}
	return ConvertDType(p, dtype)
}
