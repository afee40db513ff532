package diffusion

import (
	"fmt"
	"math"

	"github.com/gorpo/gorpo/schedule"
)

// Defaults of Pipeline's generation, as diffusers' StableDiffusionPipeline.__call__ has them
// (but for the batch size, which diffusers does not have: it runs every prompt at once).
const (
	DefaultSteps     = 50
	DefaultGuidance  = 7.5
	DefaultBatchSize = 4
)

// Option adjusts one Generate (GenerateTensors, GenerateLatents) call.
type Option func(*genOptions)

type genOptions struct {
	steps         int
	guidance      float64
	negative      string
	negatives     []string
	perPrompt     int
	seed          uint64
	seeds         []uint64
	height, width int
	batch         int
	sched         *schedule.Config
	schedClass    string
	eta           float64
	progress      func(step, total int)
	clipSkip      int
	optionErrs    []error
}

func defaultOptions() genOptions {
	return genOptions{steps: DefaultSteps, guidance: DefaultGuidance, perPrompt: 1, batch: DefaultBatchSize}
}

func (o *genOptions) fail(format string, args ...any) {
	o.optionErrs = append(o.optionErrs, fmt.Errorf(format, args...))
}

// Steps sets the number of denoising steps (num_inference_steps; default 50). Which timesteps
// they visit is the sampler's timestep_spacing.
func Steps(n int) Option {
	return func(o *genOptions) {
		if n < 1 {
			o.fail("steps %d, want at least 1", n)
		}
		o.steps = n
	}
}

// Guidance sets the classifier-free guidance scale w (guidance_scale; default 7.5): the noise
// prediction is ε_uncond + w·(ε_cond − ε_uncond) (Ho & Salimans, "Classifier-Free Diffusion
// Guidance", arXiv:2207.12598). With w ≤ 1 the unconditional pass is skipped, as diffusers
// does, and the conditional prediction is used alone (negative prompts are then unused).
func Guidance(w float64) Option {
	return func(o *genOptions) {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			o.fail("guidance scale %v, want a finite number", w)
		}
		o.guidance = w
	}
}

// NegativePrompts gives prompt i the negative prompt neg[i]: the text whose prediction guidance
// steers away from (the unconditional pass). Prompts beyond the list get NegativePrompt's text,
// by default "" (diffusers' unconditional embedding). More negative prompts than prompts is an
// error.
func NegativePrompts(neg ...string) Option {
	return func(o *genOptions) {
		o.negatives = append([]string(nil), neg...)
	}
}

// NegativePrompt sets the negative prompt of every prompt that NegativePrompts does not give one
// (default "").
func NegativePrompt(neg string) Option {
	return func(o *genOptions) { o.negative = neg }
}

// ImagesPerPrompt generates n images for each prompt (num_images_per_prompt; default 1), in
// prompt order: prompt 0's n images, then prompt 1's, ...
func ImagesPerPrompt(n int) Option {
	return func(o *genOptions) {
		if n < 1 {
			o.fail("images per prompt %d, want at least 1", n)
		}
		o.perPrompt = n
	}
}

// Seed seeds image i with seed+i (default 0). See Seeds for what a seed determines.
func Seed(seed uint64) Option {
	return func(o *genOptions) { o.seed, o.seeds = seed, nil }
}

// Seeds gives each image its own seed, one per image in output order (len(prompts) ×
// ImagesPerPrompt of them). An image's seed alone determines its random draws, so it does not
// depend on the other images of its batch or call: its starting latents x_T come from one
// stream of math/rand/v2's PCG seeded with it (N(0, 1) × the sampler's InitNoiseSigma, NCHW
// order), and the noise a stochastic sampler adds while stepping (DDPM; DDIM with Eta > 0) from
// another stream of the same seed, drawn by a sampler of its own (schedule.Stochastic's
// SetRand). diffusers instead shares one torch generator across the batch, so there an image
// changes with its neighbours; and the values here are not torch's, so they do not reproduce a
// diffusers run's pixels.
//
// The same seed, prompt and options give the same pixels on the same backend. Generated alone
// or in a batch of another size, an image agrees to float rounding only (about 1e-6 relative
// on the Go backend, whose kernels sum in an order that depends on the batch size); within a
// batch of one size its pixels do not depend on the neighbours' prompts or seeds.
func Seeds(seeds ...uint64) Option {
	return func(o *genOptions) { o.seeds = append([]uint64(nil), seeds...) }
}

// Size sets the image height and width in pixels. They must be multiples of the VAE's scale
// factor (2^(len(block_out_channels)-1): 8 for Stable Diffusion); the default is the U-Net's
// sample_size times that factor (512×512 for SD 1.x), or sample_size itself for a pixel-space
// model. See Pipeline.DefaultSize.
func Size(height, width int) Option {
	return func(o *genOptions) { o.height, o.width = height, width }
}

// BatchSize sets how many images are denoised together (default 4); more images are generated
// in several batches, each one U-Net call per step (with guidance, of twice as many rows), and
// decoded batch by batch. It trades memory for speed only: images do not depend on how they
// were batched, up to float rounding (see Seeds).
func BatchSize(n int) Option {
	return func(o *genOptions) {
		if n < 1 {
			o.fail("batch size %d, want at least 1", n)
		}
		o.batch = n
	}
}

// Scheduler replaces the pipeline's sampler for this call: any configuration package schedule
// implements, built with schedule.FromConfig (e.g. schedule.Defaults or a
// scheduler_config.json read with schedule.LoadConfig). See also SchedulerClass.
func Scheduler(cfg schedule.Config) Option {
	return func(o *genOptions) { o.sched, o.schedClass = &cfg, "" }
}

// SchedulerClass swaps the sampler's class, keeping the model's schedule: the pipeline's
// Scheduler read as class (schedule.Config.As), as diffusers'
// DDIMScheduler.from_config(pipe.scheduler.config) does. For example
// SchedulerClass(schedule.ClassDPMSolver) for DPM-Solver++ 2M.
func SchedulerClass(class string) Option {
	return func(o *genOptions) { o.schedClass, o.sched = class, nil }
}

// Eta sets DDIM's η ∈ [0, 1] (diffusers' eta; default 0, deterministic). Like diffusers, other
// samplers ignore it. With η > 0 the sampler's noise comes from each image's seed (see Seeds).
func Eta(eta float64) Option {
	return func(o *genOptions) {
		if !(eta >= 0 && eta <= 1) {
			o.fail("eta %v, want a value in [0, 1]", eta)
		}
		o.eta = eta
	}
}

// Progress calls f after each denoising step with the steps done so far and the total, counted
// over the whole call: the sampler's timesteps (Steps, or one more for PNDM, which repeats its
// first) × the number of batches. f runs on the generating goroutine; keep it short.
func Progress(f func(step, total int)) Option {
	return func(o *genOptions) { o.progress = f }
}

// ClipSkip conditions the U-Net on the text encoder's layer n before the last, through the
// final layer norm (diffusers' clip_skip; see WithClipSkip). 0, the default, is
// last_hidden_state.
func ClipSkip(n int) Option {
	return func(o *genOptions) {
		if n < 0 {
			o.fail("clip skip %d, want 0 or more", n)
		}
		o.clipSkip = n
	}
}
