// Package schedule holds the noise schedules and samplers of diffusion models, with
// Hugging Face diffusers' semantics (its scheduler classes and scheduler_config.json are the
// contract): the forward process a model is trained on and the reverse process that turns
// noise into an image.
//
// # The forward process
//
// A denoising diffusion probabilistic model (Ho, Jain & Abbeel, "Denoising Diffusion
// Probabilistic Models", NeurIPS 2020, arXiv:2006.11239) destroys a clean sample x₀ in T steps
// of Gaussian noise with variances β_0 … β_{T-1}. With ᾱ_t = Π_{s≤t}(1-β_s) any step is
// reached at once:
//
//	x_t = √ᾱ_t·x₀ + √(1-ᾱ_t)·ε,   ε ~ N(0, I)
//
// and a network is trained to predict ε from (x_t, t) (or x₀, or v = √ᾱ_t·ε - √(1-ᾱ_t)·x₀,
// Salimans & Ho, arXiv:2202.00512). A Schedule holds β and ᾱ exactly as diffusers computes
// them in float32 (linear, scaled_linear as in Stable Diffusion, or the squaredcos_cap_v2
// cosine schedule of Nichol & Dhariwal, arXiv:2102.09672), with AddNoise and Velocity on the
// host and AddNoiseGraph, VelocityGraph, RandomTimesteps and NoisyBatch inside a GoMLX graph
// for training.
//
// # The reverse process
//
// A Sampler walks back from x_T ~ N(0, InitNoiseSigma²) through a few of the T timesteps,
// calling the model at each (the caller runs the model; a sampler never sees weights):
//
//   - DDPM: ancestral sampling from the posterior q(x_{t-1} | x_t, x̂₀) (Ho et al., above).
//   - DDIM: the deterministic (η = 0) non-Markovian sampler of Song, Meng & Ermon, "Denoising
//     Diffusion Implicit Models", ICLR 2021, arXiv:2010.02502.
//   - PNDM: pseudo linear multistep (PLMS) steps of Liu et al., "Pseudo Numerical Methods for
//     Diffusion Models on Manifolds", ICLR 2022, arXiv:2202.09778 (Stable Diffusion 1.x's default).
//   - Euler: Euler's method on the probability-flow ODE in σ = √((1-ᾱ)/ᾱ) (Karras et al.,
//     "Elucidating the Design Space of Diffusion-Based Generative Models", arXiv:2206.00364).
//   - DPMSolver: DPM-Solver++ 2M (Lu et al., "DPM-Solver++: Fast Solver for Guided Sampling of
//     Diffusion Probabilistic Models", arXiv:2211.01095), a second-order multistep solver of
//     the diffusion ODE in log-SNR time; also DPM-Solver (arXiv:2206.00927) and orders 1 and 3.
//
// Which timesteps are visited for n steps follows diffusers' timestep_spacing ("leading",
// "trailing", "linspace"; Lin et al., arXiv:2305.08891, Table 2) and steps_offset.
//
// # Configuration
//
// Config is a scheduler_config.json under its upstream field names; Defaults gives each
// class's diffusers defaults; LoadConfig reads a file and FromConfig builds the sampler its
// "_class_name" names. Values this package does not implement (dynamic thresholding, Karras σ,
// SDE variants, …) are refused with a *FieldError naming the field, never silently ignored.
// Config.As reads one class's config as another's, as diffusers' from_config does when a
// pipeline swaps samplers.
//
// Samples are []float32 (NCHW by convention; any layout works, every update is element-wise),
// computed in float64 from diffusers' float32 tables; on the reference fixtures the sampling
// runs agree with diffusers to about 2e-7 relative.
package schedule
