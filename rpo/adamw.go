package rpo

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/optim"
)

// AdamW is the optimiser the Trainer uses: torch.optim.AdamW, preceded by
// torch.nn.utils.clip_grad_norm_, built into a training graph. One Update in a graph is one
// optimiser step, for every trainable variable of a scope:
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
// SaveOptimizerState and LoadOptimizerState write and read it.
type AdamW struct {
	LearningRate float64
	WarmupSteps  int
	Beta1, Beta2 float64
	Epsilon      float64
	WeightDecay  float64
	MaxGradNorm  float64 // ≤ 0: no clipping
	Scope        string  // absolute scope of the state; "" means DefaultOptimizerScope
	// DecayMatricesOnly applies the weight decay to variables of rank ≥ 2 only (Linear weights,
	// convolution kernels), not to biases and norm scales: the "no_decay" parameter group of
	// many torch scripts. torch.optim.AdamW, and the paper's runs, decay every parameter (false).
	DecayMatricesOnly bool
}

// AdamWStats are graph values of one AdamW.Update, for logging.
type AdamWStats struct {
	GradNorm     *Node // the global gradient norm before clipping (float32 scalar)
	LearningRate *Node // the learning rate of this step, after warm-up (float32 scalar)
	Step         *Node // the step count after this update (int64 scalar)
}

// DefaultOptimizerScope is where AdamW keeps its state in the Store.
const DefaultOptimizerScope = optim.DefaultScope

// NewAdamW returns the optimiser cfg describes, its state under DefaultOptimizerScope.
func NewAdamW(cfg Config) AdamW {
	return AdamW{
		LearningRate: cfg.LearningRate,
		WarmupSteps:  cfg.WarmupSteps,
		Beta1:        cfg.Beta1,
		Beta2:        cfg.Beta2,
		Epsilon:      cfg.Epsilon,
		WeightDecay:  cfg.WeightDecay,
		MaxGradNorm:  cfg.MaxGradNorm,
		Scope:        DefaultOptimizerScope,
	}
}

// StateScope is the absolute scope of the optimiser's state variables.
func (o AdamW) StateScope() string { return optim.AdamW(o).StateScope() }

// Update adds one optimiser step to loss's graph: the gradient of the scalar loss with respect to
// every trainable variable under scope that the graph uses (TrainableVariables), clipping, and the
// AdamW update of those variables and of the state. Variables elsewhere (a frozen base model, the
// text encoder) are untouched, and so is the optimiser's own state, which Update marks
// non-trainable. Run the graph with model.Exec so the new values are stored. It panics (GoMLX's
// graph-building errors) when there is nothing to train or a trainable variable is not a float.
func (o AdamW) Update(scope *model.Scope, loss *Node) AdamWStats {
	return AdamWStats(optim.AdamW(o).Update(scope, loss))
}

// UpdateWithLearningRate is Update with this step's learning rate given as a scalar node (for
// example fed from the host each step, for a cosine or step schedule); LearningRate and
// WarmupSteps are then unused.
func (o AdamW) UpdateWithLearningRate(scope *model.Scope, loss, learningRate *Node) AdamWStats {
	return AdamWStats(optim.AdamW(o).UpdateWithLearningRate(scope, loss, learningRate))
}

// TrainableVariables returns the trainable variables under scope that graph g uses, sorted by
// path: what AdamW.Update trains.
func TrainableVariables(scope *model.Scope, g *Graph) []*model.Variable {
	return optim.TrainableVariables(scope, g)
}

// SaveOptimizerState writes every variable under the optimiser's state scope (AdamW.StateScope;
// "" means DefaultOptimizerScope) to a safetensors file at path, atomically. Each tensor is named
// by its variable path relative to the scope ("step", "exp_avg/unet/conv_in/weight", …), so
// loading needs no model.
func SaveOptimizerState(store *model.Store, scope, path string) error {
	return optim.SaveState(store, scope, path)
}

// LoadOptimizerState reads a file written by SaveOptimizerState into non-trainable variables
// under scope, creating them or replacing the values of existing ones (which must have the same
// shapes). Nothing is changed unless the whole file is valid.
func LoadOptimizerState(store *model.Store, scope, path string) error {
	return optim.LoadState(store, scope, path)
}
