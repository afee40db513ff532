// Package optim holds gorpo's optimiser: AdamW exactly as torch computes it, built into a GoMLX
// training graph, with its state in Store variables so checkpoints carry it. The RPO trainer and
// the toy-world models' training programs share it (package rpo configures it from rpo.Config).
package optim

import (
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"

	. "github.com/gomlx/gomlx/core/graph"
)

// DefaultScope is where AdamW keeps its state in the Store.
const DefaultScope = "/optimizer"

// AdamW is torch.optim.AdamW, preceded by torch.nn.utils.clip_grad_norm_, built into a training
// graph. One Update in a graph is one optimiser step, for every trainable variable of a scope:
//
//	g     ← g · min(1, MaxGradNorm / (‖g‖ + 1e-6))     global norm over all variables (if MaxGradNorm > 0)
//	lr_t  = LearningRate · min(1, (t−1)/WarmupSteps)   t = 1, 2, … (constant without warm-up)
//	p     ← p · (1 − lr_t·WeightDecay)                  decoupled weight decay
//	m     ← β₁·m + (1−β₁)·g
//	v     ← β₂·v + (1−β₂)·g²
//	p     ← p − (lr_t / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
//
// The warm-up is diffusers' constant_with_warmup (its first step has learning rate 0). The bias
// corrections are computed in float64, as torch does on the host.
//
// The state lives in non-trainable variables under Scope, so it is saved and restored with the
// rest of the Store: Scope/step (int64 scalar, the number of steps taken) and, for a variable at
// path P, Scope/exp_avg/P and Scope/exp_avg_sq/P (torch's names for m and v), in its dtype.
type AdamW struct {
	LearningRate float64
	WarmupSteps  int
	Beta1, Beta2 float64
	Epsilon      float64
	WeightDecay  float64
	MaxGradNorm  float64 // ≤ 0: no clipping
	Scope        string  // absolute scope of the state; "" means DefaultScope
	// DecayMatricesOnly applies the weight decay to variables of rank ≥ 2 only (Linear weights,
	// convolution kernels, embeddings), not to biases and norm scales: the usual "no_decay"
	// parameter group of torch training scripts. The toy world's judge and reward model train so.
	DecayMatricesOnly bool
}

// StateScope is the absolute scope of the optimiser's state variables.
func (o AdamW) StateScope() string { return cleanScope(o.Scope) }

// AdamWStats are graph values of one Update, for logging.
type AdamWStats struct {
	GradNorm     *Node // the global gradient norm before clipping (float32 scalar)
	LearningRate *Node // the learning rate of this step, after warm-up (float32 scalar)
	Step         *Node // the step count after this update (int64 scalar)
}

// TrainableVariables returns the trainable variables under scope that graph g uses, sorted by
// path: what Update trains.
func TrainableVariables(scope *model.Scope, g *Graph) []*model.Variable {
	var vars []*model.Variable
	for v := range scope.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) {
			vars = append(vars, v)
		}
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
	return vars
}

// Update adds one optimiser step to loss's graph: the gradient of the scalar loss with respect to
// every trainable variable under scope that the graph uses (TrainableVariables), clipping, and the
// AdamW update of those variables and of the state. Variables elsewhere (a frozen base model, the
// text encoder) are untouched, and so is the optimiser's own state, which Update marks
// non-trainable. Run the graph with model.Exec so the new values are stored. It panics (GoMLX's
// graph-building errors) when there is nothing to train or a trainable variable is not a float.
func (o AdamW) Update(scope *model.Scope, loss *Node) AdamWStats {
	return o.update(scope, loss, nil)
}

// UpdateWithLearningRate is Update with this step's learning rate given as a scalar node (for
// example fed from the host each step, for a cosine or step schedule); LearningRate and
// WarmupSteps are then unused.
func (o AdamW) UpdateWithLearningRate(scope *model.Scope, loss, learningRate *Node) AdamWStats {
	if learningRate == nil || !learningRate.Shape().IsScalar() {
		exceptions.Panicf("optim: AdamW: the learning rate must be a scalar node")
	}
	return o.update(scope, loss, learningRate)
}

func (o AdamW) update(scope *model.Scope, loss, lrNode *Node) AdamWStats {
	g := loss.Graph()
	if !loss.Shape().IsScalar() {
		exceptions.Panicf("optim: AdamW: the loss must be a scalar, got %s", loss.Shape())
	}
	stateScope := o.StateScope()
	var vars []*model.Variable
	for _, v := range TrainableVariables(scope, g) {
		if !under(v.Path(), stateScope) { // the state is never trained, wherever it lies
			vars = append(vars, v)
		}
	}
	if len(vars) == 0 {
		exceptions.Panicf("optim: AdamW: no trainable variable under %q is used by the graph", scope.Scope())
	}
	params := make([]*Node, len(vars))
	for i, v := range vars {
		if !v.DType().IsFloat() {
			exceptions.Panicf("optim: AdamW: trainable variable %s has dtype %s, want a float", v.Path(), v.DType())
		}
		params[i] = v.NodeValue(g)
	}
	grads := Gradient(loss, params...)

	// Global norm and clipping, in float32 (torch computes it in the gradients' dtype).
	var sumSq *Node
	for _, gr := range grads {
		s := ReduceAllSum(Square(ConvertDType(gr, dtypes.Float32)))
		if sumSq == nil {
			sumSq = s
		} else {
			sumSq = Add(sumSq, s)
		}
	}
	norm := Sqrt(sumSq)
	if o.MaxGradNorm > 0 {
		coef := Div(Scalar(g, dtypes.Float32, o.MaxGradNorm), AddScalar(norm, 1e-6))
		coef = MinScalar(coef, 1.0)
		for i := range grads {
			grads[i] = Mul(grads[i], ConvertDType(coef, grads[i].DType()))
		}
	}

	// Step count and the scalars of this step, in float64.
	stepVar := scope.Store().VariableWithShape(stateScope+"/step", shapes.Make(dtypes.Int64), Zeros)
	stepVar.SetTrainable(false)
	step := AddScalar(stepVar.NodeValue(g), 1)
	stepVar.SetNodeValue(step)
	t := ConvertDType(step, dtypes.Float64)
	lr := Scalar(g, dtypes.Float64, o.LearningRate)
	if lrNode != nil {
		lr = ConvertDType(lrNode, dtypes.Float64)
	} else if o.WarmupSteps > 0 {
		ramp := Div(AddScalar(t, -1), Scalar(g, dtypes.Float64, o.WarmupSteps))
		lr = Mul(lr, MinScalar(ramp, 1.0))
	}
	bc1 := OneMinus(Pow(Scalar(g, dtypes.Float64, o.Beta1), t))
	bc2 := OneMinus(Pow(Scalar(g, dtypes.Float64, o.Beta2), t))
	stepSize := Div(lr, bc1)
	bc2Sqrt := Sqrt(bc2)
	decay := OneMinus(MulScalar(lr, o.WeightDecay))

	for i, v := range vars {
		dtype := v.DType()
		asDType := func(x *Node) *Node { return ConvertDType(x, dtype) }
		gr := asDType(grads[i])
		mVar := scope.Store().VariableWithShape(stateScope+"/exp_avg"+v.Path(), v.Shape(), Zeros)
		vVar := scope.Store().VariableWithShape(stateScope+"/exp_avg_sq"+v.Path(), v.Shape(), Zeros)
		mVar.SetTrainable(false)
		vVar.SetTrainable(false)

		p := params[i]
		if o.WeightDecay != 0 && (!o.DecayMatricesOnly || v.Shape().Rank() >= 2) {
			p = Mul(p, asDType(decay))
		}
		m := Add(MulScalar(mVar.NodeValue(g), o.Beta1), MulScalar(gr, 1-o.Beta1))
		sq := Add(MulScalar(vVar.NodeValue(g), o.Beta2), MulScalar(Square(gr), 1-o.Beta2))
		denom := AddScalar(Div(Sqrt(sq), asDType(bc2Sqrt)), o.Epsilon)
		p = Sub(p, Mul(asDType(stepSize), Div(m, denom)))

		mVar.SetNodeValue(m)
		vVar.SetNodeValue(sq)
		v.SetNodeValue(p)
	}
	return AdamWStats{GradNorm: norm, LearningRate: ConvertDType(lr, dtypes.Float32), Step: step}
}

// under reports whether path is scope itself or lies below it.
func under(path, scope string) bool {
	scope = strings.TrimSuffix(scope, "/")
	return path == scope || strings.HasPrefix(path, scope+"/")
}
