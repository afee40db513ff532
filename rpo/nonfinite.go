package rpo

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gorpo/gorpo/internal/weights"
)

// ErrNonFinite is wrapped by the error a run returns when training diverged: a loss or the
// gradient norm came out NaN or ±Inf, or the trained weights hold such values. errors.As with a
// *NonFiniteError gives the details.
var ErrNonFinite = errors.New("training diverged (NaN or Inf)")

// NonFiniteError says where a run diverged. The run stops at once: the step's values are not
// recorded, latest/ keeps the last checkpoint written with finite weights (LatestStep; Resume
// continues from there), and non-finite weights never reach best/ or final/.
type NonFiniteError struct {
	// Step is the optimiser step (counting from 1) whose loss or gradient norm was not finite,
	// or the step after which the weights were found not finite.
	Step int
	// What is the loss term's name (LossTotal, LossSim, ...), "gradient norm" or "weights".
	What string
	// Value is the non-finite value (NaN or ±Inf; NaN for weights).
	Value float64
	// Tensors lists the trained variables holding NaN or Inf values, by upstream name with a
	// count, when What is "weights".
	Tensors []string
	// LearningRate is the run's peak learning rate: the usual cause is one too high.
	LearningRate float64
	// LatestStep is the step of latest/ (0: none written yet).
	LatestStep int
}

func (e *NonFiniteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rpo: %v at step %d: ", ErrNonFinite, e.Step)
	if e.What == "weights" {
		shown := e.Tensors
		if len(shown) > 5 {
			shown = append(shown[:5:5], fmt.Sprintf("and %d more", len(e.Tensors)-5))
		}
		fmt.Fprintf(&b, "%d trained tensors hold NaN or Inf values (%s)", len(e.Tensors), strings.Join(shown, ", "))
	} else {
		fmt.Fprintf(&b, "the %s is %v", e.What, e.Value)
	}
	if e.LatestStep > 0 {
		fmt.Fprintf(&b, "; latest/ keeps step %d, the last finite state", e.LatestStep)
	} else {
		b.WriteString("; no checkpoint was written")
	}
	fmt.Fprintf(&b, "; try a lower learning rate than %g", e.LearningRate)
	return b.String()
}

func (e *NonFiniteError) Unwrap() error { return ErrNonFinite }

func isFiniteValue(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// checkStep returns a *NonFiniteError when step's losses or gradient norm are not finite (the
// total first, then the terms by name, then the gradient norm).
func (t *trainerRun) checkStep(step int, r stepResult, latest int) error {
	fail := func(what string, v float64) error {
		return &NonFiniteError{Step: step, What: what, Value: v, LearningRate: t.cfg.LearningRate, LatestStep: max(latest, 0)}
	}
	if v := r.losses.Total(); !isFiniteValue(v) {
		return fail(LossTotal, v)
	}
	names := make([]string, 0, len(r.losses))
	for n := range r.losses {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if v := r.losses[n]; !isFiniteValue(v) {
			return fail(n, v)
		}
	}
	if !isFiniteValue(r.gradNorm) {
		return fail("gradient norm", r.gradNorm)
	}
	return nil
}

// checkWeights returns a *NonFiniteError when the trained variables (the U-Net, or the LoRA
// adapters) hold NaN or Inf values: checked before any checkpoint is written.
func (t *trainerRun) checkWeights(m *trainedModel, latest int) error {
	bad, err := weights.NonFinite(m.unet.Store(), m.trainScope())
	if err != nil {
		return fmt.Errorf("rpo: checking the trained weights: %w", err)
	}
	if len(bad) == 0 {
		return nil
	}
	return &NonFiniteError{Step: t.step, What: "weights", Value: math.NaN(), Tensors: bad,
		LearningRate: t.cfg.LearningRate, LatestStep: max(latest, 0)}
}
