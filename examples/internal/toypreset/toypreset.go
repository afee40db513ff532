// Package toypreset holds the toy world's fine-tuning settings, which examples/finetune and
// examples/dreambench share: the flags they set, by the programs' flag names, with the
// measurements that chose them.
package toypreset

// ReferenceContexts is the --reference-prompts value that captions each toy-world reference with
// the context it was rendered in ("a [V] ball on a sofa").
const ReferenceContexts = "contexts"

// Flags are the toy world's own fine-tuning settings, in place of the paper's (which are for SD 1.x at
// 512×512): the flags it sets, by name, and their values.
//
// The sampler: 10 DDIM steps at guidance 2. On 64 held-out captions the judge reads the shipped
// base model's samples best there (prompt fidelity 0.86); 25 or 50 steps, or guidance ≥ 4,
// amplify the model's errors at low noise and the samples fall apart (prompt fidelity 0.10 at
// 50 steps and guidance 3; PLAN.md in internal/toyworld/basemodel).
//
// The fine-tune (stripy_ball, 25 evaluation prompts × 2 images; subject / prompt fidelity,
// base 0.00 / 0.92; 2 cores; the README has the whole table):
//
//   - Each reference is captioned with the context it was rendered in ("a [V] ball on a sofa",
//     --reference-prompts contexts) rather than "a photo of [V] ball". The base model already
//     draws the sofa for those words, so the token need not absorb it: L_sim at 1e-4 gives
//     0.42 / 0.90 captioned (200 steps), against 0.38 / 0.80 under "a photo of [V] ball" and
//     0.42 / 0.80 under "a [V] ball" (150 steps each). An extension of the paper, which pairs
//     every photo with the subject prompt; an explicit --subject-prompt turns it off.
//   - β = 0.1 weights the preference loss. With λ_train = 0 (ALIGN-T alone, the paper's) its
//     labels are near coin flips (p(reference preferred) 0.43 on average), so L_pre is mostly
//     noise of weight β/2 per pair on the reference and the generated image, and the generated
//     images, under the same "[V] ball" prompts as the evaluation, pin the model to the base's
//     own drawing of the object: at β = 1 RPO learns no subject (200 steps at 1e-4 captioned:
//     0.06 / 0.92, and at most 0.04 on the other five subjects); at β = 0.1, 300 steps:
//     0.38 / 0.90.
//   - 300 steps at 1e-4, validated every 50: 1.5e-4 gives 0.42 / 0.86; 3e-4 washes the samples
//     out (spotted_cup, L_sim: 0.46 / 0.36).
//
// The subjects with fine marks (the cup's dots, the robot's eye and heart) stay under subject
// fidelity 0.2 at every setting tried: the base model's samples are too soft to carry them.
func Flags() map[string]any {
	return map[string]any{
		"steps":             300,  // optimiser steps
		"lr":                1e-4, // AdamW, constant
		"beta":              0.1,  // the preference loss's β
		"reference-prompts": ReferenceContexts,
		"validate-every":    50, // six validations
		"images-per-prompt": 4,  // |I_gen| = 32 for the 8 training prompts, as the paper
		"val-images":        1,  // 8 images a validation
		"class-images":      32,
		"gen-steps":         10, // DDIM, trailing spacing: t = 999 first
		"guidance":          2.0,
		"size":              "32", // toyworld.Size
		"eval-prompts":      25,   // all of them, as issue 6's report asks
	}
}
