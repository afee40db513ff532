package nn

import (
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Init fills the values of a variable that neither the store nor its loader holds, the way
// PyTorch's module constructors do. It writes data (row-major, the variable's shape) drawing
// from r; the values are converted to the variable's dtype afterwards.
type Init func(r *rand.Rand, data []float64)

// ConstantInit fills every value with c: ConstantInit(1) and ConstantInit(0) are the default
// norm weight and bias.
func ConstantInit(c float64) Init {
	return func(_ *rand.Rand, data []float64) {
		for i := range data {
			data[i] = c
		}
	}
}

// UniformInit draws every value from U(-bound, bound).
func UniformInit(bound float64) Init {
	return func(r *rand.Rand, data []float64) {
		for i := range data {
			data[i] = (2*r.Float64() - 1) * bound
		}
	}
}

// KaimingUniformBound is 1/√fanIn: the bound of PyTorch's default initialisation of Linear and
// ConvNd, both for the weight (kaiming_uniform_ with a=√5 gives gain √(2/(1+5)) = √(1/3) and
// bound gain·√(3/fanIn) = 1/√fanIn) and for the bias. fanIn is in_features for Linear and
// in_channels/groups·∏kernel for convolutions. A fanIn ≤ 0 gives 0 (torch leaves such a bias at
// its uninitialised value; zero is the deterministic choice).
func KaimingUniformBound(fanIn int) float64 {
	if fanIn <= 0 {
		return 0
	}
	return 1 / math.Sqrt(float64(fanIn))
}

// KaimingUniformInit is UniformInit(KaimingUniformBound(fanIn)): PyTorch's default for the
// weight and the bias of Linear (fanIn = in_features) and ConvNd
// (fanIn = in_channels/groups·kh·kw).
func KaimingUniformInit(fanIn int) Init {
	return UniformInit(KaimingUniformBound(fanIn))
}

// Variable returns the variable name of scope, with the given shape (and dtype), creating it
// filled by init when neither the store nor its loader has it. An existing variable of another
// shape is a graph-building error (a panic, as everywhere in graph code), except for the dtype
// of a float variable: one that exists as float32 (say) is returned as it is when a bfloat16
// layer asks for it, and the layers convert its value to the dtype they compute in (mixed
// precision with float32 master weights; see castParam).
//
// The values are deterministic: the random stream is seeded from the store's
// model.ParamInitialSeed hyper-parameter (0 when unset) and the variable's full path, so a
// variable's initial value depends neither on the order in which layers are built nor on the
// backend.
func Variable(scope *model.Scope, name string, shape shapes.Shape, init Init) *model.Variable {
	if v := scope.GetVariable(name); v != nil {
		// Loaded or created before: VariableWithShape checks the shape.
		if have := v.Shape().DType; have != shape.DType && have.IsFloat() && shape.DType.IsFloat() {
			shape = shapes.Make(have, shape.Dimensions...)
		}
		return scope.VariableWithShape(name, shape)
	}
	path := model.JoinPath(scope.Scope(), name)
	seed := initSeed(scope, path)
	registerHostInit(scope.Store(), path, seed, init)
	return scope.WithInitializer(func(g *Graph, shape shapes.Shape) *Node {
		data := make([]float64, shape.Size())
		init(rand.New(rand.NewPCG(seed, initStream)), data)
		values := Const(g, tensors.FromFlatDataAndDimensions(data, shape.Dimensions...))
		return ConvertDType(values, shape.DType)
	}).VariableWithShape(name, shape)
}

// initStream is the PCG stream of every variable's initial draws (its seed is initSeed's).
const initStream = 0x6a09e667f3bcc909

// initSeed mixes the store's initial seed with a hash of the variable's path.
func initSeed(scope *model.Scope, path string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(path))
	base := model.GetRootParamOr(scope.Store(), model.ParamInitialSeed, int64(0))
	return h.Sum64() ^ (uint64(base) * 0x9e3779b97f4a7c15)
}
