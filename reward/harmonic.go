package reward

import (
	"fmt"
	"math"
)

// harmonicGuard keeps a zero score from dividing by zero; the official RPO code adds the same 1e-8.
const harmonicGuard = 1e-8

// Harmonic is the λ-Harmonic reward of RPO (Eq. 5 of the paper):
//
//	r = 1 / (λ/ALIGN-I + (1-λ)/ALIGN-T)
//
// a weighted harmonic mean of the normalised image-image and image-text similarities. Unlike an
// arithmetic mean, it is dominated by the smaller score, so an image that copies the reference
// (high ALIGN-I) but ignores the prompt (low ALIGN-T) gets a low reward. λ = 1 gives ALIGN-I and
// λ = 0 gives ALIGN-T exactly. RPO labels preferences with λ_train = 0 and validates with λ_val = 0.3.
type Harmonic float64

// Validate reports whether λ is a number in [0, 1].
func (h Harmonic) Validate() error {
	l := float64(h)
	if math.IsNaN(l) || l < 0 || l > 1 {
		return fmt.Errorf("reward: Harmonic λ = %v, want a number in [0, 1]", l)
	}
	return nil
}

// Reward combines one image's normalised scores (each in [0, 1], see Normalize).
func (h Harmonic) Reward(alignI, alignT float64) (float64, error) {
	if err := h.Validate(); err != nil {
		return 0, err
	}
	if err := checkScore("ALIGN-I", alignI); err != nil {
		return 0, err
	}
	if err := checkScore("ALIGN-T", alignT); err != nil {
		return 0, err
	}
	return h.reward(alignI, alignT), nil
}

// Rewards is Reward over a batch: alignI[i] and alignT[i] belong to image i.
func (h Harmonic) Rewards(alignI, alignT []float64) ([]float64, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	if len(alignI) != len(alignT) {
		return nil, fmt.Errorf("reward: %d ALIGN-I scores but %d ALIGN-T scores, want one of each per image", len(alignI), len(alignT))
	}
	out := make([]float64, len(alignI))
	for i := range alignI {
		if err := checkScore(fmt.Sprintf("ALIGN-I[%d]", i), alignI[i]); err != nil {
			return nil, err
		}
		if err := checkScore(fmt.Sprintf("ALIGN-T[%d]", i), alignT[i]); err != nil {
			return nil, err
		}
		out[i] = h.reward(alignI[i], alignT[i])
	}
	return out, nil
}

func (h Harmonic) reward(alignI, alignT float64) float64 {
	l := float64(h)
	switch l {
	case 1:
		return alignI
	case 0:
		return alignT
	}
	return 1 / (l/(alignI+harmonicGuard) + (1-l)/(alignT+harmonicGuard))
}

func checkScore(name string, v float64) error {
	if math.IsNaN(v) || v < 0 || v > 1 {
		return fmt.Errorf("reward: %s = %v, want a normalised score in [0, 1] (see Normalize)", name, v)
	}
	return nil
}

// Normalize maps a cosine similarity in [-1, 1] to [0, 1] as (cos+1)/2, the scale on which
// ALIGN-I, ALIGN-T and the harmonic reward are defined. Values a hair outside [-1, 1] from
// float rounding are clamped.
func Normalize(cos float64) float64 {
	n := (cos + 1) / 2
	return math.Min(1, math.Max(0, n))
}
