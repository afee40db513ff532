package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/examples/internal/imagesize"
	"github.com/gorpo/gorpo/internal/toyworld/basemodel"
	"github.com/gorpo/gorpo/internal/toyworld/judge"
	"github.com/gorpo/gorpo/internal/toyworld/rewardmodel"
	"github.com/gorpo/gorpo/rpo"
	"github.com/gorpo/gorpo/rpo/report"
)

// bench is one process's share of the benchmark, set up.
type bench struct {
	o     options
	src   source
	runs  []runSpec
	shard shard
	out   string
	cfg   rpo.Config     // the settings every run shares; Class, Objective, λ_val set per run
	gen   rpo.Generation // Height, Width 0 until a pipeline says its default
	j     judges
	log   io.Writer
	// loadPipe loads a fresh copy of the base model (every fine-tune starts from the base weights).
	loadPipe func() (*diffusion.Pipeline, error)
}

// summary is what a shard did.
type summary struct {
	ran, skipped, failed, busy int
	failures                   []string
}

// run runs o's shard of the bench, then writes the tables of everything in the output folder;
// with --table-only it only writes the tables. Progress goes to o.log, the summary and the
// tables' location to stdout. A failed run is recorded and the next one starts; a cancelled ctx
// stops the shard after the current training step (the error then wraps context.Canceled).
func run(ctx context.Context, o options, stdout io.Writer) (*summary, error) {
	b, err := setup(o)
	if err != nil {
		return nil, err
	}
	var sum *summary
	if !o.TableOnly {
		if sum, err = b.runShard(ctx, stdout); err != nil {
			return sum, err
		}
	}
	t, err := buildTable(b.out, b.src, b.runs, o.Toy)
	if err != nil {
		return sum, err
	}
	if err := t.write(b.out); err != nil {
		return sum, err
	}
	fmt.Fprintf(stdout, "dreambench: tables of %s (%d of %d results): %s, %s\n", b.out, t.Finished, t.Expected,
		filepath.Join(b.out, tableMD), filepath.Join(b.out, tableJSON))
	if len(t.Missing) > 0 {
		fmt.Fprintf(stdout, "  missing: %s\n", strings.Join(t.Missing, ", "))
	}
	return sum, nil
}

// setup checks the options, with every error naming its flag, and loads the judges (not the
// base model: each run loads its own copy).
func setup(o options) (*bench, error) {
	if o.getenv == nil {
		o.getenv = os.Getenv
	}
	b := &bench{o: o, log: o.log}
	if b.log == nil {
		b.log = os.Stderr
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case o.Toy && o.Data != "":
		bad("--toy and --data: choose one (the toy world's subjects, or a DreamBench folder)")
	case !o.Toy && o.Data == "":
		bad("--data DIR is required (a DreamBench-layout folder), or --toy for the toy world's subjects")
	}
	if o.Toy && o.Model != "" {
		bad("--toy and --model: the toy bench runs the toy base model (--base-model DIR for another one)")
	}
	if !o.Toy && o.BaseModel != "" {
		bad("--base-model is the toy world's (with --toy); give a Stable Diffusion folder as --model")
	}
	if !o.Toy && !o.TableOnly {
		for _, f := range []struct{ name, v, what string }{
			{"model", o.Model, "a Stable Diffusion folder in diffusers layout"},
			{"reward", o.Reward, "an ALIGN folder (kakaobrain/align-base): RPO's reward and the 0.3-Harmonic column"},
			{"dino", o.DINO, "a DINO ViT-S/16 folder (facebook/dino-vits16) for the DINO metric"},
			{"clip", o.CLIP, "a CLIP folder (openai/clip-vit-base-patch16) for CLIP-I and CLIP-T"},
		} {
			if f.v == "" {
				bad("--%s DIR is required: %s", f.name, f.what)
			}
		}
	}
	runs, err := parseRuns(o.Objectives, o.LambdaVal)
	if err != nil {
		errs = append(errs, err)
	}
	b.runs = runs
	if b.shard, err = resolveShard(o.Shard, o.Shards, o.getenv); err != nil {
		errs = append(errs, err)
	}
	if o.EvalPrompts < 1 || o.EvalImages < 1 {
		bad("--eval-prompts %d, --eval-images %d: want at least 1 of each", o.EvalPrompts, o.EvalImages)
	}
	if o.MaxImagePixels <= 0 {
		bad("--max-image-pixels %d: want a positive number of pixels", o.MaxImagePixels)
	}
	b.out = o.Out
	if b.out == "" {
		b.out = filepath.Join("out", map[bool]string{true: "dreambench-toy", false: "dreambench"}[o.Toy])
	}
	if st, err := os.Stat(b.out); err == nil && !st.IsDir() {
		bad("--out %s is a file: want a folder", b.out)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if errs = b.settings(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	keep := splitList(o.Subjects)
	if o.Toy {
		b.src, err = newToySource(keep)
	} else {
		b.src, err = newFolderSource(o.Data, keep, o.MaxImagePixels)
	}
	if err != nil {
		return nil, err
	}
	if o.TableOnly {
		return b, nil
	}
	return b, b.loadJudges()
}

// settings builds the configuration every run shares and checks it, as each run will use it.
func (b *bench) settings() []error {
	o := b.o
	cfg := rpo.DefaultConfig()
	cfg.Token, cfg.SubjectPrompt, cfg.LoRARank, cfg.Steps, cfg.BatchSize = o.Token, o.SubjectPrompt, o.LoRA, o.Steps, o.Batch
	cfg.LearningRate, cfg.LambdaTrain, cfg.Beta, cfg.ValidateEvery, cfg.Seed = o.LR, o.LambdaTrain, o.Beta, o.ValidateEvery, o.Seed
	cfg.ImagesPerPrompt, cfg.ValidationImagesPerPrompt, cfg.NumClassImages = o.ImagesPerPrompt, o.ValImages, o.ClassImages
	b.cfg = cfg
	var errs []error
	for _, r := range b.runs {
		if r.Objective == "" {
			continue
		}
		c := cfg
		c.Class, c.Objective, c.LambdaVal = "subject", r.Objective, r.LambdaVal
		if err := c.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", r.Name, err))
		}
	}
	h, w, err := imagesize.Parse(o.Size)
	if err != nil {
		errs = append(errs, err)
	}
	b.gen = rpo.DefaultGeneration()
	b.gen.Steps, b.gen.Guidance, b.gen.Height, b.gen.Width = o.GenSteps, o.Guidance, h, w
	if b.gen.Steps < 1 {
		errs = append(errs, fmt.Errorf("--gen-steps %d: want at least 1", b.gen.Steps))
	}
	return errs
}

// loadJudges loads the reward and metric models and says how the base model is loaded.
func (b *bench) loadJudges() error {
	o := b.o
	var err error
	switch {
	case o.Reward != "":
		if b.j.align, err = align.LoadALIGN(o.Reward); err != nil {
			return fmt.Errorf("--reward: %w", err)
		}
	case o.Toy:
		if b.j.align, err = rewardmodel.Load(); err != nil {
			return fmt.Errorf("the toy reward model: %w", err)
		}
	}
	if o.DINO != "" {
		if b.j.dinoE, err = align.LoadDINO(o.DINO); err != nil {
			return fmt.Errorf("--dino: %w", err)
		}
	}
	if o.CLIP != "" {
		if b.j.clip, err = align.LoadCLIP(o.CLIP); err != nil {
			return fmt.Errorf("--clip: %w", err)
		}
	}
	if o.Toy {
		if b.j.judge, err = judge.Load(); err != nil {
			return fmt.Errorf("the toy judge: %w", err)
		}
	}
	b.loadPipe = func() (*diffusion.Pipeline, error) {
		switch {
		case !o.Toy:
			p, err := diffusion.LoadPipeline(o.Model)
			if err != nil {
				return nil, fmt.Errorf("--model: %w", err)
			}
			return p, nil
		case o.BaseModel != "":
			p, err := diffusion.LoadPipeline(o.BaseModel)
			if err != nil {
				return nil, fmt.Errorf("--base-model: %w", err)
			}
			return p, nil
		}
		p, err := basemodel.Load()
		if err != nil {
			return nil, fmt.Errorf("the shipped toy base model: %w", err)
		}
		return p, nil
	}
	return nil
}

// job is one (subject, run) of this shard.
type job struct {
	subject string
	run     runSpec
}

func (j job) String() string { return j.subject + "/" + j.run.Name }

// runShard runs this shard's jobs in order, subject by subject, and prints a summary.
func (b *bench) runShard(ctx context.Context, stdout io.Writer) (*summary, error) {
	names := b.shard.pick(b.src.names())
	var jobs []job
	for _, n := range names {
		for _, r := range b.runs {
			jobs = append(jobs, job{n, r})
		}
	}
	fmt.Fprintf(stdout, "dreambench: %s, %s: %d subjects (%s) × %d runs (%s) into %s\n", b.src.describe(), b.shard,
		len(names), strings.Join(names, ", "), len(b.runs), runNames(b.runs), b.out)
	sum := &summary{}
	p := newProgress(b.log, len(jobs))
	var sub *subject
	for k, jb := range jobs {
		if ctx.Err() != nil {
			b.printSummary(stdout, sum, jobs[k:])
			return sum, ctx.Err()
		}
		dir := filepath.Join(b.out, jb.subject, jb.run.Name)
		prev, err := readResult(dir)
		if err != nil {
			fmt.Fprintf(b.log, "dreambench: %s: unreadable %s (%v): running it again\n", jb, resultFile, err)
		}
		if prev != nil && prev.Status == statusOK {
			p.line(k, jb, "finished earlier: skipped")
			p.skip()
			sum.skipped++
			continue
		}
		if sub == nil || sub.Name != jb.subject {
			if sub, err = b.src.load(jb.subject, b.cfg.Token); err != nil {
				sub = nil
				b.fail(stdout, sum, dir, jb, err)
				p.done(k)
				continue
			}
			if err := b.references(ctx, sub); err != nil && ctx.Err() == nil {
				fmt.Fprintf(b.log, "dreambench: %s: reference-vs-reference row: %v\n", jb.subject, err)
			}
		}
		res, err := b.runJob(ctx, jb, sub, dir, p, k)
		switch {
		case errors.Is(err, rpo.ErrLocked):
			p.line(k, jb, fmt.Sprintf("in use by another process, skipped: %v", err))
			sum.busy++
		case err != nil && ctx.Err() != nil:
			p.line(k, jb, "interrupted: the next run of this command resumes it")
			b.printSummary(stdout, sum, jobs[k:])
			return sum, fmt.Errorf("%s: %w", jb, ctx.Err())
		case err != nil:
			b.fail(stdout, sum, dir, jb, err)
		default:
			sum.ran++
			p.done(k)
			p.line(k, jb, "done: "+brief(res))
			continue
		}
		p.done(k)
	}
	b.printSummary(stdout, sum, nil)
	return sum, nil
}

// fail records a failed run in its result.json (the tables show its error) and goes on.
func (b *bench) fail(stdout io.Writer, sum *summary, dir string, jb job, cause error) {
	sum.failed++
	sum.failures = append(sum.failures, fmt.Sprintf("%s: %v", jb, cause))
	fmt.Fprintf(stdout, "dreambench: %s failed: %v\n", jb, cause)
	r := &result{Subject: jb.subject, Run: jb.run.Name, Objective: objectiveOf(jb.run), Status: statusFailed, Error: cause.Error()}
	if err := writeJSON(filepath.Join(dir, resultFile), r); err != nil {
		fmt.Fprintf(stdout, "dreambench: %s: recording the failure: %v\n", jb, err)
	}
}

func objectiveOf(r runSpec) string {
	if r.Objective == "" {
		return baseRun
	}
	return string(r.Objective)
}

func (b *bench) printSummary(stdout io.Writer, sum *summary, notRun []job) {
	fmt.Fprintf(stdout, "dreambench: %s: %d ran, %d skipped (finished earlier), %d failed", b.shard, sum.ran, sum.skipped, sum.failed)
	if sum.busy > 0 {
		fmt.Fprintf(stdout, ", %d in use by another process", sum.busy)
	}
	if len(notRun) > 0 {
		fmt.Fprintf(stdout, ", %d not run (interrupted)", len(notRun))
	}
	fmt.Fprintln(stdout)
	for _, f := range sum.failures {
		fmt.Fprintln(stdout, "  failed:", f)
	}
}

// runJob fine-tunes (or resumes) one run of sub into dir, or for the base run loads the base
// model, then draws and scores the evaluation images and writes grid.png and result.json.
func (b *bench) runJob(ctx context.Context, jb job, sub *subject, dir string, p *progress, k int) (*result, error) {
	release, err := rpo.LockOutDir(dir)
	if err != nil {
		return nil, err
	}
	defer release()
	start := time.Now()
	pipe, err := b.loadPipe()
	if err != nil {
		return nil, err
	}
	gen := b.gen
	if gen.Height == 0 {
		if gen.Height, gen.Width, err = pipe.DefaultSize(); err != nil {
			return nil, fmt.Errorf("--size: %w", err)
		}
	}
	res := &result{Subject: sub.Name, Run: jb.run.Name, Objective: objectiveOf(jb.run), Class: sub.Class, Live: sub.Live}
	if jb.run.Objective != "" {
		l := jb.run.LambdaVal
		if jb.run.Objective.EarlyStopping() {
			res.LambdaVal = &l
		}
		if err := b.train(ctx, jb, sub, dir, pipe, gen, res, p, k); err != nil {
			return nil, err
		}
	}
	p.line(k, jb, fmt.Sprintf("evaluating: %d prompts × %d images", min(b.o.EvalPrompts, len(sub.prompts)), b.o.EvalImages))
	ev := newEvaluation(sub, b.o.EvalPrompts, b.o.EvalImages, gen, b.cfg.Seed, b.cfg.Token)
	images, err := ev.generate(ctx, pipe)
	if err != nil {
		return nil, fmt.Errorf("evaluation images: %w", err)
	}
	if res.Prompts, res.Metrics, err = ev.score(ctx, b.j, sub, images); err != nil {
		return nil, err
	}
	res.Images = len(images)
	if err := writeGrid(filepath.Join(dir, gridFile), sub.photos, images, ev.per, gen.Height, gen.Width); err != nil {
		return nil, err
	}
	res.Status = statusOK
	res.Seconds = time.Since(start).Seconds()
	return res, writeJSON(filepath.Join(dir, resultFile), res)
}

// config is the rpo configuration of run r on sub.
func (b *bench) config(r runSpec, sub *subject) rpo.Config {
	cfg := b.cfg
	cfg.Class, cfg.Live, cfg.Objective, cfg.LambdaVal = sub.Class, sub.Live, r.Objective, r.LambdaVal
	cfg.TrainingTemplates = sub.templates
	if !b.o.explicit["subject-prompt"] {
		cfg.ReferencePrompts = sub.refPrompts
	}
	return cfg
}

// train fine-tunes pipe in dir, or resumes the run there; pipe then holds the kept weights.
func (b *bench) train(ctx context.Context, jb job, sub *subject, dir string, pipe *diffusion.Pipeline, gen rpo.Generation, res *result, p *progress, k int) error {
	cfg := b.config(jb.run, sub)
	hooks := rpo.Hooks{OnStep: func(step int, _ rpo.Losses) {
		if b.o.onStep != nil {
			b.o.onStep(jb.subject, jb.run.Name, step)
		}
	}}
	opts := []rpo.TrainerOption{rpo.Logger(b.log), rpo.WithHooks(hooks), rpo.PlotRewardCurve(report.WriteRewardCurvePNG)}
	var r *rpo.Result
	var err error
	if _, statErr := os.Stat(filepath.Join(dir, rpo.RunFile)); statErr == nil {
		if err := sameSettings(dir, cfg); err != nil {
			return err
		}
		p.line(k, jb, "resuming the run in "+dir)
		res.Resumed = true
		r, err = rpo.Resume(ctx, dir, pipe, b.j.align, sub.photos, append(opts, rpo.WithGeneration(gen))...)
	} else {
		p.line(k, jb, fmt.Sprintf("training: %s, %d steps", cfg.Objective, cfg.Steps))
		var t *rpo.Trainer
		if t, err = rpo.NewTrainer(cfg, pipe, b.j.align, sub.photos, append(opts, rpo.OutDir(dir), rpo.WithGeneration(gen))...); err != nil {
			return err
		}
		r, err = t.Run(ctx)
	}
	if err != nil {
		return err
	}
	res.StepsTrained, res.BestStep, res.Weights = r.StepsTrained, r.BestStep, r.WeightsDir
	if r.BestStep > 0 {
		br := r.BestReward
		res.BestReward = &br
	}
	return nil
}

// sameSettings checks that the run in dir was started with cfg: a resumed run keeps the
// settings it was started with, so a rerun with other flags must not pass it off as theirs.
func sameSettings(dir string, cfg rpo.Config) error {
	path := filepath.Join(dir, rpo.RunFile)
	var rec struct {
		Config rpo.Config `json:"config"`
	}
	if err := readJSON(path, &rec); err != nil {
		return err
	}
	if rec.Config.Hash() == cfg.Hash() {
		return nil
	}
	var was, now map[string]any
	a, _ := json.Marshal(rec.Config)
	c, _ := json.Marshal(cfg)
	_ = json.Unmarshal(a, &was)
	_ = json.Unmarshal(c, &now)
	var diff []string
	for k, v := range now {
		if fmt.Sprint(v) != fmt.Sprint(was[k]) {
			diff = append(diff, fmt.Sprintf("%s %v (was %v)", k, v, was[k]))
		}
	}
	slices.Sort(diff)
	return fmt.Errorf("%s was started with other settings (%s): a run resumes with its own; rerun with the flags it was started with, or delete %s to start it over",
		path, strings.Join(diff, "; "), dir)
}

// references writes sub's reference-vs-reference row once (when DINO or CLIP is loaded).
func (b *bench) references(ctx context.Context, sub *subject) error {
	if b.j.dinoE == nil && b.j.clip == nil {
		return nil
	}
	path := filepath.Join(b.out, sub.Name, referencesFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	m, err := referenceScores(ctx, b.j, sub.photos)
	if err != nil {
		return err
	}
	return writeJSON(path, referenceRow{Subject: sub.Name, Photos: len(sub.photos), Metrics: m})
}

func runNames(runs []runSpec) string {
	var s []string
	for _, r := range runs {
		s = append(s, r.Name)
	}
	return strings.Join(s, ", ")
}

// brief is a finished run's headline numbers.
func brief(r *result) string {
	var parts []string
	for _, k := range metricOrder {
		if v, ok := r.Metrics[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.3f", metricTitle[k], v))
		}
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" (%.0f s)", r.Seconds)
}

// progress prints one line per job and phase with the ETA of the shard's remaining jobs,
// estimated from the time the jobs that ran (not the skipped ones) took.
type progress struct {
	w       io.Writer
	total   int
	start   time.Time
	ran     int // jobs that ran to an end (done or failed)
	ended   int // the index of the last job that ended, -1 before
	skipped int
	elapsed time.Duration
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, start: time.Now(), ended: -1}
}

func (p *progress) skip() { p.skipped++ }

// done marks the current job ended (done or failed).

func (p *progress) done(k int) {
	p.ran++
	p.ended = k
	p.elapsed = time.Since(p.start)
}

func (p *progress) line(k int, jb job, what string) {
	eta := "ETA unknown until a run ends"
	if p.ran > 0 {
		left := p.total - k // this job and the ones after it
		if p.ended == k {
			left--
		}
		per := p.elapsed / time.Duration(p.ran)
		eta = "ETA " + (per * time.Duration(left)).Round(time.Second).String() + " for this shard"
	}
	fmt.Fprintf(p.w, "dreambench: [%d/%d] %s: %s (%s elapsed, %s)\n", k+1, p.total, jb, what,
		time.Since(p.start).Round(time.Second), eta)
}
