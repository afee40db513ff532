package rpo

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/diffusion"
)

// Precision is the float type a run computes the U-Net in (Config.Precision): mixed precision
// with float32 master weights, as diffusers' training scripts run under --mixed_precision.
//
// Under PrecisionBF16 or PrecisionFP16 every U-Net forward of the run computes in that type: the
// trained model's ε_θ and the frozen reference's ε_base in each training step, and every
// sampling step of the images the set-up generates and of the validations. The weights stay
// float32 (as loaded, as saved), each layer converting what it reads; group and layer norms,
// attention softmax and the timestep projection stay float32 inside (see
// diffusion.UNet.SetComputeDType). The U-Net's output comes back as float32, so the loss, the
// gradients that reach the weights, the clipping norm and AdamW's moments and update are all
// float32: the small updates of fine-tuning (a learning rate of 5e-6 moves a weight by far less
// than bfloat16's spacing, 2⁻⁸ to 2⁻⁷ of its value) accumulate in float32 and are not rounded
// away.
//
// The VAE and the text encoder run once per image and prompt, and the run leaves them as the
// pipeline has them (float32 unless their SetComputeDType chose another). The run sets the
// U-Net's compute type when it starts and restores the earlier one when it returns.
//
// Which to choose: bf16 on GPUs (XLA backends), where it is faster and lighter; it keeps
// float32's range, so it needs no loss scaling. fp16 has more mantissa but a range that ends at
// 65504 and small values that flush to zero below 6e-8; this trainer has no loss scaling, so
// gradients that small are lost. On GoMLX's Go backend both compute correctly but slower than
// fp32 (they are converted around each op), so keep fp32 on CPUs.
//
// The names are diffusers' --mixed_precision values, with fp32 for its "no".
type Precision string

const (
	PrecisionFP32 Precision = "fp32" // float32 throughout (the default)
	PrecisionBF16 Precision = "bf16" // bfloat16 compute, float32 weights and updates
	PrecisionFP16 Precision = "fp16" // float16 compute, float32 weights and updates
)

// Precisions lists the precisions a run accepts, the default first.
func Precisions() []Precision { return []Precision{PrecisionFP32, PrecisionBF16, PrecisionFP16} }

// DType returns the compute dtype p names: dtypes.Float32 for PrecisionFP32 and for "",
// dtypes.BFloat16, dtypes.Float16; an error for any other value.
func (p Precision) DType() (dtypes.DType, error) {
	switch p {
	case "", PrecisionFP32:
		return dtypes.Float32, nil
	case PrecisionBF16:
		return dtypes.BFloat16, nil
	case PrecisionFP16:
		return dtypes.Float16, nil
	}
	return dtypes.InvalidDType, fmt.Errorf("unknown precision, want %q (the default), %q or %q (diffusers' --mixed_precision no, bf16, fp16)",
		PrecisionFP32, PrecisionBF16, PrecisionFP16)
}

// useUNetPrecision makes u compute in p and returns what restores the dtype it had. Setting a
// U-Net's dtype drops its compiled sampling graph, so nothing is set when it already computes
// in p.
func useUNetPrecision(u *diffusion.UNet, p Precision) (restore func(), err error) {
	want, err := p.DType()
	if err != nil {
		return nil, fmt.Errorf("rpo: Config.Precision %q: %w", p, err)
	}
	had := u.ComputeDType()
	if had == want {
		return func() {}, nil
	}
	if err := u.SetComputeDType(want); err != nil {
		return nil, fmt.Errorf("rpo: precision %s: %w", p, err)
	}
	return func() { _ = u.SetComputeDType(had) }, nil // had was accepted before
}

// useGradientCheckpointing sets the U-Net's gradient checkpointing for a run (Config.
// GradientCheckpointing) and returns what puts the previous setting back.
func useGradientCheckpointing(u *diffusion.UNet, on bool) (restore func()) {
	had := u.GradientCheckpointing()
	u.SetGradientCheckpointing(on)
	return func() { u.SetGradientCheckpointing(had) }
}

// scaledBackward builds forward, the trained model in float16, with static loss scaling, and
// returns its float32 output.
//
// Why: the losses are means over every latent value, so the gradient that enters the U-Net's
// backward pass is 2·(ε_θ − ε)/n for n values (n = 32768 for one SD pair at 512 px), already
// near float16's smallest normal number (6.1e-5), and it shrinks further through the layers
// until it flushes to zero. On the fixture U-Net (n = 1024) that unscaled float16 backward
// pass lost 4% of the gradient norm and turned 14% of AdamW's updates the wrong way. As
// PyTorch's GradScaler does, the gradient entering the float16 region is multiplied by a scale,
// and the gradients leaving it for the float32 weights are divided by it again, so AdamW, the
// clipping norm and every reported number see the true gradients. The scale is n, which brings
// the entering gradient to the size of the error itself (order 1), far from float16's largest
// value (65504); it is static, so a gradient that does overflow makes the step's gradient norm
// Inf and the run stops with ErrNonFinite instead of skipping the step.
//
// How: each trainable variable under scope is read through an identity whose gradient is
// divided by the scale, the forward is built, and the variables' graph values are put back, so
// the optimiser differentiates with respect to the variables themselves. Every trainable
// variable under scope is read, so an unused one would get a zero gradient (AdamW's weight
// decay then moves it); the U-Net and LoRA create only variables their forward uses.
func scaledBackward(scope *model.Scope, sample *Node, forward func() *Node) *Node {
	g := sample.Graph()
	scale := float64(sample.Shape().Size())
	type read struct {
		v    *model.Variable
		node *Node
	}
	var reads []read
	prefix := strings.TrimSuffix(scope.Scope(), "/") + "/"
	for v := range scope.Store().IterVariables() {
		if v.Trainable && strings.HasPrefix(v.Path(), prefix) {
			n := v.NodeValue(g)
			reads = append(reads, read{v, n})
			v.SetNodeValue(IdentityWithCustomGradient(n, func(_, grad *Node) *Node { return MulScalar(grad, 1/scale) }))
		}
	}
	out := forward()
	for _, r := range reads {
		r.v.SetNodeValue(r.node)
	}
	return IdentityWithCustomGradient(out, func(_, grad *Node) *Node { return MulScalar(grad, scale) })
}
