package diffusion

import (
	"context"
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Predict runs the U-Net on the host: the predicted noise for sample at timesteps, conditioned
// on encoderStates (the text encoder's hidden states).
//
//   - sample: [batch, in_channels, height, width] (NCHW, diffusers' layout), shape gives it.
//   - timesteps: one per sample, or one for all (fractional values are fine).
//   - encoderStates: [batch, Lk, cross_attention_dim], ctxShape gives it.
//   - returns [batch, out_channels, height, width] (NCHW).
//
// The graph is compiled on the first call for each combination of shapes and reused after.
// Calls are serialised. ctx is checked before running (one call is not interruptible).
func (u *UNet) Predict(ctx context.Context, sample []float32, shape [4]int, timesteps []float64,
	encoderStates []float32, ctxShape [3]int) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkHostShape("unet: sample", len(sample), shape[:]...); err != nil {
		return nil, err
	}
	if shape[1] != u.cfg.InChannels {
		return nil, fmt.Errorf("unet: sample shape %v, want %d channels (NCHW)", shape, u.cfg.InChannels)
	}
	if err := checkHostShape("unet: context", len(encoderStates), ctxShape[:]...); err != nil {
		return nil, err
	}
	if ctxShape[0] != shape[0] || ctxShape[2] != u.plan.crossDim {
		return nil, fmt.Errorf("unet: context shape %v, want [%d, Lk, %d]", ctxShape, shape[0], u.plan.crossDim)
	}
	if len(timesteps) != 1 && len(timesteps) != shape[0] {
		return nil, fmt.Errorf("unet: %d timesteps for a batch of %d, want %d or 1", len(timesteps), shape[0], shape[0])
	}
	ts := make([]float32, len(timesteps))
	for i, t := range timesteps {
		ts[i] = float32(t)
	}

	u.mu.Lock()
	defer u.mu.Unlock()
	outs, err := u.predict.Call(
		tensors.FromFlatDataAndDimensions(sample, shape[:]...),
		tensors.FromFlatDataAndDimensions(ts, len(ts)),
		tensors.FromFlatDataAndDimensions(encoderStates, ctxShape[:]...))
	if err != nil {
		return nil, err
	}
	defer outs[0].FinalizeAll()
	return tensors.CopyFlatData[float32](outs[0])
}

// predictGraph is Predict's graph: in holds the sample (NCHW), the timesteps and the encoder
// states; it returns the predicted noise (NCHW).
func (u *UNet) predictGraph(scope *model.Scope, in []*Node) []*Node {
	y := u.Forward(scope.Store().Scope(UNetScope), TransposeAllAxes(in[0], 0, 2, 3, 1), in[1], in[2])
	return []*Node{TransposeAllAxes(y, 0, 3, 1, 2)}
}
