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

	"github.com/gorpo/gorpo/diffusion"
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
	p, err := prepare(o)
	if err != nil {
		return err
	}
	release, err := p.claimOut()
	if err != nil {
		return err
	}
	defer release()

	pipe, embedder, closeModels, err := p.loadModels()
	if err != nil {
		return err
	}
	defer closeModels()

	// The first trainer, checked before any image is drawn (Resume builds its own; the others of
	// --compare are built on a fresh copy of the base model when their turn comes).
	t := &trainings{o: p.o, embedder: embedder, photos: p.photos, log: p.log, stdout: stdout}
	hooks := rpo.Hooks{OnStep: func(step int, _ rpo.Losses) {
		if p.o.onStep != nil {
			p.o.onStep(step)
		}
	}}
	t.common = []rpo.TrainerOption{rpo.Logger(p.log), rpo.WithHooks(hooks), rpo.PlotRewardCurve(rporeport.WriteRewardCurvePNG)}
	var trainer *rpo.Trainer
	if !p.o.Resume {
		if trainer, err = t.newTrainer(p.jobs[0].s, pipe); err != nil {
			return err
		}
	}

	ev, closeJudge, err := p.evaluation(ctx, embedder, stdout)
	if err != nil {
		return err
	}
	defer closeJudge()
	t.ev = ev
	fmt.Fprintln(stdout, headline(p.o, p.s, len(p.photos)))

	base, err := p.drawBefore(ctx, ev, pipe, stdout)
	if err != nil {
		return err
	}

	// Training, an objective at a time, each from the base weights.
	rep := newReport(p.o, p.s, p.photoPaths, ev, base)
	if p.toy != nil {
		rep.Inputs.Subject = p.toy.subject.Name
		if p.o.Reward == "" {
			rep.Inputs.Reward = "the toy reward model (internal/toyworld/rewardmodel, embedded)"
		}
	}
	for k, j := range p.jobs {
		if k > 0 {
			fmt.Fprintf(p.log, "compare: objective %s (%d of %d), from the base model\n", j.s.cfg.Objective, k+1, len(p.jobs))
			if pipe, err = loadPipeline(p.o.Model, p.s.cfg.Precision); err != nil {
				return fmt.Errorf("%s: %w", modelFlag(p.o, p.toy), err)
			}
			if trainer, err = t.newTrainer(j.s, pipe); err != nil {
				return err
			}
		}
		res, tuned, err := t.train(ctx, j, pipe, trainer, p.s.out)
		if err != nil {
			return err
		}
		rep.add(p.o, j.s, res, tuned)
	}
	rep.Seconds = time.Since(start).Seconds()
	if err := rep.write(filepath.Join(p.s.out, reportFile)); err != nil {
		return err
	}
	if err := rep.writeMarkdown(filepath.Join(p.s.out, reportMD)); err != nil {
		return err
	}
	if p.o.Compare {
		printCompare(stdout, p.s, rep, time.Since(start))
	} else {
		r := rep.Runs[0]
		printSummary(stdout, p.jobs[0].s, r.result, ev, base, r.Run.scores, time.Since(start))
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
