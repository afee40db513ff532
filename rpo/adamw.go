package rpo

import "github.com/gorpo/gorpo/internal/optim"

// AdamW is the optimiser the Trainer uses: torch.optim.AdamW preceded by
// torch.nn.utils.clip_grad_norm_, built into the training graph (see internal/optim).
type AdamW = optim.AdamW

// AdamWStats are the per-step figures AdamW.Update returns (gradient norm, learning rate, step).
type AdamWStats = optim.AdamWStats

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

// TrainableVariables lists the trainable variables under scope that the graph g uses.
var TrainableVariables = optim.TrainableVariables

// SaveOptimizerState writes AdamW's state variables under scope to a safetensors file.
var SaveOptimizerState = optim.SaveState

// LoadOptimizerState reads a file written by SaveOptimizerState back into the Store.
var LoadOptimizerState = optim.LoadState
