package basemodel

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"

	"github.com/gorpo/gorpo/internal/optim"
)

// Scopes of the training state in the Store, beside "/unet" and "/text_model".
const (
	optimizerScope = optim.DefaultScope
	emaScope       = "/ema"
)

// adamW adds one AdamW step (internal/optim: torch's AdamW preceded by clip_grad_norm_) over every
// trainable variable the graph uses, with the learning rate lr (a float32 scalar node, so the host
// picks the schedule), and, when emaDecay > 0, updates an exponential moving average of every
// trained variable under emaScope with diffusers' EMAModel warm-up, decay
// min(emaDecay, (1+t)/(10+t)). It returns the global gradient norm before clipping.
func adamW(scope *model.Scope, loss, lr *Node, beta1, beta2, eps, weightDecay, maxGradNorm, emaDecay float64) *Node {
	g := loss.Graph()
	// The EMA copies are state, never trained: mark them before the optimiser lists variables.
	for v := range scope.Store().IterVariables() {
		if under(v.Path(), emaScope) {
			v.SetTrainable(false)
		}
	}
	trained := optim.TrainableVariables(scope, g)
	opt := optim.AdamW{Beta1: beta1, Beta2: beta2, Epsilon: eps, WeightDecay: weightDecay,
		MaxGradNorm: maxGradNorm, Scope: optimizerScope}
	stats := opt.UpdateWithLearningRate(scope, loss, lr)
	if emaDecay > 0 {
		t := ConvertDType(stats.Step, dtypes.Float32)
		ema := MinScalar(Div(AddScalar(t, 1), AddScalar(t, 10)), emaDecay)
		for _, v := range trained {
			if under(v.Path(), optimizerScope) {
				continue
			}
			eVar := scope.Store().GetVariable(emaScope + v.Path())
			if eVar == nil {
				exceptions.Panicf("basemodel: no EMA copy of %s", v.Path())
			}
			p := v.NodeValue(g) // the value after this step's update
			e := eVar.NodeValue(g)
			eVar.SetNodeValue(Add(Mul(e, ConvertDType(ema, e.DType())), Mul(p, ConvertDType(OneMinus(ema), p.DType()))))
		}
	}
	return stats.GradNorm
}

// under reports whether path lies below scope.
func under(path, scope string) bool {
	return len(path) > len(scope) && path[:len(scope)] == scope && path[len(scope)] == '/'
}
