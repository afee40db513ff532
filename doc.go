// Package gorpo is a Go SDK for subject-driven text-to-image generation with Reward Preference
// Optimization (RPO; Miao et al., NeurIPS 2024): take a few photos of a subject (a dog, a backpack,
// a toy), fine-tune a diffusion model so that it draws that subject in new scenes ("a [V] dog on
// the Moon"), and keep the checkpoint a reward model likes best.
//
// The packages, from the bottom up:
//
//   - schedule: noise schedules, forward noising and the samplers (DDPM, DDIM, Euler,
//     DPM-Solver++ 2M, PNDM) with diffusers' timestep semantics.
//   - diffusion: the U-Net, VAE, CLIP text encoder and tokenizer, diffusers folders, and the
//     text-to-image Pipeline.
//   - align: ALIGN, CLIP and DINO encoders that judge images; align/clip holds the CLIP configs
//     and BPE tokenizer that diffusion's text encoder shares.
//   - reward: the λ-Harmonic reward over ALIGN-I and ALIGN-T, and the paper's metrics.
//   - preference: Bradley-Terry labels for (reference, generated) pairs.
//   - rpo: the Trainer that wires them: set-up, loss, optimiser, validation, early stopping,
//     checkpoints, LoRA.
//
// Everything runs on GoMLX. The default backend is its pure-Go one, so a fresh machine needs no
// download; set GOMLX_BACKEND=xla:cuda (or xla:/path/to/pjrt_plugin.so) for a GPU, in a program
// that links XLA with import _ "github.com/gorpo/gorpo/rpo/xla" (the examples do). Models load
// from their upstream formats (diffusers and transformers folders, safetensors) and agree with
// those libraries to about 1e-6 relative on reference fixtures.
//
// The examples folder has the runnable programs: quickstart (the reward and labels in a few
// lines), photos (RPO on your photos with a Stable Diffusion folder and an ALIGN folder),
// finetune (the same as an experiment, with before/after grids, metrics and ablations, and in
// the built-in toy world), and the programs that train the toy world's small models. The toy
// world (internal/toyworld) is a synthetic 32×32 world of objects in DreamBench-style contexts
// whose renderer knows the truth, so RPO's effect can be measured on a CPU against an
// independent judge rather than by its own reward.
package gorpo
