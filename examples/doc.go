// Package examples holds gorpo's runnable programs, one per folder: quickstart (the reward, the
// preference labels and a sampler's timesteps in a few lines), and, as the SDK grows, the main
// fine-tuning job, the toy world, DreamBench evaluation and benchmarks.
package examples
