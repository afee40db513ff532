package preference_test

import (
	"fmt"

	"github.com/gorpo/gorpo/preference"
)

// A reference photo (reward 0.62) against a generated image that drifted from the subject
// (reward 0.48): the reference is preferred with probability σ(0.14) ≈ 0.535, and labels are
// drawn from a seeded sampler.
func ExampleSampler() {
	pair := preference.Pair{Prompt: "a [V] dog on the Moon", RewardReference: 0.62, RewardGenerated: 0.48}
	fmt.Printf("P(reference preferred) = %.3f\n", pair.Probability())

	s := preference.NewSampler(1)
	ones := 0
	for range 10000 {
		y, _ := s.Label(pair)
		ones += int(y)
	}
	fmt.Println("about half the labels prefer the reference:", ones > 5000 && ones < 5700)
	// Output:
	// P(reference preferred) = 0.535
	// about half the labels prefer the reference: true
}
