package rpo

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/preference"
	"github.com/gorpo/gorpo/reward"
	"github.com/gorpo/gorpo/schedule"
)

// Trainer runs one RPO fine-tune (or one of the paper's comparisons, by Config.Objective): the
// set-up, the steps, the validations and the checkpoints, all under OutDir. See the package
// documentation for the method and Run for the order of work.
//
// A full fine-tune trains the pipeline's U-Net in place (its Store gains the frozen copy
// BaseUNetScope and AdamW's state under DefaultOptimizerScope); with Config.LoRARank > 0 only
// LoRA adapters train (under LoRAScope), attached to the U-Net. Either way the pipeline samples
// the current weights, which is how validation works, and after Run it holds the kept weights.
// During a run the U-Net computes in Config.Precision (see Precision); Run restores its earlier
// compute dtype when it returns.
//
// Concurrency: a Trainer runs one Run or Resume at a time (a second concurrent call returns an
// error at once), and while it runs it owns the pipeline and its U-Net's Store: nothing else may
// use the pipeline until Run returns. Hooks run on the training goroutine. Two Trainers (or two
// processes) must not share an OutDir: Run takes a lock file there (OutDir/.lock) and refuses a
// folder another live run holds. The embedder may be shared with other goroutines if its own
// documentation allows it (align's ALIGN, CLIP and DINO models do).
type Trainer struct {
	cfg        Config
	pipe       *diffusion.Pipeline
	embedder   reward.Embedder
	references []image.Image
	opts       trainerOptions
	gen        Generation // opts.gen with the image size resolved
	prompts    struct {
		training, validation []string
		class                string
		refs                 []string // the prompt of each reference photo (ReferencePrompts)
	}
	prediction string
	sched      *schedule.Schedule

	mu       sync.Mutex // one Run at a time
	restart  bool       // Resume of a run that left no checkpoint: start over in its OutDir
	runModel string     // the model key recorded in run.json (Resume)
}

// trainerRun is one Run or Resume: the Trainer's configuration, embedded and only read, and the
// state of the run in progress, which lives as long as the call (the training loop's own state,
// what latest/ records, is runState).
type trainerRun struct {
	*Trainer
	rep        *reporter
	graphs     *graphCounter // since the last phase boundary
	counts     GraphCounts   // the graphs compiled so far, by phase
	modelKey   string
	step       int
	lastLoss   float64
	lastReward float64
	finiteAt   int // the step whose trained weights checkWeights last found finite (-1: none)
}

// newRun starts the state of a run.
func (t *Trainer) newRun() *trainerRun {
	return &trainerRun{Trainer: t, rep: newReporter(t.opts.logger, t.opts.display, t.opts.progress),
		graphs: newGraphCounter(), lastLoss: math.NaN(), lastReward: math.NaN(), finiteAt: -1}
}

// Result is what a run achieved.
type Result struct {
	Objective Objective
	// StepsTrained is the number of optimiser steps taken, a resumed run's earlier ones included.
	StepsTrained int
	// BestStep and BestReward are the best validation (0 and NaN when there was none).
	BestStep   int
	BestReward float64
	// Rewards are all validations, in order.
	Rewards []RewardPoint
	// Seconds is the wall time of this call.
	Seconds float64
	// BestDir is the checkpoint of the best validation (OutDir/best), "" when there was none.
	BestDir string
	// FinalDir holds the last weights for objectives without early stopping (OutDir/final).
	FinalDir string
	// WeightsDir is the checkpoint of the kept weights: BestDir for objectives with early
	// stopping, FinalDir for the others. Its unet/ is a diffusers U-Net folder (or, for LoRA,
	// its pytorch_lora_weights.safetensors the adapters).
	WeightsDir string
	// StopReason says why training ended: "steps" (all Config.Steps taken), "patience"
	// (the StoppingPolicy asked to stop; by default after Config.Patience validations without a new
	// best) or "hook" (OnValidate returned true).
	StopReason string
	// Graphs are the graphs this call built and compiled, by phase. With the shapes of a run
	// fixed, the training steps compile one graph and the validations after the first none, so
	// the total does not grow with Steps or the number of validations (see GraphCounts).
	Graphs GraphCounts
}

// Why a run ended (Result.StopReason).
const (
	StopSteps    = "steps"
	StopPatience = "patience"
	StopHook     = "hook"
)

// NewTrainer checks everything a run needs before anything is written: the configuration
// (Config.Validate: λ in [0, 1], every prompt template with the {V} placeholder, …), the
// pipeline's parts and its prediction type (ε or v), the image size, the reference photos (at
// least one, none empty), the embedder (needed to label pairs and to validate) and the options.
// It returns every problem it finds, joined.
func NewTrainer(cfg Config, pipe *diffusion.Pipeline, embedder reward.Embedder, references []image.Image, opts ...TrainerOption) (*Trainer, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	o, err := buildTrainerOptions(opts)
	if err != nil {
		errs = append(errs, err)
	}
	switch {
	case pipe == nil:
		errs = append(errs, errors.New("rpo: nil pipeline, want the base model to fine-tune"))
	case pipe.UNet == nil || pipe.TextEncoder == nil || pipe.Tokenizer == nil:
		errs = append(errs, errors.New("rpo: the pipeline lacks its U-Net, text encoder or tokenizer"))
	}
	if embedder == nil && (cfg.Objective.Preference() || cfg.ValidateEvery > 0) {
		errs = append(errs, fmt.Errorf("rpo: nil embedder: objective %q needs one to %s", cfg.Objective,
			map[bool]string{true: "label the pairs and validate", false: "validate"}[cfg.Objective.Preference()]))
	}
	if len(references) == 0 {
		errs = append(errs, errors.New("rpo: no reference images: want at least one photo of the subject"))
	}
	for i, img := range references {
		if isNilImage(img) {
			errs = append(errs, fmt.Errorf("rpo: reference image %d is nil", i))
		} else if img.Bounds().Empty() {
			errs = append(errs, fmt.Errorf("rpo: reference image %d is empty (bounds %v)", i, img.Bounds()))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	t := &Trainer{cfg: cfg, pipe: pipe, embedder: embedder, references: references, opts: o, gen: o.gen}
	if t.prompts.training, err = TrainingPrompts(cfg); err != nil {
		return nil, err
	}
	if t.prompts.validation, err = ValidationPrompts(cfg); err != nil {
		return nil, err
	}
	if t.prompts.refs, err = ReferencePrompts(cfg, len(references)); err != nil {
		return nil, err
	}
	if cfg.Objective.ClassImages() {
		if t.prompts.class, err = ClassPrompt(cfg); err != nil {
			return nil, err
		}
	}
	t.prediction = pipe.Scheduler.PredictionType
	if t.prediction == "" {
		t.prediction = schedule.PredictEpsilon
	}
	if err := CheckPrediction(t.prediction); err != nil {
		return nil, err
	}
	if t.sched, err = schedule.NewSchedule(pipe.Scheduler); err != nil {
		return nil, fmt.Errorf("rpo: the pipeline's noise schedule: %w", err)
	}
	if t.gen.Height == 0 {
		if t.gen.Height, t.gen.Width, err = pipe.DefaultSize(); err != nil {
			return nil, fmt.Errorf("rpo: %w", err)
		}
	}
	f := pipe.ScaleFactor() << max(len(pipe.UNet.Config().BlockOutChannels)-1, 0)
	if t.gen.Height%f != 0 || t.gen.Width%f != 0 {
		return nil, fmt.Errorf("rpo: image size %d×%d, want multiples of %d (the VAE's scale factor times the U-Net's downsampling)",
			t.gen.Height, t.gen.Width, f)
	}
	return t, nil
}

// Config returns the run's configuration.
func (t *Trainer) Config() Config { return t.cfg }

// OutDir returns the folder the run writes to.
func (t *Trainer) OutDir() string { return t.opts.outDir }

// Run fine-tunes the model:
//
//  1. Set-up. The base pipeline generates I_gen, ImagesPerPrompt images for each training prompt
//     from fixed seeds (DreamBooth: NumClassImages class images from the class prompt), or reads
//     them from the cache; the Scorer rates the references and I_gen at λ_train and
//     preference.PairsPerPrompt pairs them (OutDir/setup.json). The reference photos are resized
//     and centre-cropped to the image size; every image is VAE-encoded once (its posterior kept,
//     a fresh sample taken each step) and every prompt embedded once by the frozen text encoder.
//  2. Steps. Each takes Config.BatchSize pairs in a seeded shuffled order (labels redrawn per
//     visit), draws a noise and a timestep per image, and runs one compiled graph: ε_θ and ε_base
//     on the noised images, the objective's loss, AdamW on the trained variables (see stepper).
//     Each step appends to metrics.jsonl and calls Hooks.OnStep.
//  3. Validations, every ValidateEvery steps: generate, score at λ_val, EarlyStopping.Observe; a
//     new best writes OutDir/best; then OnValidate (which may stop the run) and OnBest; the image
//     grid, metrics.jsonl and (with PlotRewardCurve) reward_curve.png are updated and
//     OutDir/latest written.
//  4. The end: objectives without early stopping write their last weights to OutDir/final; the
//     pipeline is left holding the kept weights (the best ones for early stopping).
//
// ctx is checked before every step and while generating: a cancelled run writes OutDir/latest
// (the state after its last complete step; OutDir/best is never touched) and returns an error
// wrapping ctx.Err(). Resume continues it.
//
// A run that diverges stops at the first step whose loss or gradient norm is NaN or ±Inf, or at
// the first checkpoint whose trained weights hold such values, with an error wrapping
// ErrNonFinite (a *NonFiniteError naming the step): nothing more is written, latest/ keeps the
// last state with finite weights and best/ is never given non-finite weights. The pipeline's
// U-Net is then left as the diverged step made it; load the checkpoint to use it.
//
// Run refuses an OutDir that holds an earlier run (its run.json) unless the Overwrite option is
// given.
func (t *Trainer) Run(ctx context.Context) (*Result, error) {
	return t.run(ctx, nil)
}

// runState is what the training loop carries, and what latest/ records.
type runState struct {
	policy         StoppingPolicy // decides best and stop (WithStopping; EarlyStopping by default)
	es             *EarlyStopping // the run's record of the policy's decisions, for checkpoints and metrics
	sampler        *preference.Sampler
	noise          *rand.PCG
	rewards        []RewardPoint
	validated      int
	finished       bool
	stopReason     string
	lastLatest     int  // the step latest/ was last written at (-1: never)
	latestFinished bool // whether that checkpoint says the run finished
}

func (t *Trainer) run(ctx context.Context, rp *resumePoint) (res *Result, err error) {
	if !t.mu.TryLock() {
		return nil, errors.New("rpo: this Trainer is already running")
	}
	defer t.mu.Unlock()
	return t.newRun().execute(ctx, rp)
}

// execute is Run (rp nil) or Resume.
func (t *trainerRun) execute(ctx context.Context, rp *resumePoint) (res *Result, err error) {
	start := time.Now()
	cfg, out := t.cfg, t.opts.outDir
	defer t.rep.finish()

	// The output folder (locked against other processes) and the base model's identity.
	release, err := LockOutDir(out)
	if err != nil {
		return nil, err
	}
	defer release()
	if rp == nil && !t.restart {
		if _, err := os.Stat(filepath.Join(out, RunFile)); err == nil {
			if !t.opts.overwrite {
				return nil, fmt.Errorf("rpo: %s holds an earlier run (%s): Resume it, or give Overwrite()", out, RunFile)
			}
			if err := removeRunOutputs(out); err != nil {
				return nil, err
			}
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("rpo: %w", err)
	}
	if t.modelKey, err = modelKey(t.pipe, t.opts.modelID); err != nil {
		return nil, err
	}
	if t.runModel != "" && t.runModel != t.modelKey {
		return nil, fmt.Errorf("rpo: resume: the pipeline's base model differs from the one the run in %s started from", out)
	}
	if rp == nil {
		info := runInfo{Format: runFormat, Config: cfg, ConfigHash: cfg.Hash(), Generation: t.gen, Model: t.modelKey}
		if err := writeJSONFile(filepath.Join(out, RunFile), info); err != nil {
			return nil, fmt.Errorf("rpo: %w", err)
		}
	}

	// The U-Net computes in the run's precision, I_gen's sampling included.
	restorePrecision, err := useUNetPrecision(t.pipe.UNet, cfg.Precision)
	if err != nil {
		return nil, err
	}
	defer restorePrecision()
	defer useGradientCheckpointing(t.pipe.UNet, cfg.GradientCheckpointing)()

	// Set-up: images, rewards, pairs, encodings.
	setupStart := time.Now()
	d, err := t.setup(ctx)
	t.counts.SetUp += t.graphs.since()
	if err != nil {
		return nil, t.wrapCancel(ctx, err)
	}
	t.rep.logf("set-up done in %s: %d reference images, %d training images; %d×%d, objective %s; %d graphs compiled",
		time.Since(setupStart).Round(time.Millisecond), len(d.data.refs), len(d.data.others), t.gen.Height, t.gen.Width, cfg.Objective, t.counts.SetUp)

	// The trained model and the run's state.
	m := &trainedModel{unet: t.pipe.UNet}
	store := t.pipe.UNet.Store()
	defer m.release() // after the step's graph is freed (deferred below)
	st := &runState{es: NewEarlyStopping(0), sampler: d.plan.sampler,
		noise: rand.NewPCG(cfg.Seed, deriveSeed(cfg.Seed, saltNoise)), lastLatest: -1}
	if rp == nil {
		if err := store.DeleteVariablesInScope(DefaultOptimizerScope); err != nil {
			return nil, fmt.Errorf("rpo: clearing the optimiser state: %w", err)
		}
	}
	if cfg.LoRARank > 0 {
		if m.lora, err = NewLoRA(t.pipe.UNet, cfg.LoRARank, cfg.LoRAAlpha, deriveSeed(cfg.Seed, saltLoRA)); err != nil {
			return nil, err
		}
		if err := m.lora.Attach(); err != nil {
			return nil, err
		}
	} else if cfg.Objective.Preference() {
		if err := m.copyBase(cfg.Precision); err != nil {
			return nil, err
		}
	}
	if rp != nil {
		latest := filepath.Join(out, LatestCheckpoint)
		if err := m.load(latest); err != nil {
			return nil, fmt.Errorf("rpo: resume: %w", err)
		}
		if err := LoadCheckpointOptimizer(latest, store, DefaultOptimizerScope); err != nil {
			return nil, fmt.Errorf("rpo: resume: %w", err)
		}
		if err := st.sampler.UnmarshalBinary(rp.state.SamplerRNG); err != nil {
			return nil, fmt.Errorf("rpo: resume: %w", err)
		}
		if err := pcgFromWords(st.noise, rp.state.GraphRNG); err != nil {
			return nil, fmt.Errorf("rpo: resume: %w", err)
		}
		st.es = rp.state.EarlyStopping(0)
		st.rewards = fromRewardJSON(rp.trainer.Rewards)
		st.validated, st.finished = rp.trainer.ValidatedStep, rp.trainer.Finished
		if st.finished {
			st.stopReason = rp.trainer.StopReason
		}
		st.lastLatest, st.latestFinished = rp.state.Step, rp.trainer.Finished
		t.step = rp.state.Step
		if n := len(st.rewards); n > 0 {
			t.lastReward = st.rewards[n-1].Reward
		}
		t.rep.logf("resuming %s at step %d of %d", out, t.step, cfg.Steps)
	}
	resumed := CheckpointState{BestReward: math.Inf(-1)}
	if rp != nil {
		resumed = rp.state
	}
	if st.policy = t.opts.stopping(cfg, resumed); st.policy == nil {
		return nil, errors.New("rpo: WithStopping: the policy function returned nil")
	}

	// Observability.
	metricsPath := filepath.Join(out, MetricsFile)
	var metrics *MetricsWriter
	if rp == nil {
		metrics, err = CreateMetrics(metricsPath)
	} else {
		metrics, err = ResumeMetrics(metricsPath, t.step)
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := metrics.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	stepper, err := newStepper(cfg, m, t.sched, t.prediction)
	if err != nil {
		return nil, err
	}
	defer stepper.finalize()
	rng := rand.New(st.noise)
	withOthers, withLabels := stepper.withOthers, stepper.withLabels

	// A finished run only reports.
	if st.finished {
		return t.finish(m, st, start)
	}

	// A validation interrupted before the checkpoint: redo it.
	if cfg.ValidateEvery > 0 && t.step > 0 && t.step%cfg.ValidateEvery == 0 && st.validated < t.step {
		if err := t.validateStep(ctx, m, d, st, metrics); err != nil {
			return nil, t.cancelled(ctx, m, st, err)
		}
	}

	t.rep.begin(PhaseTrain, "step", t.step, cfg.Steps)
	for t.step < cfg.Steps && st.stopReason == "" {
		if err := ctx.Err(); err != nil {
			return nil, t.cancelled(ctx, m, st, err)
		}
		visits, err := d.plan.step(t.step + 1)
		if err != nil {
			return nil, err
		}
		b := d.data.makeBatch(visits, withOthers, withLabels, rng)
		r, err := stepper.run(b, d.data.shape, d.data.embShape)
		if err != nil {
			return nil, err
		}
		if err := t.checkStep(t.step+1, r, st.lastLatest); err != nil {
			// The step's update is in the weights now: write nothing more.
			t.rep.finish()
			t.rep.logf("%v", err)
			return nil, err
		}
		t.step++
		t.lastLoss = r.losses.Total()
		if err := metrics.WriteStep(StepMetrics{Step: t.step, Losses: r.losses, LearningRate: r.lr, GradNorm: r.gradNorm}); err != nil {
			return nil, err
		}
		t.opts.hooks.Step(t.step, r.losses)
		t.rep.update(ProgressEvent{Phase: PhaseTrain, Done: t.step, Total: cfg.Steps, Step: t.step, Loss: t.lastLoss, Reward: t.lastReward})
		if cfg.ValidateEvery > 0 && t.step%cfg.ValidateEvery == 0 {
			t.rep.finish()
			if err := t.validateStep(ctx, m, d, st, metrics); err != nil {
				return nil, t.cancelled(ctx, m, st, err)
			}
			if st.stopReason == "" && t.step < cfg.Steps {
				t.rep.begin(PhaseTrain, "step", t.step, cfg.Steps)
			}
		}
	}
	t.rep.finish()
	if st.stopReason == "" {
		st.stopReason = StopSteps
	}
	st.finished = st.stopReason != StopHook
	if t.step != st.lastLatest || st.finished != st.latestFinished {
		if err := t.writeLatest(m, st); err != nil {
			return nil, err
		}
	}
	return t.finish(m, st, start)
}

// validateStep validates at the current step and writes what follows from it: the best
// checkpoint, the hooks' calls, the grid, metrics, the curve and latest/.
func (t *trainerRun) validateStep(ctx context.Context, m *trainedModel, d *runData, st *runState, metrics *MetricsWriter) error {
	cfg, out, step := t.cfg, t.opts.outDir, t.step
	t.counts.Train += t.graphs.since()
	v, err := t.validate(ctx, d.scorer, step)
	t.counts.Validation += t.graphs.since()
	if err != nil {
		return err
	}
	// Weights gone NaN or Inf are never validated into best/ (nor written to latest/).
	if err := t.finiteWeights(m, st); err != nil {
		return err
	}
	// From here on the validation completes: no cancellation point until latest/ is written.
	best, stop := st.policy.Observe(step, v.reward)
	st.es.record(step, v.reward, best)
	st.rewards = append(st.rewards, RewardPoint{Step: step, Reward: v.reward})
	t.lastReward = v.reward
	t.rep.logf("validation at step %d: reward %.4f%s", step, v.reward, map[bool]string{true: " (best)", false: ""}[best])
	if best {
		state, err := t.checkpointState(st)
		if err != nil {
			return err
		}
		if err := WriteCheckpoint(filepath.Join(out, BestCheckpoint), CheckpointContents{State: state, Weights: m.save}); err != nil {
			return err
		}
	}
	hookStop := t.opts.hooks.Validate(step, v.reward, v.images)
	if best {
		t.opts.hooks.Best(step, v.reward)
	}
	grid := validationGridPath(out, step)
	if err := os.MkdirAll(filepath.Dir(grid), 0o755); err != nil {
		return fmt.Errorf("rpo: %w", err)
	}
	if err := WriteImageGrid(grid, v.images, cfg.ValidationImagesPerPrompt); err != nil {
		return err
	}
	if err := metrics.WriteValidation(ValidationMetrics{Step: step, Reward: v.reward, PromptRewards: v.promptRewards,
		Best: best, BestStep: st.es.BestStep, BestReward: st.es.BestReward, Graphs: t.counts.Total()}); err != nil {
		return err
	}
	if err := t.writeCurve(st.rewards); err != nil {
		return err
	}
	st.validated = step
	switch {
	case stop:
		st.stopReason = StopPatience
		t.rep.logf("stopping at step %d: %d validations without a new best", step, st.es.SinceBest)
	case hookStop:
		st.stopReason = StopHook
		t.rep.logf("stopping at step %d: OnValidate asked to", step)
	}
	st.finished = st.stopReason == StopPatience || (st.stopReason == "" && step >= cfg.Steps)
	if st.finished && st.stopReason == "" {
		st.stopReason = StopSteps
	}
	return t.writeLatest(m, st)
}

// finiteWeights checks the trained weights at the current step (once per step) before they are
// written anywhere; a *NonFiniteError when they hold NaN or Inf, logged.
func (t *trainerRun) finiteWeights(m *trainedModel, st *runState) error {
	if t.finiteAt == t.step {
		return nil
	}
	if err := t.checkWeights(m, st.lastLatest); err != nil {
		t.rep.logf("%v", err)
		return err
	}
	t.finiteAt = t.step
	return nil
}

// checkpointState is the CheckpointState of the run now.
func (t *trainerRun) checkpointState(st *runState) (CheckpointState, error) {
	s := CheckpointState{Step: t.step, ConfigHash: t.cfg.Hash()}
	s.SetEarlyStopping(st.es)
	var err error
	if s.SamplerRNG, err = st.sampler.MarshalBinary(); err != nil {
		return s, fmt.Errorf("rpo: saving the label sampler: %w", err)
	}
	if s.GraphRNG, err = pcgWords(st.noise); err != nil {
		return s, err
	}
	return s, nil
}

// writeLatest writes OutDir/latest: weights, optimiser state, RNG states and trainer.json.
func (t *trainerRun) writeLatest(m *trainedModel, st *runState) error {
	if t.step == 0 {
		return nil // nothing trained: no optimiser state to save, and nothing to resume
	}
	if err := t.finiteWeights(m, st); err != nil {
		return err
	}
	state, err := t.checkpointState(st)
	if err != nil {
		return err
	}
	tc := trainerCheckpoint{Format: runFormat, ValidatedStep: st.validated, Rewards: toRewardJSON(st.rewards),
		Finished: st.finished, StopReason: st.stopReason, LoRA: m.lora != nil}
	err = WriteCheckpoint(filepath.Join(t.opts.outDir, LatestCheckpoint), CheckpointContents{
		State: state,
		Weights: func(dir string) error {
			if err := m.save(dir); err != nil {
				return err
			}
			return writeJSONFile(filepath.Join(dir, trainerStateFile), tc)
		},
		Optimizer:      t.pipe.UNet.Store(),
		OptimizerScope: DefaultOptimizerScope,
	})
	if err != nil {
		return err
	}
	st.lastLatest, st.latestFinished = t.step, st.finished
	return nil
}

// cancelled handles an error inside the loop: when the context is done, it writes latest/ (the
// state after the last complete step) and returns an error wrapping ctx.Err().
func (t *trainerRun) cancelled(ctx context.Context, m *trainedModel, st *runState, err error) error {
	if ctx.Err() == nil {
		return err
	}
	t.rep.finish()
	if t.step != st.lastLatest {
		if werr := t.writeLatest(m, st); werr != nil {
			return fmt.Errorf("rpo: cancelled at step %d, and writing the latest checkpoint failed: %v: %w", t.step, werr, ctx.Err())
		}
	}
	t.rep.logf("cancelled at step %d; %s holds the state to resume", t.step, filepath.Join(t.opts.outDir, LatestCheckpoint))
	if errors.Is(err, ctx.Err()) {
		return fmt.Errorf("rpo: cancelled at step %d: %w", t.step, err)
	}
	return fmt.Errorf("rpo: cancelled at step %d: %w", t.step, ctx.Err())
}

// wrapCancel makes an error of a cancelled set-up wrap ctx.Err().
func (t *trainerRun) wrapCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%v: %w", err, ctx.Err())
	}
	return err
}

// finish writes the final weights (objectives without early stopping), leaves the kept weights in
// the pipeline and returns the Result.
func (t *trainerRun) finish(m *trainedModel, st *runState, start time.Time) (*Result, error) {
	cfg, out := t.cfg, t.opts.outDir
	t.counts.Train += t.graphs.since()
	res := &Result{Objective: cfg.Objective, StepsTrained: t.step, Rewards: rewardsCopy(st.rewards), StopReason: st.stopReason,
		Graphs: t.counts}
	res.BestStep, res.BestReward = bestOf(st.rewards)
	bestDir := filepath.Join(out, BestCheckpoint)
	if st.es.HasBest && m.hasWeights(bestDir) {
		res.BestDir = bestDir
	}
	if cfg.Objective.EarlyStopping() && res.BestDir != "" {
		res.WeightsDir = res.BestDir
		if err := m.load(res.BestDir); err != nil {
			return nil, fmt.Errorf("rpo: restoring the best weights: %w", err)
		}
	} else {
		finalDir := filepath.Join(out, FinalCheckpoint)
		if !m.hasWeights(finalDir) || !sameStep(finalDir, t.step) {
			if err := t.finiteWeights(m, st); err != nil {
				return nil, err
			}
			state, err := t.checkpointState(st)
			if err != nil {
				return nil, err
			}
			if err := WriteCheckpoint(finalDir, CheckpointContents{State: state, Weights: m.save}); err != nil {
				return nil, err
			}
		}
		res.FinalDir, res.WeightsDir = finalDir, finalDir
	}
	if err := t.writeCurve(st.rewards); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	t.rep.logf("done: %d steps (%s), best validation %s; weights in %s; graphs compiled: %s", t.step, res.StopReason,
		describeBest(res), res.WeightsDir, res.Graphs)
	return res, nil
}

// sameStep reports whether the checkpoint in dir was written at step.
func sameStep(dir string, step int) bool {
	s, err := LoadCheckpointState(dir)
	return err == nil && s.Step == step
}

func describeBest(r *Result) string {
	if math.IsNaN(r.BestReward) {
		return "none"
	}
	return fmt.Sprintf("%.4f at step %d", r.BestReward, r.BestStep)
}

// removeRunOutputs removes an earlier run's outputs from dir (not its cache).
func removeRunOutputs(dir string) error {
	for _, name := range []string{RunFile, SetupFile, MetricsFile, "reward_curve.png", "validation",
		BestCheckpoint, FinalCheckpoint, LatestCheckpoint,
		"." + BestCheckpoint + ".old", "." + FinalCheckpoint + ".old", "." + LatestCheckpoint + ".old"} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("rpo: removing the earlier run: %w", err)
		}
	}
	return nil
}

// runData is the prepared set-up of a run.
type runData struct {
	data   *trainData
	plan   *plan
	scorer *reward.Scorer
}

// setup prepares everything the steps and validations draw from (see Run, step 1).
func (t *trainerRun) setup(ctx context.Context) (*runData, error) {
	cfg := t.cfg
	d := &runData{data: &trainData{numTimesteps: t.sched.NumTrainTimesteps(), scale: 1}}
	if cfg.Objective.Preference() || cfg.ValidateEvery > 0 {
		var err error
		if d.scorer, err = reward.NewScorer(ctx, t.embedder, t.references, reward.WithTokens(cfg.Token)); err != nil {
			return nil, fmt.Errorf("rpo: %w", err)
		}
	}

	var others *imageSet
	var pairs []preference.Pair
	switch {
	case cfg.Objective.Preference():
		prompts := t.prompts.training
		set, err := t.generateCached(ctx, "generated", PhaseGenerate, prompts, cfg.ImagesPerPrompt,
			seedsFor(cfg.Seed, saltGenerated, len(prompts)*cfg.ImagesPerPrompt))
		if err != nil {
			return nil, err
		}
		var report *setupReport
		if pairs, report, err = t.buildPairs(ctx, d.scorer, set); err != nil {
			return nil, err
		}
		if err := writeJSONFile(filepath.Join(t.opts.outDir, SetupFile), report); err != nil {
			return nil, fmt.Errorf("rpo: %w", err)
		}
		others = set
	case cfg.Objective.ClassImages():
		set, err := t.generateCached(ctx, "class", PhaseClassImages, []string{t.prompts.class}, cfg.NumClassImages,
			seedsFor(cfg.Seed, saltClass, cfg.NumClassImages))
		if err != nil {
			return nil, err
		}
		if err := writeJSONFile(filepath.Join(t.opts.outDir, SetupFile), setupReport{
			LambdaTrain: cfg.LambdaTrain, Prompts: t.prompts.training, ClassImages: len(set.Images), ClassImageDir: set.Dir,
		}); err != nil {
			return nil, fmt.Errorf("rpo: %w", err)
		}
		others = set
	}

	// Pixels, latents and prompt embeddings.
	h, w := t.gen.Height, t.gen.Width
	pixels := make([][]float32, len(t.references))
	for i, img := range t.references {
		px, err := prepareImage(img, h, w)
		if err != nil {
			return nil, fmt.Errorf("rpo: reference image %d: %w", i, err)
		}
		pixels[i] = px
	}
	var err error
	if d.data.refs, d.data.shape, err = encodeImages(ctx, t.pipe, pixels, h, w); err != nil {
		return nil, err
	}
	if others != nil {
		pixels = make([][]float32, len(others.Images))
		for i, img := range others.Images {
			if pixels[i], err = prepareImage(img, h, w); err != nil {
				return nil, fmt.Errorf("rpo: image %d of %s: %w", i, others.Dir, err)
			}
		}
		if d.data.others, _, err = encodeImages(ctx, t.pipe, pixels, h, w); err != nil {
			return nil, err
		}
	}
	if t.pipe.VAE != nil {
		d.data.scale = float32(t.pipe.VAE.ScalingFactor())
	}
	prompts := append(slices.Clone(t.prompts.refs), t.prompts.training...)
	if t.prompts.class != "" {
		prompts = append(prompts, t.prompts.class)
	}
	if d.data.emb, d.data.embShape, err = embedPrompts(ctx, t.pipe, prompts); err != nil {
		return nil, err
	}
	numOthers := 0
	if others != nil {
		numOthers = len(others.Images)
	}
	d.plan = newPlan(cfg, pairs, t.prompts.refs, t.prompts.class, t.prompts.training, numOthers)
	return d, nil
}
