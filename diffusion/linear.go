package diffusion

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/nn"
)

// LinearFunc builds one linear projection of the last axis of x to outDim features under scope
// (with a bias when bias is set) and returns it: [..., in] → [..., outDim], in x's dtype. Linear
// is the plain one; UNet.ForwardWith and UNet.SetAttentionLinear accept another for the attention
// projections, which is how LoRA adapters (rpo.LoRA.Linear) or frozen variants enter a U-Net.
type LinearFunc func(scope *model.Scope, x *Node, outDim int, bias bool) *Node

// Linear is torch.nn.Linear applied to the last axis of x: y = x·weightᵀ + bias, with "weight"
// [outDim, in] and, when bias is set, "bias" [outDim] read from (or created with PyTorch's
// default initialisation under) scope, converted to x's dtype. It is the LinearFunc a U-Net uses
// when no other is installed; pass it to ForwardWith for the plain U-Net while a hook is installed.
func Linear(scope *model.Scope, x *Node, outDim int, bias bool) *Node {
	return nn.Linear(scope, x, outDim, bias)
}
