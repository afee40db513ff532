package rpo

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
)

// Names of the loss terms, as LossNodes.Named returns them and metrics.jsonl records them.
const (
	LossTotal      = "loss"         // what the optimiser minimises
	LossSim        = "l_sim"        // L_sim: the trained model's mean squared error on the reference images
	LossPre        = "l_pre"        // L_pre: BCE(σ(β·ℓ), y)
	LossPrior      = "l_prior"      // DreamBooth: the (unweighted) mean squared error on the class images
	LossLogit      = "logit"        // mean β·ℓ over the batch
	LossMSEGen     = "mse_gen"      // the trained model's mean squared error on the generated images
	LossMSEBaseRef = "mse_base_ref" // the frozen base model's mean squared error on the reference images
	LossMSEBaseGen = "mse_base_gen" // the frozen base model's mean squared error on the generated images
)

// LossNodes are the scalar terms of one training step's loss, inside the graph. Total is what the
// optimiser minimises; the others are for logging, and a term an objective lacks is nil.
type LossNodes struct {
	Total *Node
	Sim   *Node // L_sim (every objective)
	Pre   *Node // L_pre (RPO)
	Prior *Node // unweighted prior term (DreamBooth)

	Logit      *Node // mean β·ℓ (RPO)
	MSEGen     *Node // mean mse_θ on generated images (RPO)
	MSEBaseRef *Node // mean mse_base on reference images (RPO)
	MSEBaseGen *Node // mean mse_base on generated images (RPO)
}

// Named returns the present terms with their names (the Loss* constants), Total first, in a
// fixed order: the outputs a training graph returns for logging.
func (l LossNodes) Named() (names []string, nodes []*Node) {
	for _, t := range []struct {
		name string
		node *Node
	}{
		{LossTotal, l.Total}, {LossSim, l.Sim}, {LossPre, l.Pre}, {LossPrior, l.Prior},
		{LossLogit, l.Logit}, {LossMSEGen, l.MSEGen}, {LossMSEBaseRef, l.MSEBaseRef}, {LossMSEBaseGen, l.MSEBaseGen},
	} {
		if t.node != nil {
			names = append(names, t.name)
			nodes = append(nodes, t.node)
		}
	}
	return names, nodes
}

// Losses are a step's loss terms after it ran, by name (the Loss* constants): what hooks receive
// and metrics.jsonl records.
type Losses map[string]float64

// NewLosses pairs names (from LossNodes.Named) with the values the step computed.
func NewLosses(names []string, values []float64) (Losses, error) {
	if len(names) != len(values) {
		return nil, fmt.Errorf("rpo: %d loss names but %d values", len(names), len(values))
	}
	l := make(Losses, len(names))
	for i, n := range names {
		l[n] = values[i]
	}
	return l, nil
}

// Total is the minimised loss.
func (l Losses) Total() float64 { return l[LossTotal] }
