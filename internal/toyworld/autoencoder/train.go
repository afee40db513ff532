package autoencoder

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/hostexec"
	"github.com/gorpo/gorpo/internal/optim"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/internal/trainrun"
	"github.com/gorpo/gorpo/internal/weights"
)

// Settings are what a training run draws and optimises with. A checkpoint records them, and a
// run resumes only with the same ones (Steps may grow).
type Settings struct {
	Steps        int     `json:"steps"`
	Batch        int     `json:"batch"`
	Seed         uint64  `json:"seed"`
	LearningRate float64 `json:"lr"`           // peak
	WarmupSteps  int     `json:"warmup_steps"` // linear from 0, then cosine down to MinLRFactor·lr at Steps
	MinLRFactor  float64 `json:"min_lr_factor"`
	WeightDecay  float64 `json:"weight_decay"`
	MaxGradNorm  float64 `json:"max_grad_norm"`
	// KLWeight weighs the KL divergence of the posterior from N(0, I), summed over an image's
	// latents, against the L1 error summed over its pixels: Stable Diffusion's VAE convention
	// (its kl_weight is 1e-6).
	KLWeight float64 `json:"kl_weight"`
}

// DefaultSettings are the run that made the shipped autoencoder (TRAINING.md beside it).
func DefaultSettings() Settings {
	return Settings{Steps: 4000, Batch: 32, Seed: 1, LearningRate: 1.5e-3, WarmupSteps: 100, MinLRFactor: 0.05,
		WeightDecay: 0.01, MaxGradNorm: 1, KLWeight: 1e-6}
}

// LearningRateAt is the learning rate of step (0-based).
func (s Settings) LearningRateAt(step int) float64 {
	return trainrun.Cosine(step, s.Steps, s.WarmupSteps, s.LearningRate, s.MinLRFactor)
}

// State is a checkpoint's state.json.
type State struct {
	Settings Settings     `json:"settings"`
	Step     int          `json:"step"`    // steps done
	Seconds  float64      `json:"seconds"` // training wall time so far, over every resumed part
	Losses   [][3]float32 `json:"losses"`  // per step: the loss, its mean L1 per pixel, its KL per latent
}

// Progress is reported after every step.
type Progress struct {
	Step, Steps  int
	Loss, L1, KL float64 // the step's loss, mean absolute error per pixel, KL per latent number
	GradNorm     float64
	LearningRate float64
	StepTime     time.Duration
	Elapsed      time.Duration // since this process started training (compilation included)
}

// Trainer trains an AutoencoderKL on fresh generic renders.
type Trainer struct {
	VAE      *diffusion.AutoencoderKL
	Settings Settings
	// Checkpoints, when not empty, is a folder where the run's state is written every
	// CheckpointEvery steps (and at the end), atomically, and read back by Resume.
	Checkpoints     string
	CheckpointEvery int
	Progress        func(Progress)

	state State
	exec  *hostexec.Exec
}

// CheckpointDir is the checkpoint folder's name under Trainer.Checkpoints: the VAE as a diffusers
// folder (vae/), the optimiser's state (optimizer.safetensors) and state.json.
const CheckpointDir = "checkpoint"

// State returns the run's state so far.
func (t *Trainer) State() State { return t.state }

// latentShape is the posterior's shape for one 32×32 image, channels last.
func (t *Trainer) latentShape() (side, channels int) {
	cfg := t.VAE.Config()
	return toyworld.Size >> (len(cfg.BlockOutChannels) - 1), cfg.LatentChannels
}

// Resume loads the checkpoint under Checkpoints, if there is one, and reports whether it did.
// A checkpoint of other settings (other than Steps) is an error.
func (t *Trainer) Resume() (bool, error) {
	if t.Checkpoints == "" {
		return false, nil
	}
	dir := filepath.Join(t.Checkpoints, CheckpointDir)
	var st State
	if ok, err := trainrun.ReadState(dir, &st); !ok || err != nil {
		if err != nil {
			err = fmt.Errorf("autoencoder: resume: %w", err)
		}
		return false, err
	}
	a, b := st.Settings, t.Settings
	a.Steps, b.Steps = 0, 0
	if a != b {
		return false, fmt.Errorf("autoencoder: resume: %s was trained with %+v, this run asks for %+v", dir, a, b)
	}
	f, err := safetensors.Open(filepath.Join(dir, "vae", "diffusion_pytorch_model.safetensors"))
	if err != nil {
		return false, fmt.Errorf("autoencoder: resume: %w", err)
	}
	if err := weights.Bind(t.VAE.Store(), diffusion.VAEScope, f, weights.BindOptions{}); err != nil {
		return false, fmt.Errorf("autoencoder: resume: %w", err)
	}
	if err := optim.LoadState(t.VAE.Store(), optim.DefaultScope, filepath.Join(dir, "optimizer.safetensors")); err != nil {
		return false, fmt.Errorf("autoencoder: resume: %w", err)
	}
	st.Settings.Steps = t.Settings.Steps
	t.state = st
	return true, nil
}

// checkpoint writes the state to Checkpoints/checkpoint, atomically (trainrun.ReplaceDir).
func (t *Trainer) checkpoint() error {
	return trainrun.ReplaceDir(filepath.Join(t.Checkpoints, CheckpointDir), func(tmp string) error {
		if err := t.VAE.Save(filepath.Join(tmp, "vae")); err != nil {
			return err
		}
		if err := optim.SaveState(t.VAE.Store(), optim.DefaultScope, filepath.Join(tmp, "optimizer.safetensors")); err != nil {
			return err
		}
		return trainrun.WriteState(tmp, t.state)
	})
}

// build declares the training step: encode, draw a latent from the posterior
// (mean + exp(logvar/2)·noise), decode, and one AdamW step on
//
//	loss = (Σ_pixels |x − x̂| + KLWeight · Σ_latents ½(μ² + σ² − 1 − log σ²)) / pixels
//
// averaged over the batch: Stable Diffusion's VAE objective without its perceptual and
// adversarial terms, divided by the pixel count so the loss reads as the mean L1 error.
func (t *Trainer) build() error {
	s := t.Settings
	vae := t.VAE
	b, err := backend.Default() // the backend diffusion.NewVAE and LoadVAE put the weights on
	if err != nil {
		return err
	}
	t.exec = hostexec.New(b, vae.Store(), "autoencoder: training step", func(scope *model.Scope, in []*Node) []*Node {
		x, noise, lr := in[0], in[1], in[2]
		vs := scope.Store().Scope(diffusion.VAEScope)
		mean, logvar := vae.ForwardEncode(vs, x)
		z := Add(mean, Mul(Exp(MulScalar(logvar, 0.5)), noise))
		xhat := vae.ForwardDecode(vs, z)
		l1 := ReduceAllMean(Abs(Sub(x, xhat)))
		kl := ReduceAllMean(MulScalar(Sub(Add(Square(mean), Exp(logvar)), AddScalar(logvar, 1)), 0.5))
		pixels := float64(x.Shape().Size() / x.Shape().Dim(0))
		latents := float64(mean.Shape().Size() / mean.Shape().Dim(0))
		loss := Add(l1, MulScalar(kl, s.KLWeight*latents/pixels))
		opt := optim.AdamW{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: s.WeightDecay, MaxGradNorm: s.MaxGradNorm}
		stats := opt.UpdateWithLearningRate(scope, loss, lr)
		return []*Node{loss, l1, kl, stats.GradNorm}
	})
	return nil
}

// Finalize releases the compiled training step.
func (t *Trainer) Finalize() {
	if t.exec != nil {
		t.exec.Finalize()
		t.exec = nil
	}
}

// Run trains from the current state (step 0, or where Resume left it) up to Settings.Steps,
// checkpointing as asked (trainrun.Loop); on cancellation it checkpoints and returns an error
// wrapping ctx's. The next batch is rendered while the current step runs. A non-finite loss
// stops it with an error naming the step, before anything of that step is saved.
func (t *Trainer) Run(ctx context.Context) error {
	s := t.Settings
	if s.Batch <= 0 || s.Steps < 0 {
		return fmt.Errorf("autoencoder: batch %d, steps %d", s.Batch, s.Steps)
	}
	t.state.Settings = s
	if t.exec == nil {
		if err := t.build(); err != nil {
			return err
		}
	}
	side, ch := t.latentShape()
	start, before := time.Now(), t.state.Seconds
	loop := trainrun.Loop[batch]{Name: "autoencoder", Steps: s.Steps, Every: t.CheckpointEvery,
		Draw: func(step int) (batch, error) { return drawBatch(s.Seed, step, s.Batch, side*side*ch) },
		Train: func(step int, b batch) error {
			lr := s.LearningRateAt(step)
			t0 := time.Now()
			outs, err := t.exec.Call(
				tensors.FromFlatDataAndDimensions(b.X, s.Batch, toyworld.Size, toyworld.Size, 3),
				tensors.FromFlatDataAndDimensions(b.Noise, s.Batch, side, side, ch),
				tensors.FromScalar(float32(lr)))
			if err != nil {
				return fmt.Errorf("autoencoder: step %d: %w", step, err)
			}
			var v [4]float32
			for i, o := range outs {
				v[i] = tensors.MustCopyFlatData[float32](o)[0]
				o.MustFinalizeAll()
			}
			if math.IsNaN(float64(v[0])) || math.IsInf(float64(v[0]), 0) || math.IsNaN(float64(v[3])) {
				return fmt.Errorf("autoencoder: step %d: loss %v, gradient norm %v: training diverged (try a lower learning rate)", step, v[0], v[3])
			}
			t.state.Step++
			t.state.Seconds = before + time.Since(start).Seconds()
			t.state.Losses = append(t.state.Losses, [3]float32{v[0], v[1], v[2]})
			if t.Progress != nil {
				t.Progress(Progress{Step: t.state.Step, Steps: s.Steps, Loss: float64(v[0]), L1: float64(v[1]), KL: float64(v[2]),
					GradNorm: float64(v[3]), LearningRate: lr, StepTime: time.Since(t0), Elapsed: time.Since(start)})
			}
			return nil
		},
	}
	if t.Checkpoints != "" {
		loop.Checkpoint = t.checkpoint
	}
	return loop.Run(ctx, t.state.Step)
}
