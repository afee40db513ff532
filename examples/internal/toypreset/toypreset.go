// Package toypreset holds the toy world's fine-tuning settings, which examples/finetune and
// examples/dreambench share: the flags they set, by the programs' flag names, with the
// measurements that chose them.
package toypreset

// ReferenceContexts is the --reference-prompts value that captions each toy-world reference with
// the context it was rendered in ("a [V] ball on a sofa").
const ReferenceContexts = "contexts"

// Flags are the toy world's own fine-tuning settings, in place of the paper's (which are for SD 1.x at
// 512×512): the flags it sets, by name, and their values. They were chosen on the earlier
// pixel-space base model and re-measured on the latent one that replaced it (issue 11), which
// changed β and the validation's size; internal/toyworld/basemodel/PLAN.md and the README have
// the tables.
//
// The sampler: 10 DDIM steps at guidance 2. On 64 held-out captions the judge reads the latent
// base model's samples as well at 10 steps as at 50 (prompt fidelity 0.969 and 0.969), so the
// cheaper count stays; the pixel-space model fell apart beyond 10 (0.10 at 50 steps).
//
// The fine-tune: 300 steps of AdamW at 1e-4, validated every 50 under λ_val 0.3 on 16 images
// (two per prompt), β = 0.15, each reference captioned with the context it was rendered
// in. On the shipped latent model (dreambench --toy, 25 evaluation prompts × 4 images, subject /
// prompt fidelity, base → RPO) it passes the toy table's checks for five of six subjects:
// colorful_sneaker 0.01 / 1.00 → 0.46 / 1.00, robot_toy 0.00 / 1.00 → 0.68 / 0.96, spotted_cup
// 0.19 / 1.00 → 0.73 / 0.98, stripy_ball 0.00 / 1.00 → 0.53 / 1.00, tabby_cat 0.10 / 0.82 →
// 0.78 / 0.74; patch_dog 0.15 / 0.80 → 0.77 / 0.64 keeps its subject but loses 0.16 of prompt
// fidelity (outfits and colours asked of a dog). What chose it (one finetune --subject run each,
// 300 steps unless said):
//
//   - β = 0.1, the pixel-space model's choice, with 8 validation images: 4 of 6 in the table;
//     the two animals lose 0.13–0.17 of prompt fidelity (tabby_cat 0.73 / 0.69).
//   - Larger β holds the animals' prompts but the object subjects learn less: β = 0.3 gives
//     tabby_cat 0.62 / 0.75 and patch_dog 0.66 / 0.69, colorful_sneaker only 0.30 (a +0.29);
//     β = 1 (the paper's) colorful_sneaker 0.10, tabby_cat 0.37 / 0.79. At β = 0.3 neither 400
//     steps (sneaker 0.23) nor 16 validation images (0.25) nor lr 1.5e-4 (tabby_cat 0.37) helped.
//   - The validation set's size mattered more than β between 0.1 and 0.2: with 8 images
//     tabby_cat's validation reward was flat (0.797–0.800 over the six checks), so the kept step
//     was noise. At β = 0.15, 8 images: colorful_sneaker 0.33, tabby_cat 0.70 / 0.71; 16 images:
//     0.46 / 1.00 and 0.78 / 0.74.
//   - λ_val = 0.2 (β = 0.1) keeps step 50 (tabby_cat 0.34). λ_val = 0.5 (the paper's Table 1),
//     measured on the model at step 11 009 of its training, kept step 200 on tabby_cat: more
//     subject at 0.11 less prompt fidelity. λ_val stays the CLI's 0.3.
//
// Captioning the references (--reference-prompts contexts) rather than "a photo of [V] ball" lets
// the words, not the token, account for the reference's background: on the pixel-space model
// L_sim at 1e-4 gave 0.42 / 0.90 captioned (200 steps), against 0.38 / 0.80 under "a photo of [V]
// ball". An extension of the paper, which pairs every photo with the subject prompt; an explicit
// --subject-prompt turns it off. 3e-4 washed the samples out there (spotted_cup, L_sim: 0.46 /
// 0.36).
func Flags() map[string]any {
	return map[string]any{
		"steps":             300,  // optimiser steps
		"lr":                1e-4, // AdamW, constant
		"beta":              0.15, // the preference loss's β
		"reference-prompts": ReferenceContexts,
		"validate-every":    50, // six validations
		"images-per-prompt": 4,  // |I_gen| = 32 for the 8 training prompts, as the paper
		"val-images":        2,  // 16 images a validation
		"class-images":      32,
		"gen-steps":         10, // DDIM, trailing spacing: t = 999 first
		"guidance":          2.0,
		"size":              "32", // toyworld.Size
		"eval-prompts":      25,   // all of them, as issue 6's report asks
	}
}
