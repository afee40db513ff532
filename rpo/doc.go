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
//  5. Every few steps the model generates validation images; the λ_val-Harmonic reward (0.3) keeps
//     the best checkpoint (early stopping).
//
// Status: the model-independent foundation is in place: Config with the paper's defaults and
// Validate; the official prompts and DreamBench's (TrainingPrompts, ValidationPrompts,
// EvaluationPrompts, DreamBenchSubjects); the graph-side losses over already-computed predictions
// (RPOLoss, SimLoss, DreamBoothLoss, Target for ε- and v-prediction); AdamW with global
// gradient-norm clipping, numerically as torch computes them, its state in the Store; Hooks and
// the EarlyStopping policy; metrics.jsonl, the reward-curve and image-grid PNGs; and atomic
// checkpoint folders (WriteCheckpoint, LoadCheckpointState). The Trainer that wires them to the
// diffusion models and the reward encoders (set-up, the step, validation, Resume, LoRA) comes
// once those are in place.
package rpo
