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
// write report.json and report.md. With --base-model (the toy path, toySetup) the subject,
// references and training prompts come from the toy world, the embedder is the toy reward model
// unless --reward is given, and the judge grades the evaluation images. The outcome is printed
// on stdout, progress on o.log. A cancelled ctx stops the run after its current step; the error
// then wraps context.Canceled, after run has printed where the checkpoints are.
func run(ctx context.Context, o options, stdout io.Writer) error {
	start := time.Now()
	if o.Model == "" && o.BaseModel == "" {
		return errNoModel
	}
	log := o.log
	if log == nil {
		log = os.Stderr
	}
	var toy *toySource
	if o.BaseModel != "" || o.Subject != "" {
		var err error
		if toy, o, err = toySetup(o); err != nil {
			return err
		}
	}
	s, err := settingsOf(o)
	if err != nil {
		return err
	}
	var photos []image.Image
	var photoPaths []string
	if toy != nil {
		photos, photoPaths = toy.photos, []string{}
		s.cfg.TrainingTemplates = toy.templates
	} else if photos, photoPaths, err = loadPhotos(o.SubjectDir); err != nil {
		return err
	}
	_, statErr := os.Stat(filepath.Join(s.out, rpo.RunFile))
	switch {
	case o.Resume:
		if s, err = resumeSettings(s, o.explicit); err != nil {
			return err
		}
	case statErr == nil && !o.Overwrite:
		return fmt.Errorf("--out %s holds an earlier run: --resume continues it, --overwrite starts a new one", s.out)
	}
	if o.Reward == "" && toy == nil && (s.cfg.Objective.Preference() || s.cfg.ValidateEvery > 0) {
		return fmt.Errorf("--reward DIR is required: objective %s uses the ALIGN reward to %s", s.cfg.Objective,
			map[bool]string{true: "label preferences and validate", false: "validate (--validate-every 0 turns validation off)"}[s.cfg.Objective.Preference()])
	}

	// The models.
	pipe, err := diffusion.LoadPipeline(o.Model)
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	for _, note := range pipe.Notes {
		fmt.Fprintln(log, "model:", note)
	}
	if s.gen.Height == 0 {
		if s.gen.Height, s.gen.Width, err = pipe.DefaultSize(); err != nil {
			return fmt.Errorf("--model: %w (give --size)", err)
		}
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

	// The trainer, checked before any image is drawn (Resume builds its own).
	hooks := rpo.Hooks{OnStep: func(step int, _ rpo.Losses) {
		if o.onStep != nil {
			o.onStep(step)
		}
	}}
	common := []rpo.TrainerOption{rpo.Logger(log), rpo.WithHooks(hooks)}
	var trainer *rpo.Trainer
	if !o.Resume {
		opts := append(common, rpo.OutDir(s.out), rpo.WithGeneration(s.gen))
		if o.Overwrite {
			opts = append(opts, rpo.Overwrite())
		}
		if trainer, err = rpo.NewTrainer(s.cfg, pipe, embedder, photos, opts...); err != nil {
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

	// Before: the base model. An earlier run's after.png and report.json go first: they would
	// describe other weights until this run rewrites them.
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return err
	}
	for _, name := range []string{afterFile, reportFile, reportMD} {
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

	// Training; afterwards the pipeline holds the kept weights.
	var res *rpo.Result
	if o.Resume {
		res, err = rpo.Resume(ctx, s.out, pipe, embedder, photos, common...)
	} else {
		res, err = trainer.Run(ctx)
	}
	if err != nil {
		return interrupted(ctx, stdout, s, err)
	}

	// After: the fine-tuned model, same prompts and seeds.
	after, err := ev.generate(ctx, pipe, afterFile, log)
	if err != nil {
		return interruptedAfter(ctx, stdout, res, err)
	}
	if err := ev.writeGrid(filepath.Join(s.out, afterFile), after); err != nil {
		return err
	}
	tuned, err := ev.score(ctx, after)
	if err != nil {
		return interruptedAfter(ctx, stdout, res, err)
	}

	rep := newReport(o, s, photoPaths, ev, res, base, tuned, time.Since(start))
	if toy != nil {
		rep.Inputs.Subject = toy.subject.Name
		if o.Reward == "" {
			rep.Inputs.Reward = "the toy reward model (internal/toyworld/rewardmodel, embedded)"
		}
	}
	if err := rep.write(filepath.Join(s.out, reportFile)); err != nil {
		return err
	}
	if err := rep.writeMarkdown(filepath.Join(s.out, reportMD)); err != nil {
		return err
	}
	printSummary(stdout, s, res, ev, base, tuned, time.Since(start))
	return nil
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
	verb := "fine-tuning"
	if o.Resume {
		verb = "resuming"
	}
	of := "photos"
	if o.Subject != "" {
		of = "renders of toy subject " + o.Subject + ","
	}
	return fmt.Sprintf("finetune: %s %s (%s) on %d %s %q: objective %s, %d steps, %d×%d images; writing to %s",
		verb, o.Model, what, photos, of, s.cfg.Token+" "+s.cfg.Class, s.cfg.Objective, s.cfg.Steps, s.gen.Width, s.gen.Height, s.out)
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
	fmt.Fprintln(stdout, "  run the same command with --resume to continue")
	return err
}

// interruptedAfter is interrupted for a cancellation after training finished.
func interruptedAfter(ctx context.Context, stdout io.Writer, res *rpo.Result, err error) error {
	if ctx.Err() == nil {
		return err
	}
	fmt.Fprintf(stdout, "finetune: interrupted while drawing %s; training is complete (%d steps), the weights are in %s\n",
		afterFile, res.StepsTrained, res.WeightsDir)
	fmt.Fprintf(stdout, "  run the same command with --resume to write %s and %s without training again\n", afterFile, reportFile)
	return err
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
