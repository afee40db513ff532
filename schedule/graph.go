package schedule

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
)

// Graph-side forward process, for training steps built with GoMLX. Like every graph-building
// function these panic (GoMLX's exceptions) on shape errors; they are meant for model code.

// AlphasCumprodConst puts s's ᾱ table into g as a float32 constant of shape [T].
func AlphasCumprodConst(g *Graph, s *Schedule) *Node {
	return Const(g, s.AlphasCumprod())
}

// alphasAt gathers ᾱ_t for t: [batch] (any integer dtype) and shapes it [batch, 1, …, 1] to
// broadcast over a [batch, …] tensor of the given rank and dtype.
func alphasAt(alphasCumprod, t *Node, rank int, dtype dtypes.DType) *Node {
	a := Gather(alphasCumprod, ExpandAxes(t, -1)) // [batch]
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = 1
	}
	dims[0] = t.Shape().Dimensions[0]
	return ConvertDType(Reshape(a, dims...), dtype)
}

// AddNoiseGraph is AddNoise in a graph: x_t = √ᾱ_t·x0 + √(1-ᾱ_t)·noise.
//
// alphasCumprod: [T] (from AlphasCumprodConst); x0, noise: [batch, …]; t: [batch] integers in
// [0, T). Returns [batch, …] in x0's dtype.
func AddNoiseGraph(alphasCumprod, x0, noise, t *Node) *Node {
	a := alphasAt(alphasCumprod, t, x0.Rank(), x0.DType())
	return Add(Mul(Sqrt(a), x0), Mul(Sqrt(OneMinus(a)), noise))
}

// VelocityGraph is Velocity in a graph: v_t = √ᾱ_t·noise - √(1-ᾱ_t)·x0. Shapes as in
// AddNoiseGraph.
func VelocityGraph(alphasCumprod, x0, noise, t *Node) *Node {
	a := alphasAt(alphasCumprod, t, x0.Rank(), x0.DType())
	return Sub(Mul(Sqrt(a), noise), Mul(Sqrt(OneMinus(a)), x0))
}

// RandomTimesteps draws batch training timesteps uniformly from [0, numTrain) as int32 (as
// diffusers' training scripts do with torch.randint), using and advancing rngState (see
// graph.RNGStateFromSeed).
func RandomTimesteps(rngState *Node, batch, numTrain int) (newRNGState, t *Node) {
	return RandomIntN(rngState, numTrain, shapes.Make(dtypes.Int32, batch))
}

// RandomNoise draws standard normal noise of the given shape (float dtype), using and
// advancing rngState.
func RandomNoise(rngState *Node, shape shapes.Shape) (newRNGState, noise *Node) {
	return RandomNormal(rngState, shape)
}

// NoisyBatch is one training draw for x0: [batch, …]: t ~ U[0, T) per item, noise ~ N(0, 1)
// shaped like x0, and x_t = AddNoiseGraph(alphasCumprod, x0, noise, t). The model is then
// trained to predict noise (ε-prediction) or VelocityGraph(…) (v-prediction) from (x_t, t).
func NoisyBatch(rngState, alphasCumprod, x0 *Node) (newRNGState, xt, noise, t *Node) {
	numTrain := alphasCumprod.Shape().Dimensions[0]
	rngState, t = RandomTimesteps(rngState, x0.Shape().Dimensions[0], numTrain)
	rngState, noise = RandomNoise(rngState, x0.Shape())
	return rngState, AddNoiseGraph(alphasCumprod, x0, noise, t), noise, t
}
