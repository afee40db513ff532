package schedule

import (
	"fmt"
	"math"
)

// Schedule is the forward (noising) process a model was trained with: β_t and
// ᾱ_t = Π_{s≤t}(1-β_s) for t = 0 … T-1, as float32 values identical to diffusers'. It is
// immutable and safe for concurrent use.
type Schedule struct {
	betas         []float32
	alphasCumprod []float32
}

// NewSchedule builds the schedule of cfg's β fields (num_train_timesteps, beta_start,
// beta_end, beta_schedule, trained_betas); the other fields are not read.
func NewSchedule(cfg Config) (*Schedule, error) {
	bad := func(field string, value any, reason string, args ...any) error {
		return &FieldError{Class: cfg.ClassName, Field: field, Value: value, Reason: fmt.Sprintf(reason, args...)}
	}
	if cfg.NumTrainTimesteps < 1 {
		return nil, bad("num_train_timesteps", cfg.NumTrainTimesteps, "want ≥ 1")
	}
	if err := cfg.validateBetas(bad); err != nil {
		return nil, err
	}
	var betas []float32
	if cfg.TrainedBetas != nil {
		betas = make([]float32, len(cfg.TrainedBetas))
		for i, b := range cfg.TrainedBetas {
			betas[i] = float32(b)
		}
	} else {
		var err error
		betas, err = Betas(cfg.BetaSchedule, cfg.NumTrainTimesteps, cfg.BetaStart, cfg.BetaEnd)
		if err != nil {
			return nil, err
		}
	}
	return &Schedule{betas: betas, alphasCumprod: AlphasCumprod(betas)}, nil
}

// NumTrainTimesteps is T, the number of training timesteps.
func (s *Schedule) NumTrainTimesteps() int { return len(s.betas) }

// Betas returns a copy of β_0 … β_{T-1}.
func (s *Schedule) Betas() []float32 { return append([]float32(nil), s.betas...) }

// AlphasCumprod returns a copy of ᾱ_0 … ᾱ_{T-1}.
func (s *Schedule) AlphasCumprod() []float32 { return append([]float32(nil), s.alphasCumprod...) }

// alpha returns ᾱ_t widened to float64.
func (s *Schedule) alpha(t int) float64 { return float64(s.alphasCumprod[t]) }

// AddNoise returns x_t = √ᾱ_t·x0 + √(1-ᾱ_t)·noise, the forward process q(x_t | x0) of DDPM.
//
// x0 and noise: [batch, …] flattened (NCHW for images), the same length; t: one training
// timestep in [0, T) per batch item, so len(x0) must be a multiple of len(t).
func (s *Schedule) AddNoise(x0, noise []float32, t []int) ([]float32, error) {
	return s.mix(x0, noise, t, func(a, b, x, n float64) float64 { return a*x + b*n })
}

// Velocity returns the v-prediction target v_t = √ᾱ_t·noise - √(1-ᾱ_t)·x0 (Salimans & Ho,
// "Progressive Distillation", arXiv:2202.00512). Shapes as in AddNoise.
func (s *Schedule) Velocity(x0, noise []float32, t []int) ([]float32, error) {
	return s.mix(x0, noise, t, func(a, b, x, n float64) float64 { return a*n - b*x })
}

// mix applies f(√ᾱ_t, √(1-ᾱ_t), x0, noise) element-wise, t broadcast over each batch item.
func (s *Schedule) mix(x0, noise []float32, t []int, f func(a, b, x, n float64) float64) ([]float32, error) {
	if len(x0) != len(noise) {
		return nil, fmt.Errorf("schedule: noise has %d values, x0 has %d", len(noise), len(x0))
	}
	if len(t) == 0 || len(x0)%len(t) != 0 {
		return nil, fmt.Errorf("schedule: %d timesteps do not divide x0's %d values into batch items", len(t), len(x0))
	}
	per := len(x0) / len(t)
	out := make([]float32, len(x0))
	for b, tb := range t {
		if tb < 0 || tb >= len(s.alphasCumprod) {
			return nil, fmt.Errorf("schedule: timestep t[%d] = %d outside [0, %d)", b, tb, len(s.alphasCumprod))
		}
		ac := s.alpha(tb)
		sa, sb := math.Sqrt(ac), math.Sqrt(1-ac)
		for i := b * per; i < (b+1)*per; i++ {
			out[i] = float32(f(sa, sb, float64(x0[i]), float64(noise[i])))
		}
	}
	return out, nil
}
