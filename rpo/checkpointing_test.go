package rpo

import (
	"math"
	"testing"
)

// Config.GradientCheckpointing changes memory, not results: two RPO steps of the whole fixture
// U-Net, and of LoRA adapters on it, give the losses and weight updates they give without it
// (measured: the first step's values bit for bit; the updates within 1.6e-5 for the whole U-Net,
// 3.7e-6 for LoRA rank 2).
func TestGradientCheckpointingSteps(t *testing.T) {
	for _, rank := range []int{0, 2} {
		plain := stepsWith(t, stepOptions{loraRank: rank}, PrecisionFP32)[PrecisionFP32]
		ckpt := stepsWith(t, stepOptions{loraRank: rank, checkpointing: true}, PrecisionFP32)[PrecisionFP32]
		for i, want := range plain.results {
			got := ckpt.results[i]
			// The first step starts from the same weights: the same values. The second starts from
			// weights updated by gradients that differ in the last bits; its loss terms (about 1,
			// and the logit, a difference of two of them) agree to 1e-5.
			for name, a := range want.losses {
				if b := got.losses[name]; math.Abs(a-b) > 1e-5*math.Max(1, math.Abs(a)) || math.IsNaN(b) || (i == 0 && a != b) {
					t.Fatalf("LoRA rank %d, step %d: %s %.8f with checkpointing, %.8f without", rank, i+1, name, b, a)
				}
			}
			if math.Abs(got.gradNorm-want.gradNorm) > 1e-5*want.gradNorm {
				t.Fatalf("LoRA rank %d, step %d: gradient norm %.8g with checkpointing, %.8g without", rank, i+1, got.gradNorm, want.gradNorm)
			}
		}
		rel, flipped := updateError(ckpt, plain)
		t.Logf("LoRA rank %d: %d trained tensors, update error %.3g, %.3g%% of updates flipped", rank, len(plain.after), rel, 100*flipped)
		if rel > 1e-4 || math.IsNaN(rel) || len(plain.after) == 0 {
			t.Fatalf("LoRA rank %d: weight updates differ by %.3g with checkpointing", rank, rel)
		}
	}
}
