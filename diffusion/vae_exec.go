package diffusion

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Encode runs the encoder on the host: image [batch, in_channels, height, width] (NCHW, values
// in [-1, 1]) to the posterior's mean and clamped log-variance, both NCHW of latentShape
// [batch, latent_channels, height/f, width/f]. Compiled once per shape; ctx is checked before
// running.
func (v *AutoencoderKL) Encode(ctx context.Context, image []float32, shape [4]int) (mean, logvar []float32, latentShape [4]int, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, latentShape, err
	}
	if err := checkHostShape("vae: image", len(image), shape[:]...); err != nil {
		return nil, nil, latentShape, err
	}
	if shape[1] != v.cfg.InChannels {
		return nil, nil, latentShape, fmt.Errorf("vae: image shape %v, want %d channels (NCHW)", shape, v.cfg.InChannels)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	outs, err := v.encode.Call(tensors.FromFlatDataAndDimensions(image, shape[:]...))
	if err != nil {
		return nil, nil, latentShape, err
	}
	defer outs[0].FinalizeAll()
	defer outs[1].FinalizeAll()
	copy(latentShape[:], outs[0].Shape().Dimensions)
	if mean, err = tensors.CopyFlatData[float32](outs[0]); err != nil {
		return nil, nil, latentShape, err
	}
	logvar, err = tensors.CopyFlatData[float32](outs[1])
	return mean, logvar, latentShape, err
}

// Sample draws a latent from the diagonal Gaussian posterior: mean + exp(logvar/2)·ε with ε
// standard normal from seed (math/rand/v2's PCG, so the same seed gives the same latent on every
// machine; not torch's generator). The result has the layout of mean; multiply it by
// ScalingFactor for the U-Net.
func (v *AutoencoderKL) Sample(mean, logvar []float32, seed uint64) ([]float32, error) {
	if len(mean) != len(logvar) {
		return nil, fmt.Errorf("vae: sample: %d means and %d log-variances", len(mean), len(logvar))
	}
	r := rand.New(rand.NewPCG(seed, 0x853c49e6748fea9b))
	out := make([]float32, len(mean))
	for i := range out {
		lv := min(max(float64(logvar[i]), -30), 20)
		out[i] = float32(float64(mean[i]) + math.Exp(lv/2)*r.NormFloat64())
	}
	return out, nil
}

// Decode runs the decoder on the host: latent [batch, latent_channels, h, w] (NCHW, unscaled:
// divide the U-Net's latents by ScalingFactor first) to an image of imageShape [batch,
// out_channels, h·f, w·f] (NCHW, nominally in [-1, 1]). Compiled once per shape; ctx is checked
// before running.
func (v *AutoencoderKL) Decode(ctx context.Context, latent []float32, shape [4]int) (image []float32, imageShape [4]int, err error) {
	if err := ctx.Err(); err != nil {
		return nil, imageShape, err
	}
	if err := checkHostShape("vae: latent", len(latent), shape[:]...); err != nil {
		return nil, imageShape, err
	}
	if shape[1] != v.cfg.LatentChannels {
		return nil, imageShape, fmt.Errorf("vae: latent shape %v, want %d channels (NCHW)", shape, v.cfg.LatentChannels)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	outs, err := v.decode.Call(tensors.FromFlatDataAndDimensions(latent, shape[:]...))
	if err != nil {
		return nil, imageShape, err
	}
	defer outs[0].FinalizeAll()
	copy(imageShape[:], outs[0].Shape().Dimensions)
	image, err = tensors.CopyFlatData[float32](outs[0])
	return image, imageShape, err
}

// encodeGraph is Encode's graph: the image (NCHW) to the posterior's mean and log-variance (NCHW).
func (v *AutoencoderKL) encodeGraph(scope *model.Scope, in []*Node) []*Node {
	m, lv := v.ForwardEncode(scope.Store().Scope(VAEScope), TransposeAllAxes(in[0], 0, 2, 3, 1))
	return []*Node{TransposeAllAxes(m, 0, 3, 1, 2), TransposeAllAxes(lv, 0, 3, 1, 2)}
}

// decodeGraph is Decode's graph: the latent (NCHW) to the image (NCHW).
func (v *AutoencoderKL) decodeGraph(scope *model.Scope, in []*Node) []*Node {
	x := v.ForwardDecode(scope.Store().Scope(VAEScope), TransposeAllAxes(in[0], 0, 2, 3, 1))
	return []*Node{TransposeAllAxes(x, 0, 3, 1, 2)}
}
