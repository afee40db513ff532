package schedule

import (
	"math"
	"slices"
)

// DDPM is diffusers' DDPMScheduler: ancestral sampling from the posterior q(x_{t'} | x_t, x̂₀)
// of Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models" (arXiv:2006.11239), Eqs. 6-7:
//
//	x_{t'} = √ᾱ_{t'}·β̃/(1-ᾱ_t)·x̂₀ + √α̃·(1-ᾱ_{t'})/(1-ᾱ_t)·x_t + σ·z,   α̃ = ᾱ_t/ᾱ_{t'}, β̃ = 1-α̃
//
// where t' is the next timestep of the schedule and σ² = (1-ᾱ_{t'})/(1-ᾱ_t)·β̃ ("fixed_small",
// the posterior variance; "fixed_small_log" is the same) or β̃ ("fixed_large"). No noise is
// added at t = 0. The noise comes from a seeded source (SetRand), so runs repeat exactly.
type DDPM struct {
	discrete
}

// NewDDPM builds a DDPM sampler from cfg (any class's config, read as DDPMScheduler's), drawing
// noise from a source seeded with 0 until SetRand or Seed.
func NewDDPM(cfg Config) (*DDPM, error) {
	b, err := newBase(cfg, ClassDDPM)
	if err != nil {
		return nil, err
	}
	return &DDPM{discrete: newDiscrete(b)}, nil
}

// Step implements Sampler.
func (s *DDPM) Step(modelOutput []float32, t float64, x []float32) ([]float32, error) {
	if err := s.checkStep(modelOutput, x); err != nil {
		return nil, err
	}
	ti, err := s.trainIndex(t)
	if err != nil {
		return nil, err
	}
	// The next timestep follows t's first occurrence (diffusers' previous_timestep).
	idx := slices.Index(s.timesteps, t)
	if idx < 0 {
		_, err := s.indexOf(t)
		return nil, err
	}
	a, aPrev := s.sched.alpha(ti), 1.0
	if idx+1 < len(s.timesteps) {
		aPrev = s.sched.alpha(int(s.timesteps[idx+1]))
	}
	alphaT := a / aPrev
	betaT := 1 - alphaT
	x0Coeff := math.Sqrt(aPrev) * betaT / (1 - a)
	xCoeff := math.Sqrt(alphaT) * (1 - aPrev) / (1 - a)
	var std float64
	if ti > 0 {
		variance := math.Max((1-aPrev)/(1-a)*betaT, 1e-20)
		if s.cfg.VarianceType == "fixed_large" {
			variance = betaT
		}
		std = math.Sqrt(variance)
	}
	clip, lim := s.cfg.ClipSample, s.cfg.ClipSampleRange
	out := make([]float32, len(x))
	for i := range x {
		x0, _ := predictX0Eps(s.cfg.PredictionType, a, float64(x[i]), float64(modelOutput[i]))
		if clip {
			x0 = math.Max(-lim, math.Min(lim, x0))
		}
		v := x0Coeff*x0 + xCoeff*float64(x[i])
		if std > 0 {
			v += std * s.rng.NormFloat64()
		}
		out[i] = float32(v)
	}
	return out, nil
}
