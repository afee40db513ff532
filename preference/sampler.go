package preference

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Pair is one (reference, generated) comparison.
type Pair struct {
	Reference int    // index of the reference image
	Generated int    // index of the generated image
	Prompt    string // the training prompt the generated image was made from

	// RewardReference and RewardGenerated are the two images' rewards (in RPO, the λ_train
	// harmonic reward of each image against Prompt).
	RewardReference, RewardGenerated float64
}

// Probability is P(reference ≻ generated) = σ(r_ref − r_gen).
func (p Pair) Probability() float64 { return Probability(p.RewardReference, p.RewardGenerated) }

// Probability is the Bradley-Terry preference probability σ(rRef − rGen), computed stably.
func Probability(rRef, rGen float64) float64 {
	d := rRef - rGen
	if d >= 0 {
		return 1 / (1 + math.Exp(-d))
	}
	e := math.Exp(d)
	return e / (1 + e)
}

// Sampler draws Bradley-Terry labels from a seeded PCG source.
type Sampler struct {
	src *rand.PCG
	rng *rand.Rand
}

// NewSampler returns a Sampler whose draws are determined by seed.
func NewSampler(seed uint64) *Sampler {
	src := rand.NewPCG(seed, 0x5851f42d4c957f2d)
	return &Sampler{src: src, rng: rand.New(src)}
}

// Label draws y ∈ {0, 1} for the pair: 1 (the reference is preferred) with probability
// σ(r_ref − r_gen). Rewards must be finite.
func (s *Sampler) Label(p Pair) (float32, error) {
	if math.IsNaN(p.RewardReference) || math.IsInf(p.RewardReference, 0) ||
		math.IsNaN(p.RewardGenerated) || math.IsInf(p.RewardGenerated, 0) {
		return 0, fmt.Errorf("preference: pair (reference %d, generated %d, %q) has rewards (%v, %v), want finite numbers",
			p.Reference, p.Generated, p.Prompt, p.RewardReference, p.RewardGenerated)
	}
	if s.rng.Float64() < p.Probability() {
		return 1, nil
	}
	return 0, nil
}

// Labels draws one label per pair, in order.
func (s *Sampler) Labels(pairs []Pair) ([]float32, error) {
	out := make([]float32, len(pairs))
	for i, p := range pairs {
		y, err := s.Label(p)
		if err != nil {
			return nil, err
		}
		out[i] = y
	}
	return out, nil
}

// MarshalBinary saves the Sampler's state, so a resumed run draws the labels it would have drawn.
func (s *Sampler) MarshalBinary() ([]byte, error) { return s.src.MarshalBinary() }

// UnmarshalBinary restores a state saved by MarshalBinary.
func (s *Sampler) UnmarshalBinary(data []byte) error {
	if s.src == nil {
		*s = *NewSampler(0)
	}
	if err := s.src.UnmarshalBinary(data); err != nil {
		return fmt.Errorf("preference: restoring sampler state: %w", err)
	}
	return nil
}
