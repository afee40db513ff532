package rpo

import (
	"image"
	"math"
	"testing"
)

// The default policy keeps the first strictly best reward and stops after Patience validations
// without a new best.
func TestEarlyStopping(t *testing.T) {
	e := NewEarlyStopping(2)
	type obs struct {
		step       int
		reward     float64
		best, stop bool
		bestStep   int
		bestReward float64
	}
	for _, o := range []obs{
		{40, 0.50, true, false, 40, 0.50},
		{80, 0.60, true, false, 80, 0.60},
		{120, 0.60, false, false, 80, 0.60}, // a tie is not an improvement
		{160, math.NaN(), false, true, 80, 0.60},
		{200, 0.70, true, false, 200, 0.70},
	} {
		best, stop := e.Observe(o.step, o.reward)
		if best != o.best || stop != o.stop || e.BestStep != o.bestStep || e.BestReward != o.bestReward {
			t.Errorf("step %d reward %v: best=%v stop=%v, policy %+v; want best=%v stop=%v best %d/%v",
				o.step, o.reward, best, stop, *e, o.best, o.stop, o.bestStep, o.bestReward)
		}
	}

	// Without patience it never stops; the zero value works.
	var z EarlyStopping
	for i := range 10 {
		if _, stop := z.Observe(i, -float64(i)); stop {
			t.Fatal("stopped without patience")
		}
	}
	if z.BestStep != 0 || z.BestReward != 0 || !z.HasBest {
		t.Errorf("zero-value policy %+v", z)
	}
}

// Nil hooks are skipped; set ones are called with their arguments.
func TestHooks(t *testing.T) {
	var h Hooks
	h.Step(1, Losses{LossTotal: 1})
	h.Best(1, 0.5)
	if h.Validate(1, 0.5, nil) {
		t.Error("an unset OnValidate stopped training")
	}
	var steps, bests []int
	h = Hooks{
		OnStep:     func(step int, l Losses) { steps = append(steps, step) },
		OnValidate: func(step int, reward float64, images []image.Image) bool { return reward > 0.9 },
		OnBest:     func(step int, reward float64) { bests = append(bests, step) },
	}
	h.Step(3, Losses{})
	h.Best(40, 0.6)
	if len(steps) != 1 || steps[0] != 3 || len(bests) != 1 || bests[0] != 40 {
		t.Errorf("steps %v bests %v", steps, bests)
	}
	if h.Validate(40, 0.5, nil) || !h.Validate(80, 0.95, nil) {
		t.Error("OnValidate's answer was not passed on")
	}
}
