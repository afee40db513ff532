package reward_test

import (
	"fmt"

	"github.com/gorpo/gorpo/reward"
)

// The paper's example: two images whose arithmetic mean of ALIGN-I and ALIGN-T is the same 0.455.
// The first copies the reference photos and ignores the prompt; the harmonic reward exposes it.
func ExampleHarmonic() {
	h := reward.Harmonic(0.5)
	copycat, _ := h.Reward(0.9, 0.01)
	balanced, _ := h.Reward(0.7, 0.21)
	fmt.Printf("copies the reference: %.3f\n", copycat)
	fmt.Printf("follows the prompt:   %.3f\n", balanced)
	// Output:
	// copies the reference: 0.020
	// follows the prompt:   0.323
}
