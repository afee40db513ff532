// Package rpo fine-tunes a text-to-image diffusion model on a few photos of a subject with
// Reward Preference Optimization (Miao et al., "Subject-driven Text-to-Image Generation via
// Preference-based Reinforcement Learning", NeurIPS 2024).
//
// The method, in the order a Trainer runs it:
//
//  1. The base model generates a few images for each of 8 training prompts ("a [V] dog on the Moon").
//  2. Each image and each reference photo is scored with the λ-Harmonic reward (package reward) of
//     ALIGN image and text embeddings (package align), with λ_train = 0 while labelling.
//  3. Each (reference, generated) pair gets a Bradley-Terry label y ~ Bernoulli(σ(r_ref − r_gen))
//     (package preference), redrawn each time the pair is visited.
//  4. Only the U-Net trains, on L = L_sim + L_pre: the denoising error on the reference photo, plus
//     the binary cross-entropy of σ(β·ℓ) against y, where ℓ compares how much the trained U-Net
//     improves over a frozen copy of the base U-Net on the reference versus the generated image.
//     The reference photo is denoised under the subject prompt ("a photo of [V] dog"), or under
//     its own caption when Config.ReferencePrompts gives one per photo (an extension).
//  5. Every few steps the model generates validation images; the λ_val-Harmonic reward (0.3) keeps
//     the best checkpoint (early stopping).
//
// Usage: NewTrainer(cfg, pipeline, embedder, photos, options...) checks everything and writes
// nothing; Run does the above under OutDir (run.json, setup.json, metrics.jsonl, validation/
// grids, best/, latest/, final/, and reward_curve.png with PlotRewardCurve and rpo/report) and
// returns a Result; Resume continues a cancelled or killed run from OutDir/latest, bit for bit
// as if it had not stopped. The generated images are cached across runs (CacheDir). Validations
// happen every ValidateEvery steps from step ValidateEvery on, as in the official code (not at step 0).
//
// Status: complete for the paper's method and its comparisons. Config with the paper's defaults
// and Validate; the official prompts and DreamBench's; the losses (RPOLoss, SimLoss,
// DreamBoothLoss, Target for ε- and v-prediction); AdamW with clipping, as torch computes it;
// Hooks, and early stopping as a StoppingPolicy (EarlyStopping, the paper's rule, by default;
// WithStopping for another); metrics.jsonl, the reward curve (drawn by rpo/report) and image
// grids; atomic checkpoints; LoRA adapters in diffusers' naming (NewLoRA, LoadLoRA, Merge); and
// the Trainer that wires them to the diffusion models and the reward: I_gen generation and
// caching, scoring and pairs, the compiled training step over the trained and frozen U-Nets (or
// adapters), validation, early stopping, checkpoints, cancellation and exact Resume, for every
// Objective; mixed precision (Config.Precision: the U-Net in bf16 or fp16 over float32 weights
// and updates, fp16 loss-scaled) and the count of compiled graphs (Result.Graphs), which a run's
// fixed shapes keep from growing with its steps and validations. On the fixture U-Net (32×32 images) one RPO step takes about 0.8 s on two CPU cores
// (BenchmarkStep).
package rpo
