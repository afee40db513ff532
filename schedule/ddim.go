package schedule

import (
	"fmt"
	"math"
)

// DDIM is diffusers' DDIMScheduler: the non-Markovian sampler of Song, Meng & Ermon,
// "Denoising Diffusion Implicit Models" (arXiv:2010.02502), Eq. 12:
//
//	x_{t'} = √ᾱ_{t'}·x̂₀ + √(1-ᾱ_{t'}-σ²)·ε̂ + σ·z,   σ = η·√((1-ᾱ_{t'})/(1-ᾱ_t)·(1-ᾱ_t/ᾱ_{t'}))
//
// with t' = t - T/n. η = 0 (the default) is deterministic; η = 1 is DDPM-like.
type DDIM struct {
	discrete
	finalAlpha float64 // ᾱ before t = 0: 1 (set_alpha_to_one) or ᾱ_0
	eta        float64
}

// NewDDIM builds a DDIM sampler from cfg (any class's config, read as DDIMScheduler's).
func NewDDIM(cfg Config) (*DDIM, error) {
	b, err := newBase(cfg, ClassDDIM)
	if err != nil {
		return nil, err
	}
	s := &DDIM{discrete: newDiscrete(b), finalAlpha: 1}
	if !b.cfg.SetAlphaToOne {
		s.finalAlpha = b.sched.alpha(0)
	}
	return s, nil
}

// SetEta sets η ∈ [0, 1] (diffusers' step(eta=…)); η > 0 draws noise from the sampler's source.
func (s *DDIM) SetEta(eta float64) error {
	if !(eta >= 0 && eta <= 1) {
		return fmt.Errorf("schedule: DDIM eta %v, want a value in [0, 1]", eta)
	}
	s.eta = eta
	return nil
}

// Step implements Sampler.
func (s *DDIM) Step(modelOutput []float32, t float64, x []float32) ([]float32, error) {
	if err := s.checkStep(modelOutput, x); err != nil {
		return nil, err
	}
	ti, err := s.trainIndex(t)
	if err != nil {
		return nil, err
	}
	// diffusers steps back by T // n whatever the spacing.
	prev := ti - s.numTrain()/s.numSteps
	a := s.sched.alpha(ti)
	aPrev := s.finalAlpha
	if prev >= 0 {
		aPrev = s.sched.alpha(prev)
	}
	variance := (1 - aPrev) / (1 - a) * (1 - a/aPrev)
	std := s.eta * math.Sqrt(variance)
	dirCoeff := math.Sqrt(1 - aPrev - std*std)
	sqrtPrev := math.Sqrt(aPrev)
	clip, lim := s.cfg.ClipSample, s.cfg.ClipSampleRange
	out := make([]float32, len(x))
	for i := range x {
		x0, eps := predictX0Eps(s.cfg.PredictionType, a, float64(x[i]), float64(modelOutput[i]))
		if clip {
			x0 = math.Max(-lim, math.Min(lim, x0))
		}
		v := sqrtPrev*x0 + dirCoeff*eps
		if s.eta > 0 {
			v += std * s.rng.NormFloat64()
		}
		out[i] = float32(v)
	}
	return out, nil
}
