package rpo

import (
	"image"
	"math"
)

// Hooks let a caller watch and steer a fine-tune: log to their own system, stop on their own
// rule, or save elsewhere. Each is a plain func; a nil one is skipped. They run on the training
// goroutine, between steps.
type Hooks struct {
	// OnStep runs after every optimiser step (step counts from 1) with that step's losses.
	OnStep func(step int, losses Losses)
	// OnValidate runs after every validation with its mean λ_val reward and the images it
	// generated (prompt by prompt, ValidationImagesPerPrompt each). Returning true stops training
	// after this validation; the best checkpoint so far stays on disk.
	OnValidate func(step int, reward float64, images []image.Image) (stop bool)
	// OnBest runs when a validation reward beats every earlier one, after its checkpoint is
	// written.
	OnBest func(step int, reward float64)
}

// Step calls OnStep if set.
func (h Hooks) Step(step int, losses Losses) {
	if h.OnStep != nil {
		h.OnStep(step, losses)
	}
}

// Validate calls OnValidate if set and returns its answer (false when unset).
func (h Hooks) Validate(step int, reward float64, images []image.Image) bool {
	return h.OnValidate != nil && h.OnValidate(step, reward, images)
}

// Best calls OnBest if set.
func (h Hooks) Best(step int, reward float64) {
	if h.OnBest != nil {
		h.OnBest(step, reward)
	}
}

// StoppingPolicy decides, after each validation, whether its weights are the new best (the
// Trainer then writes OutDir/best, the weights an early-stopping objective keeps, and calls
// Hooks.OnBest) and whether training should stop (Result.StopReason StopPatience). The Trainer
// calls Observe once per validation, in step order, on the training goroutine; a NaN reward
// (weights gone non-finite never reach a validation, but a reward model may return one) should
// not be a best. EarlyStopping, the paper's rule, is the default; WithStopping sets another.
type StoppingPolicy interface {
	Observe(step int, reward float64) (best, stop bool)
}

// EarlyStopping is the default policy: keep the weights of the best validation reward (a strictly
// higher reward wins, as in the official code, so ties keep the earlier step), and with Patience
// > 0 stop once that many validations in a row have not improved on it. Its fields are what a
// checkpoint records to resume it; the zero value has no best yet and no patience.
type EarlyStopping struct {
	Patience   int
	HasBest    bool
	BestStep   int     // 0 while there is no best
	BestReward float64 // −Inf while there is no best
	SinceBest  int     // validations since the best one
}

// NewEarlyStopping returns a policy with no best yet; patience 0 never stops training.
func NewEarlyStopping(patience int) *EarlyStopping {
	return &EarlyStopping{Patience: patience, BestReward: math.Inf(-1)}
}

// Observe records the validation reward at step and reports whether it is a new best (save the
// checkpoint, call OnBest) and whether training should stop. A NaN reward is never a best.
func (e *EarlyStopping) Observe(step int, reward float64) (best, stop bool) {
	if !e.HasBest {
		e.BestReward = math.Inf(-1)
	}
	if reward > e.BestReward {
		e.BestStep, e.BestReward, e.SinceBest, e.HasBest = step, reward, 0, true
		return true, false
	}
	e.SinceBest++
	return false, e.Patience > 0 && e.SinceBest >= e.Patience
}

// record notes a validation as a policy decided it (best or not), without deciding anything:
// the Trainer keeps the policy's decisions in an EarlyStopping for checkpoints and metrics.
func (e *EarlyStopping) record(step int, reward float64, best bool) {
	if best {
		e.BestStep, e.BestReward, e.SinceBest, e.HasBest = step, reward, 0, true
		return
	}
	e.SinceBest++
}
