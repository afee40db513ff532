package basemodel

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/clip"
	"github.com/gorpo/gorpo/internal/hostexec"
	"github.com/gorpo/gorpo/internal/trainrun"
	"github.com/gorpo/gorpo/schedule"
)

// Settings are what a training run draws and optimises with. A checkpoint records them, and a
// run resumes only with the same ones (Steps may grow).
type Settings struct {
	Steps        int     `json:"steps"`
	Batch        int     `json:"batch"`
	Seed         uint64  `json:"seed"`
	Scenes       int     `json:"scenes"`       // the data set: GenericScene(0 … Scenes-1)
	LearningRate float64 `json:"lr"`           // peak
	WarmupSteps  int     `json:"warmup_steps"` // linear from 0, then cosine down to MinLRFactor·lr at Steps
	MinLRFactor  float64 `json:"min_lr_factor"`
	WeightDecay  float64 `json:"weight_decay"`
	MaxGradNorm  float64 `json:"max_grad_norm"`
	EMADecay     float64 `json:"ema_decay"`    // 0: no moving average
	CaptionDrop  float64 `json:"caption_drop"` // probability of training on "" (classifier-free guidance)
}

// DefaultSettings are the run that made the shipped model on two CPU cores in about 85 minutes
// (PLAN.md): 5000 steps of batch 32 (160 000 images), AdamW at 1e-3 (β 0.9/0.999, weight decay
// 0.01, gradient norm clipped to 1) with 100 warm-up steps and a cosine decay to 1e-4, EMA 0.995
// (a short run: the average spans the last ~200 steps), captions dropped 10% of the time (for
// classifier-free guidance), 50 000 scenes.
func DefaultSettings() Settings {
	return Settings{Steps: 5000, Batch: 32, Seed: 1, Scenes: 50000, LearningRate: 1e-3, WarmupSteps: 100,
		MinLRFactor: 0.1, WeightDecay: 0.01, MaxGradNorm: 1, EMADecay: 0.995, CaptionDrop: 0.1}
}

// LearningRateAt is the learning rate of step (0-based).
func (s Settings) LearningRateAt(step int) float64 {
	return trainrun.Cosine(step, s.Steps, s.WarmupSteps, s.LearningRate, s.MinLRFactor)
}

// State is a checkpoint's state.json.
type State struct {
	Settings Settings  `json:"settings"`
	Step     int       `json:"step"`    // steps done
	Seconds  float64   `json:"seconds"` // training wall time so far (compilation included), over every resumed part
	Losses   []float32 `json:"losses"`  // the loss (ε- or v-MSE) of every step
}

// Progress is reported after every step.
type Progress struct {
	Step, Steps  int
	Loss         float64
	GradNorm     float64
	LearningRate float64
	StepTime     time.Duration // this step's
	Elapsed      time.Duration // since this process started training (compilation included)
	Done         int           // steps this process has done
}

// Trainer trains a Model on a Dataset.
type Trainer struct {
	Model    *Model
	Data     *Dataset
	Settings Settings
	// Checkpoints, when not empty, is a folder where the run's state is written every
	// CheckpointEvery steps (and at the end), atomically, and read back by Resume.
	Checkpoints     string
	CheckpointEvery int
	Progress        func(Progress)

	state State
	exec  *hostexec.Exec
}

// CheckpointDir is the checkpoint folder's name under Trainer.Checkpoints.
const CheckpointDir = "checkpoint"

// State returns the run's state so far.
func (t *Trainer) State() State { return t.state }

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
			err = fmt.Errorf("basemodel: resume: %w", err)
		}
		return false, err
	}
	a, b := st.Settings, t.Settings
	a.Steps, b.Steps = 0, 0
	if a != b {
		return false, fmt.Errorf("basemodel: resume: %s was trained with %+v, this run asks for %+v", dir, a, b)
	}
	if err := t.Model.loadState(filepath.Join(dir, "state.safetensors")); err != nil {
		return false, fmt.Errorf("basemodel: resume: %w", err)
	}
	st.Settings.Steps = t.Settings.Steps
	t.state = st
	return true, nil
}

// checkpoint writes the state to Checkpoints/checkpoint, atomically (trainrun.ReplaceDir).
func (t *Trainer) checkpoint() error {
	return trainrun.ReplaceDir(filepath.Join(t.Checkpoints, CheckpointDir), func(tmp string) error {
		if err := t.Model.saveState(filepath.Join(tmp, "state.safetensors")); err != nil {
			return err
		}
		return trainrun.WriteState(tmp, t.state)
	})
}

// build compiles nothing yet: it declares the training graph, one step of AdamW on the MSE
// between the U-Net's prediction and its target (the noise ε, or v = √ᾱ·ε − √(1−ᾱ)·x0, per the
// scheduler's prediction_type) on the autoencoder's scaled latents x0, the U-Net conditioned on
// the text encoder's last hidden states, both trained: what the pipeline's denoising call
// computes (TestTrainingMatchesPipeline).
func (t *Trainer) build() error {
	m, s := t.Model, t.Settings
	sched, err := schedule.NewSchedule(m.Config.Scheduler)
	if err != nil {
		return err
	}
	t.exec = hostexec.New(m.backend, m.store, "basemodel: training step", func(scope *model.Scope, in []*Node) []*Node {
		x0, ids, noise, ts, lr := in[0], in[1], in[2], in[3], in[4]
		pred, target := m.forward(scope, sched, x0, ids, noise, ts)
		loss := ReduceAllMean(Square(Sub(pred, target)))
		norm := adamW(scope, loss, lr, 0.9, 0.999, 1e-8, s.WeightDecay, s.MaxGradNorm, s.EMADecay)
		return []*Node{loss, norm}
	})
	return nil
}

// forward is the training step's prediction and target: x0 [B, h, w, c] (scaled latents) noised
// to x_t at timesteps ts [B] with noise, the prompt ids [B, MaxLength] through the text encoder's
// last hidden states, and the U-Net's prediction of the scheduler's prediction_type: ε, or
// v = √ᾱ·ε − √(1−ᾱ)·x0.
func (m *Model) forward(scope *model.Scope, sched *schedule.Schedule, x0, ids, noise, ts *Node) (pred, target *Node) {
	ctxt := clip.TextTransformer(scope.In("text_model"), m.Config.Text, ids, nil).LastHidden
	ac := schedule.AlphasCumprodConst(x0.Graph(), sched)
	xt, target := schedule.AddNoiseGraph(ac, x0, noise, ts), noise
	if m.Config.Scheduler.PredictionType == "v_prediction" {
		target = schedule.VelocityGraph(ac, x0, noise, ts)
	}
	return m.UNet.Forward(scope.In("unet"), xt, ts, ctxt), target
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
// wrapping ctx's. The next batch is drawn while the current step runs.
func (t *Trainer) Run(ctx context.Context) error {
	s := t.Settings
	if s.Batch <= 0 || s.Steps < 0 {
		return fmt.Errorf("basemodel: batch %d, steps %d", s.Batch, s.Steps)
	}
	t.state.Settings = s
	if t.exec == nil {
		if err := t.build(); err != nil {
			return err
		}
	}
	numTrain := t.Model.Config.Scheduler.NumTrainTimesteps
	if t.Data.Mean == nil {
		return fmt.Errorf("basemodel: the data set has no latents: run Dataset.Encode first")
	}
	ls := t.Data.LatentShape
	l := len(t.Data.EmptyIDs)
	start, from, before := time.Now(), t.state.Step, t.state.Seconds
	loop := trainrun.Loop[Batch]{Name: "basemodel", Steps: s.Steps, Every: t.CheckpointEvery,
		Draw: func(step int) (Batch, error) {
			return t.Data.Batch(s.Seed, step, s.Batch, s.CaptionDrop, numTrain), nil
		},
		Train: func(step int, b Batch) error {
			lr := s.LearningRateAt(step)
			t0 := time.Now()
			outs, err := t.exec.Call(
				tensors.FromFlatDataAndDimensions(b.X0, s.Batch, ls[0], ls[1], ls[2]),
				tensors.FromFlatDataAndDimensions(b.IDs, s.Batch, l),
				tensors.FromFlatDataAndDimensions(b.Noise, s.Batch, ls[0], ls[1], ls[2]),
				tensors.FromFlatDataAndDimensions(b.T, s.Batch),
				tensors.FromScalar(float32(lr)))
			if err != nil {
				return fmt.Errorf("basemodel: step %d: %w", step, err)
			}
			loss := tensors.MustCopyFlatData[float32](outs[0])[0]
			norm := tensors.MustCopyFlatData[float32](outs[1])[0]
			for _, o := range outs {
				o.MustFinalizeAll()
			}
			dt := time.Since(t0)
			if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
				return fmt.Errorf("basemodel: step %d: loss %v", step, loss)
			}
			t.state.Step++
			t.state.Seconds = before + time.Since(start).Seconds()
			t.state.Losses = append(t.state.Losses, loss)
			if t.Progress != nil {
				t.Progress(Progress{Step: t.state.Step, Steps: s.Steps, Loss: float64(loss), GradNorm: float64(norm),
					LearningRate: lr, StepTime: dt, Elapsed: time.Since(start), Done: t.state.Step - from})
			}
			return nil
		},
	}
	if t.Checkpoints != "" {
		loop.Checkpoint = t.checkpoint
	}
	return loop.Run(ctx, t.state.Step)
}
