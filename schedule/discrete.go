package schedule

import "math/rand/v2"

// discrete is what DDPM and DDIM share: integer timesteps from diffusers' spacing, the model
// input used as it is (σ-free samplers), and their own seeded noise source (DDPM's variance, DDIM
// with η > 0).
type discrete struct {
	base
	rng *rand.Rand
}

func newDiscrete(b base) discrete { return discrete{base: b, rng: newRand(0)} }

// SetRand implements Stochastic.
func (s *discrete) SetRand(r *rand.Rand) { s.rng = r }

// Seed restarts the noise source from seed (DDIM draws from it only when η > 0).
func (s *discrete) Seed(seed uint64) { s.rng = newRand(seed) }

// SetTimesteps implements Sampler.
func (s *discrete) SetTimesteps(n int) error {
	if err := checkSteps(n, s.numTrain()); err != nil {
		return err
	}
	ts, err := discreteTimesteps(s.cfg.TimestepSpacing, n, s.numTrain(), s.cfg.StepsOffset)
	if err != nil {
		return err
	}
	s.setInts(n, ts)
	return nil
}

// InitNoiseSigma implements Sampler: 1.
func (s *discrete) InitNoiseSigma() float64 { return 1 }

// ScaleModelInput implements Sampler: x unchanged.
func (s *discrete) ScaleModelInput(x []float32, t float64) ([]float32, error) { return x, nil }
