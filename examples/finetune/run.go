package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/internal/toyworld/judge"
	"github.com/gorpo/gorpo/internal/toyworld/rewardmodel"
	"github.com/gorpo/gorpo/reward"
	"github.com/gorpo/gorpo/rpo"
	rporeport "github.com/gorpo/gorpo/rpo/report"
)

// Files this program adds to the trainer's run folder.
const (
	beforeFile = "before.png"
	afterFile  = "after.png"
	reportFile = "report.json"
	reportMD   = "report.md"
)

// run fine-tunes as o says: check the flags and read the photos, load the models, draw
// before.png with the base model, train (or resume), draw after.png with the kept weights, and
// write report.json and report.md. Without --model (the toy path, toySetup) the subject,
// references and training prompts come from the toy world, the embedder is the toy reward model
// unless --reward is given, and the judge grades the evaluation images. With --compare it trains
// every objective of objectives in turn, each from the base weights in its own subfolder of
// --out, shares one before.png and base entry, writes after-<objective>.png for each and one
// report tabulating them all. The outcome is printed on stdout, progress on o.log. A cancelled
// ctx stops the run after its current step; the error then wraps context.Canceled, after run has
// printed where the checkpoints are.
func run(ctx context.Context, o options, stdout io.Writer) error {
	start := time.Now()
	if err := compareConflicts(o); err != nil {
		return err
	}
	log := o.log
	if log == nil {
		log = os.Stderr
	}
	var toy *toySource
	if o.toy() {
		var err error
		if toy, o, err = toySetup(o); err != nil {
			return err
		}
	} else if err := modelConflicts(o); err != nil {
		return err
	}
	s, err := settingsOf(o)
	if err != nil {
		return err
	}
	if st, err := os.Stat(s.out); err == nil && !st.IsDir() {
		return fmt.Errorf("--out %s is a file: want a folder (a new one, or a run's folder)", s.out)
	}
	s.compare = o.Compare
	var photos []image.Image
	var photoPaths []string
	if toy != nil {
		photos, photoPaths = toy.photos, []string{}
		s.cfg.TrainingTemplates = toy.templates
	} else if photos, photoPaths, err = loadPhotos(o.SubjectDir, o.MaxImagePixels); err != nil {
		return err
	}
	if s.cfg.ReferencePrompts, err = referencePrompts(o.ReferencePrompts, toy, len(photos)); err != nil {
		return err
	}
	if o.Resume {
		if s, err = resumeSettings(s, o.explicit); err != nil {
			return err
		}
	}
	jobs, err := trainingJobs(o, s)
	if err != nil {
		return err
	}
	// The output folder, locked against another run, and (--resume) its checkpoint, checked whole
	// before anything is loaded or drawn.
	release, err := rpo.LockOutDir(s.out)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	defer release()
	for _, j := range jobs {
		latest := filepath.Join(j.s.out, rpo.LatestCheckpoint)
		if o.Resume && exists(latest) {
			if _, err := rpo.VerifyCheckpoint(latest); err != nil {
				return fmt.Errorf("--resume: %w (start over with --overwrite)", err)
			}
		}
		if !o.Resume && !o.Overwrite && exists(filepath.Join(j.s.out, rpo.RunFile)) {
			return fmt.Errorf("--out %s holds an earlier run: --resume continues it, --overwrite starts a new one", j.s.out)
		}
		if o.Reward == "" && toy == nil && (j.s.cfg.Objective.Preference() || j.s.cfg.ValidateEvery > 0) {
			return fmt.Errorf("--reward DIR is required: objective %s uses the ALIGN reward to %s", j.s.cfg.Objective,
				map[bool]string{true: "label preferences and validate", false: "validate (--validate-every 0 turns validation off)"}[j.s.cfg.Objective.Preference()])
		}
	}

	// The models.
	pipe, err := loadPipeline(o.Model, s.cfg.Precision)
	if err != nil {
		return fmt.Errorf("%s: %w", modelFlag(o, toy), err)
	}
	for _, note := range pipe.Notes {
		fmt.Fprintln(log, "model:", note)
	}
	if s.gen.Height == 0 {
		if s.gen.Height, s.gen.Width, err = pipe.DefaultSize(); err != nil {
			return fmt.Errorf("--model: %w (give --size)", err)
		}
	}
	for i := range jobs {
		jobs[i].s.gen = s.gen
	}
	var embedder reward.Embedder
	if o.Reward != "" {
		a, err := align.LoadALIGN(o.Reward)
		if err != nil {
			return fmt.Errorf("--reward: %w", err)
		}
		defer a.Finalize()
		embedder = a
	} else if toy != nil {
		a, err := rewardmodel.Load()
		if err != nil {
			return fmt.Errorf("toy reward model: %w", err)
		}
		defer a.Finalize()
		embedder = a
	}

	// The first trainer, checked before any image is drawn (Resume builds its own; the others of
	// --compare are built on a fresh copy of the base model when their turn comes).
	t := &trainings{o: o, embedder: embedder, photos: photos, log: log, stdout: stdout}
	hooks := rpo.Hooks{OnStep: func(step int, _ rpo.Losses) {
		if o.onStep != nil {
			o.onStep(step)
		}
	}}
	t.common = []rpo.TrainerOption{rpo.Logger(log), rpo.WithHooks(hooks), rpo.PlotRewardCurve(rporeport.WriteRewardCurvePNG)}
	var trainer *rpo.Trainer
	if !o.Resume {
		if trainer, err = t.newTrainer(jobs[0].s, pipe); err != nil {
			return err
		}
	}
	var allPrompts []string
	var intents []toyworld.Intent
	if toy != nil {
		allPrompts, intents, err = toy.evaluationPrompts(s.cfg.Token)
	} else {
		allPrompts, err = rpo.EvaluationPrompts(s.cfg.Live, s.cfg.Token, s.cfg.Class)
	}
	if err != nil {
		return err
	}
	ev, err := newEvaluation(s.cfg, s.gen, allPrompts, o.EvalPrompts, o.EvalImages, photos)
	if err != nil {
		return err
	}
	t.ev = ev
	if toy != nil {
		j, err := judge.Load()
		if err != nil {
			return fmt.Errorf("toy judge: %w", err)
		}
		defer j.Finalize()
		picked := make([]toyworld.Intent, len(ev.picked))
		for i, k := range ev.picked {
			picked[i] = intents[k]
		}
		ev.fidelity = toy.fidelity(j, picked, ev.ImagesPerPrompt)
	}
	if embedder != nil {
		if ev.scorer, err = reward.NewScorer(ctx, embedder, photos, reward.WithTokens(subjectTokens(s.cfg.Token)...)); err != nil {
			return interrupted(ctx, stdout, s, err)
		}
	}
	fmt.Fprintln(stdout, headline(o, s, len(photos)))

	// Before: the base model. An earlier run's after images and report go first: they would
	// describe other weights until this run rewrites them.
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return err
	}
	stale := []string{reportFile, reportMD}
	for _, j := range jobs {
		stale = append(stale, j.after)
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(s.out, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	before, err := ev.generate(ctx, pipe, beforeFile, log)
	if err != nil {
		return interrupted(ctx, stdout, s, err)
	}
	if err := ev.writeGrid(filepath.Join(s.out, beforeFile), before); err != nil {
		return err
	}
	base, err := ev.score(ctx, before)
	if err != nil {
		return interrupted(ctx, stdout, s, err)
	}

	// Training, an objective at a time, each from the base weights.
	rep := newReport(o, s, photoPaths, ev, base)
	if toy != nil {
		rep.Inputs.Subject = toy.subject.Name
		if o.Reward == "" {
			rep.Inputs.Reward = "the toy reward model (internal/toyworld/rewardmodel, embedded)"
		}
	}
	for k, j := range jobs {
		if k > 0 {
			fmt.Fprintf(log, "compare: objective %s (%d of %d), from the base model\n", j.s.cfg.Objective, k+1, len(jobs))
			if pipe, err = loadPipeline(o.Model, s.cfg.Precision); err != nil {
				return fmt.Errorf("%s: %w", modelFlag(o, toy), err)
			}
			if trainer, err = t.newTrainer(j.s, pipe); err != nil {
				return err
			}
		}
		res, tuned, err := t.train(ctx, j, pipe, trainer, s.out)
		if err != nil {
			return err
		}
		rep.add(o, j.s, res, tuned)
	}
	rep.Seconds = time.Since(start).Seconds()
	if err := rep.write(filepath.Join(s.out, reportFile)); err != nil {
		return err
	}
	if err := rep.writeMarkdown(filepath.Join(s.out, reportMD)); err != nil {
		return err
	}
	if o.Compare {
		printCompare(stdout, s, rep, time.Since(start))
	} else {
		r := rep.Runs[0]
		printSummary(stdout, jobs[0].s, r.result, ev, base, r.Run.scores, time.Since(start))
	}
	return nil
}

// loadPipeline loads the base model with its U-Net computing in precision, so that before.png
// and after.png are drawn as the trainer samples (the trainer sets the same type for its run).
func loadPipeline(dir string, precision rpo.Precision) (*diffusion.Pipeline, error) {
	pipe, err := diffusion.LoadPipeline(dir)
	if err != nil {
		return nil, err
	}
	dtype, err := precision.DType()
	if err != nil {
		return nil, fmt.Errorf("--precision %s: %w", precision, err)
	}
	if err := pipe.UNet.SetComputeDType(dtype); err != nil {
		return nil, fmt.Errorf("--precision %s: %w", precision, err)
	}
	return pipe, nil
}

// modelFlag names the flag the base model came from: --model, or in the toy world --base-model
// (the shipped model when not given).
func modelFlag(o options, toy *toySource) string {
	switch {
	case toy == nil:
		return "--model"
	case o.explicit["base-model"]:
		return "--base-model"
	}
	return "the shipped toy base model"
}

// compareConflicts reports the flags --compare cannot go with.
func compareConflicts(o options) error {
	if !o.Compare {
		return nil
	}
	var errs []error
	if o.explicit["objective"] || o.Objective != defaultOptions().Objective {
		errs = append(errs, fmt.Errorf("--compare and --objective %s: choose one (--compare trains every objective in turn: %s)", o.Objective, compareNames()))
	}
	if o.Resume {
		errs = append(errs, errors.New("--compare and --resume: resuming a comparison is not supported yet (start it again, with --overwrite, or resume one objective's subfolder with --objective and --out)"))
	}
	return errors.Join(errs...)
}

// job is one objective's training: its settings (out is its run folder) and the file of its
// after images in the report's folder.
type job struct {
	s     settings
	after string
}

// trainingJobs are the trainings o asks for: the one objective of s, or with --compare every
// objective of objectives, each in the subfolder of s.out named by the objective (as report.json
// keys it).
func trainingJobs(o options, s settings) ([]job, error) {
	if !o.Compare {
		return []job{{s: s, after: afterFile}}, nil
	}
	var jobs []job
	var errs []error
	for _, ob := range objectives {
		js := s
		js.cfg.Objective = ob.obj
		js.out = filepath.Join(s.out, string(ob.obj))
		if err := js.cfg.Validate(); err != nil {
			for _, e := range flagErrors(err) {
				errs = append(errs, fmt.Errorf("--compare, objective %s: %w", ob.name, e))
			}
		}
		jobs = append(jobs, job{s: js, after: "after-" + string(ob.obj) + ".png"})
	}
	return jobs, errors.Join(errs...)
}

// trainings is what every training of a run shares: the options, the reward, the photos, the
// evaluation and the trainer's options.
type trainings struct {
	o        options
	embedder reward.Embedder
	photos   []image.Image
	ev       *evaluation
	common   []rpo.TrainerOption
	log      io.Writer
	stdout   io.Writer
}

// newTrainer builds the trainer of settings s on pipe.
func (t *trainings) newTrainer(s settings, pipe *diffusion.Pipeline) (*rpo.Trainer, error) {
	opts := append(append([]rpo.TrainerOption(nil), t.common...), rpo.OutDir(s.out), rpo.WithGeneration(s.gen))
	if t.o.Overwrite {
		opts = append(opts, rpo.Overwrite())
	}
	return rpo.NewTrainer(s.cfg, pipe, t.embedder, t.photos, opts...)
}

// train runs trainer (or resumes the run in j.s.out), after which pipe holds the kept weights,
// then draws the evaluation's images with them into dir/j.after and scores them.
func (t *trainings) train(ctx context.Context, j job, pipe *diffusion.Pipeline, trainer *rpo.Trainer, dir string) (*rpo.Result, *scores, error) {
	var res *rpo.Result
	var err error
	if t.o.Resume {
		res, err = rpo.Resume(ctx, j.s.out, pipe, t.embedder, t.photos, t.common...)
	} else {
		res, err = trainer.Run(ctx)
	}
	if err != nil {
		var nf *rpo.NonFiniteError
		if errors.As(err, &nf) {
			return nil, nil, diverged(j.s, nf)
		}
		return nil, nil, interrupted(ctx, t.stdout, j.s, err)
	}

	// After: the fine-tuned model, same prompts and seeds.
	after, err := t.ev.generate(ctx, pipe, j.after, t.log)
	if err != nil {
		return nil, nil, interruptedAfter(ctx, t.stdout, j.s, j.after, res, err)
	}
	if err := t.ev.writeGrid(filepath.Join(dir, j.after), after); err != nil {
		return nil, nil, err
	}
	tuned, err := t.ev.score(ctx, after)
	if err != nil {
		return nil, nil, interruptedAfter(ctx, t.stdout, j.s, j.after, res, err)
	}
	return res, tuned, nil
}

// subjectTokens are the tokens removed from prompts before ALIGN-T: the run's token and the
// scorer's defaults.
func subjectTokens(token string) []string {
	out := []string{token}
	for _, t := range []string{"[V]", "sks"} {
		if t != token {
			out = append(out, t)
		}
	}
	return out
}

// headline is the run's first line.
func headline(o options, s settings, photos int) string {
	what := "the whole U-Net"
	if s.cfg.LoRARank > 0 {
		what = fmt.Sprintf("LoRA rank %d", s.cfg.LoRARank)
	}
	if p := precisionName(s.cfg.Precision); p != string(rpo.PrecisionFP32) {
		what += ", " + p + " compute"
	}
	verb := "fine-tuning"
	if o.Resume {
		verb = "resuming"
	}
	of := "photos"
	if o.Subject != "" {
		of = "renders of toy subject " + o.Subject + ","
	}
	objective := "objective " + string(s.cfg.Objective)
	if o.Compare {
		objective = "comparing objectives " + compareNames()
	}
	return fmt.Sprintf("finetune: %s %s (%s) on %d %s %q: %s, %d steps, %d×%d images; writing to %s",
		verb, o.Model, what, photos, of, s.cfg.Token+" "+s.cfg.Class, objective, s.cfg.Steps, s.gen.Width, s.gen.Height, s.out)
}

// interrupted passes err on; when ctx was cancelled it first says where the run's checkpoints
// are: the best one (left intact) and the latest state, which --resume continues from.
func interrupted(ctx context.Context, stdout io.Writer, s settings, err error) error {
	if ctx.Err() == nil {
		return err
	}
	latest := filepath.Join(s.out, rpo.LatestCheckpoint)
	if st, lerr := rpo.LoadCheckpointState(latest); lerr == nil {
		fmt.Fprintf(stdout, "finetune: interrupted at step %d of %d; %s holds the state to resume from\n", st.Step, s.cfg.Steps, latest)
	} else {
		fmt.Fprintln(stdout, "finetune: interrupted before the first training step: nothing trained")
	}
	best := filepath.Join(s.out, rpo.BestCheckpoint)
	switch st, berr := rpo.LoadCheckpointState(best); {
	case berr == nil && st.HasBest:
		fmt.Fprintf(stdout, "  best checkpoint, intact: %s (step %d, validation reward %.4f)\n", best, st.BestStep, st.BestReward)
	case !exists(best):
		fmt.Fprintln(stdout, "  no validation yet, so no best checkpoint")
	default:
		fmt.Fprintf(stdout, "  best checkpoint %s: %v\n", best, berr)
	}
	if s.compare {
		fmt.Fprintln(stdout, "  --compare does not resume yet: run it again with --overwrite, or continue this objective alone with --objective, --out and --resume")
	} else {
		fmt.Fprintln(stdout, "  run the same command with --resume to continue")
	}
	return err
}

// diverged is the error of a run that stopped on a NaN or Inf loss, gradient norm or weights:
// what happened, what is on disk, and what to try. No after.png or report is written.
func diverged(s settings, nf *rpo.NonFiniteError) error {
	return fmt.Errorf("%w\n  best/ never holds non-finite weights; no after.png nor report was written"+
		"\n  try a lower --lr than %g (e.g. %.3g) with --overwrite; --resume would keep this run's --lr",
		nf, s.cfg.LearningRate, s.cfg.LearningRate/10)
}

// interruptedAfter is interrupted for a cancellation after training finished.
func interruptedAfter(ctx context.Context, stdout io.Writer, s settings, after string, res *rpo.Result, err error) error {
	if ctx.Err() == nil {
		return err
	}
	fmt.Fprintf(stdout, "finetune: interrupted while drawing %s; training is complete (%d steps), the weights are in %s\n",
		after, res.StepsTrained, res.WeightsDir)
	if !s.compare {
		fmt.Fprintf(stdout, "  run the same command with --resume to write %s and %s without training again\n", afterFile, reportFile)
	}
	return err
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
