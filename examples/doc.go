// Package examples holds gorpo's runnable programs, one per folder: quickstart (the reward, the
// preference labels and a sampler's timesteps in a few lines), finetune (the main job: with no
// flags RPO on a toy-world subject with the shipped models; with --model and --reward the same
// experiment on your own photos: before/after grids, metrics, ablations), photos (the short
// program that fine-tunes a diffusers Stable Diffusion folder on your photos with an ALIGN folder
// and keeps the weights), toyworld (contact sheets of the synthetic world), and the
// programs that reproduce the toy world's models: toyjudge (the evaluation judge), toyreward (the
// ALIGN-architecture reward model) and toypretrain (the base text-to-image model).
package examples
