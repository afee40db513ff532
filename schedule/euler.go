package schedule

import "math"

// Euler is diffusers' EulerDiscreteScheduler: Euler's method on the probability-flow ODE
// dx/dσ = (x - x̂₀)/σ in the σ parametrisation of Karras et al., "Elucidating the Design Space
// of Diffusion-Based Generative Models" (arXiv:2206.00364), Algorithm 2 without churn.
// The sample lives at scale x = x₀ + σ·ε, so the model sees x/√(σ²+1) (ScaleModelInput) and
// the start noise has standard deviation InitNoiseSigma. Timesteps may be fractional
// ("linspace" spacing); σ at a fractional t is interpolated linearly from the training table
// ("linear") or the σ are spaced evenly in log σ ("log_linear").
type Euler struct {
	base
	sigmas    []float32 // one per timestep, plus the final σ
	stepIndex int       // -1 until the first ScaleModelInput or Step
}

// NewEuler builds an Euler sampler from cfg (any class's config, read as
// EulerDiscreteScheduler's).
func NewEuler(cfg Config) (*Euler, error) {
	b, err := newBase(cfg, ClassEuler)
	if err != nil {
		return nil, err
	}
	// Before SetTimesteps, diffusers' σ are the whole training table (for InitNoiseSigma).
	table := sigmaTable(b.sched.alphasCumprod)
	return &Euler{base: b, sigmas: append(table, 0), stepIndex: -1}, nil
}

// SetTimesteps implements Sampler.
func (s *Euler) SetTimesteps(n int) error {
	if err := checkSteps(n, s.numTrain()); err != nil {
		return err
	}
	T := s.numTrain()
	ts := make([]float64, 0, n)
	switch s.cfg.TimestepSpacing {
	case SpacingLinspace:
		lin := numpyLinspace(0, float64(T-1), n)
		for i := n - 1; i >= 0; i-- {
			ts = append(ts, float64(float32(lin[i])))
		}
	case SpacingLeading, SpacingTrailing:
		ints, err := discreteTimesteps(s.cfg.TimestepSpacing, n, T, s.cfg.StepsOffset)
		if err != nil {
			return err
		}
		for _, t := range ints {
			ts = append(ts, float64(t))
		}
	default:
		return checkSpacing(s.cfg.TimestepSpacing)
	}
	table := sigmaTable(s.sched.alphasCumprod)
	var sigmas []float32
	if s.cfg.InterpolationType == "log_linear" {
		// diffusers spaces n+1 σ evenly in log σ between the table's ends (in float32).
		lo := float32(math.Log(float64(table[len(table)-1])))
		hi := float32(math.Log(float64(table[0])))
		for _, l := range torchLinspace32(float64(lo), float64(hi), n+1) {
			sigmas = append(sigmas, float32(math.Exp(float64(l))))
		}
	} else {
		sigmas = interpSigmas(ts, table)
	}
	s.sigmas = append(sigmas, finalSigma(s.cfg.FinalSigmasType, s.sched.alphasCumprod))
	s.numSteps, s.timesteps, s.stepIndex = n, ts, -1
	return nil
}

// InitNoiseSigma implements Sampler: the largest σ for "linspace" and "trailing" spacing,
// √(σ_max²+1) for "leading".
func (s *Euler) InitNoiseSigma() float64 {
	var m float32
	for _, v := range s.sigmas {
		m = max(m, v)
	}
	if s.cfg.TimestepSpacing == SpacingLeading {
		return float64(sqrt32(m*m + 1))
	}
	return float64(m)
}

// ScaleModelInput implements Sampler: x/√(σ_t²+1).
func (s *Euler) ScaleModelInput(x []float32, t float64) ([]float32, error) {
	if err := s.initStepIndex(t); err != nil {
		return nil, err
	}
	sigma := s.sigmas[s.stepIndex]
	d := float64(sqrt32(sigma*sigma + 1))
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(float64(v) / d)
	}
	return out, nil
}

// initStepIndex finds t on the first call of a run; later calls keep the running index.
func (s *Euler) initStepIndex(t float64) error {
	if len(s.timesteps) == 0 {
		return ErrNoTimesteps
	}
	if s.stepIndex >= 0 {
		return nil
	}
	i, err := s.indexOf(t)
	s.stepIndex = i
	return err
}

// Step implements Sampler. Steps must follow Timesteps in order: the sampler counts them.
func (s *Euler) Step(modelOutput []float32, t float64, x []float32) ([]float32, error) {
	if err := s.checkStep(modelOutput, x); err != nil {
		return nil, err
	}
	if err := s.initStepIndex(t); err != nil {
		return nil, err
	}
	if err := s.checkOrder(ClassEuler, s.stepIndex, t); err != nil {
		return nil, err
	}
	sigma := float64(s.sigmas[s.stepIndex])
	dt := float64(s.sigmas[s.stepIndex+1]) - sigma
	out := make([]float32, len(x))
	for i := range x {
		xi, m := float64(x[i]), float64(modelOutput[i])
		var x0 float64
		switch s.cfg.PredictionType {
		case PredictSample, "original_sample":
			x0 = m
		case PredictV:
			x0 = m*(-sigma/math.Sqrt(sigma*sigma+1)) + xi/(sigma*sigma+1)
		default:
			x0 = xi - sigma*m
		}
		derivative := (xi - x0) / sigma
		out[i] = float32(xi + derivative*dt)
	}
	s.stepIndex++
	return out, nil
}
