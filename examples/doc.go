// Package examples holds gorpo's runnable programs, one per folder: quickstart (the reward, the
// preference labels and a sampler's timesteps in a few lines), finetune (RPO on your own photos
// with a diffusers Stable Diffusion folder and an ALIGN folder; its no-flag toy-world default
// arrives with the toy-world models), toyworld (contact sheets of the synthetic world), and the
// programs that reproduce the toy world's models: toyjudge (the evaluation judge), toyreward (the
// ALIGN-architecture reward model) and toypretrain (the base text-to-image model).
package examples
