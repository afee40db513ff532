package nn

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// SinusoidalTimestepEmbedding is diffusers' get_timestep_embedding(timesteps, dim,
// flip_sin_to_cos, downscale_freq_shift, scale, max_period), the DDPM sinusoidal embedding:
//
//	half  = dim/2
//	freq_i = exp(-ln(maxPeriod)·i / (half - downscaleFreqShift)),  i = 0 … half-1
//	emb   = [sin(scale·t·freq), cos(scale·t·freq)]   (cos first when flipSinToCos)
//
// with a zero column appended when dim is odd. timesteps: [batch], any int or float dtype
// (converted to float32, as torch's timesteps.float()). Returns float32 [batch, dim]; nothing is
// learned. diffusers' UNet2DConditionModel uses flipSinToCos=true, downscaleFreqShift=0 (its
// config's freq_shift), scale=1, maxPeriod=10000.
func SinusoidalTimestepEmbedding(timesteps *Node, dim int, flipSinToCos bool, downscaleFreqShift, scale, maxPeriod float64) *Node {
	if timesteps.Rank() != 1 {
		exceptions.Panicf("nn.SinusoidalTimestepEmbedding: timesteps %s, want rank 1 [batch]", timesteps.Shape())
	}
	if dim < 2 {
		exceptions.Panicf("nn.SinusoidalTimestepEmbedding: dim %d, want ≥ 2", dim)
	}
	g := timesteps.Graph()
	half := dim / 2
	freqs := make([]float32, half)
	for i := range freqs {
		// In float32 step by step, as torch computes it.
		exponent := float32(-math.Log(maxPeriod)) * float32(i)
		exponent /= float32(float64(half) - downscaleFreqShift)
		freqs[i] = float32(math.Exp(float64(exponent)))
	}
	t := ConvertDType(timesteps, dtypes.Float32)
	args := Mul(InsertAxes(t, -1), InsertAxes(Const(g, freqs), 0)) // [batch, half]
	if scale != 1 {
		args = MulScalar(args, scale)
	}
	parts := []*Node{Sin(args), Cos(args)}
	if flipSinToCos {
		parts[0], parts[1] = parts[1], parts[0]
	}
	if dim%2 == 1 {
		parts = append(parts, Zeros(g, shapes.Make(dtypes.Float32, timesteps.Shape().Dim(0), 1)))
	}
	return Concatenate(parts, -1)
}
