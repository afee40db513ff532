// Package examples holds gorpo's runnable programs, one per folder: quickstart (the reward, the
// preference labels and a sampler's timesteps in a few lines), toyworld (contact sheets of the
// synthetic world the main job will fine-tune in), and, as the SDK grows, the main fine-tuning
// job, DreamBench evaluation and benchmarks.
package examples
