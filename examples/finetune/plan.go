package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/internal/toyworld/judge"
	"github.com/gorpo/gorpo/internal/toyworld/rewardmodel"
	"github.com/gorpo/gorpo/reward"
	"github.com/gorpo/gorpo/rpo"
)

// runPlan is what run works from once the flags are read: the settings, the subject's photos
// and the objectives to train. Where the toy world and a real model differ (toy is set for the
// former), the difference stays inside the phases below.
type runPlan struct {
	o          options
	s          settings
	toy        *toySource // nil: a real model (--model) and the user's photos
	photos     []image.Image
	photoPaths []string // empty for the toy world's renders
	jobs       []job    // one per objective (several with --compare)
	log        io.Writer
}

// prepare checks the flags, reads the photos (or renders the toy subject) and the settings a
// --resume continues with, and lists the training jobs. Nothing is loaded or written yet.
func prepare(o options) (*runPlan, error) {
	if err := compareConflicts(o); err != nil {
		return nil, err
	}
	p := &runPlan{log: o.log}
	if p.log == nil {
		p.log = os.Stderr
	}
	if o.toy() {
		var err error
		if p.toy, o, err = toySetup(o); err != nil {
			return nil, err
		}
	} else if err := modelConflicts(o); err != nil {
		return nil, err
	}
	p.o = o
	s, err := settingsOf(o)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(s.out); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("--out %s is a file: want a folder (a new one, or a run's folder)", s.out)
	}
	s.compare = o.Compare
	if p.toy != nil {
		p.photos, p.photoPaths = p.toy.photos, []string{}
		s.cfg.TrainingTemplates = p.toy.templates
	} else if p.photos, p.photoPaths, err = loadPhotos(o.SubjectDir, o.MaxImagePixels); err != nil {
		return nil, err
	}
	if s.cfg.ReferencePrompts, err = referencePrompts(o.ReferencePrompts, p.toy, len(p.photos)); err != nil {
		return nil, err
	}
	if o.Resume {
		if s, err = resumeSettings(s, o.explicit); err != nil {
			return nil, err
		}
	}
	p.s = s
	if p.jobs, err = trainingJobs(o, s); err != nil {
		return nil, err
	}
	return p, nil
}

// claimOut locks the output folder against another run and checks, before anything is loaded
// or drawn, each job's folder: a --resume checkpoint whole, no earlier run overwritten unasked,
// and a reward model for the objectives that need one.
func (p *runPlan) claimOut() (release func(), err error) {
	release, err = rpo.LockOutDir(p.s.out)
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	for _, j := range p.jobs {
		if err := p.checkJob(j); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

func (p *runPlan) checkJob(j job) error {
	latest := filepath.Join(j.s.out, rpo.LatestCheckpoint)
	if p.o.Resume && exists(latest) {
		if _, err := rpo.VerifyCheckpoint(latest); err != nil {
			return fmt.Errorf("--resume: %w (start over with --overwrite)", err)
		}
	}
	if !p.o.Resume && !p.o.Overwrite && exists(filepath.Join(j.s.out, rpo.RunFile)) {
		return fmt.Errorf("--out %s holds an earlier run: --resume continues it, --overwrite starts a new one", j.s.out)
	}
	if p.o.Reward == "" && p.toy == nil && (j.s.cfg.Objective.Preference() || j.s.cfg.ValidateEvery > 0) {
		return fmt.Errorf("--reward DIR is required: objective %s uses the ALIGN reward to %s", j.s.cfg.Objective,
			map[bool]string{true: "label preferences and validate", false: "validate (--validate-every 0 turns validation off)"}[j.s.cfg.Objective.Preference()])
	}
	return nil
}

// loadModels loads the base model (and sets the image size from it unless --size gave one) and
// the embedder that scores images: --reward's ALIGN, the toy reward model, or none.
func (p *runPlan) loadModels() (pipe *diffusion.Pipeline, embedder reward.Embedder, closeAll func(), err error) {
	pipe, err = loadPipeline(p.o.Model, p.s.cfg.Precision)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", modelFlag(p.o, p.toy), err)
	}
	for _, note := range pipe.Notes {
		fmt.Fprintln(p.log, "model:", note)
	}
	if p.s.gen.Height == 0 {
		if p.s.gen.Height, p.s.gen.Width, err = pipe.DefaultSize(); err != nil {
			return nil, nil, nil, fmt.Errorf("--model: %w (give --size)", err)
		}
	}
	for i := range p.jobs {
		p.jobs[i].s.gen = p.s.gen
	}
	switch {
	case p.o.Reward != "":
		a, err := align.LoadALIGN(p.o.Reward)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--reward: %w", err)
		}
		return pipe, a, a.Finalize, nil
	case p.toy != nil:
		a, err := rewardmodel.Load()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("toy reward model: %w", err)
		}
		return pipe, a, a.Finalize, nil
	}
	return pipe, nil, func() {}, nil
}

// evaluation sets up before.png's and after.png's prompts and scoring: DreamBench's prompts (the
// toy world's, graded by its judge too), and the reward's scorer against the photos when there
// is an embedder.
func (p *runPlan) evaluation(ctx context.Context, embedder reward.Embedder, stdout io.Writer) (ev *evaluation, closeJudge func(), err error) {
	var allPrompts []string
	var intents []toyworld.Intent
	if p.toy != nil {
		allPrompts, intents, err = p.toy.evaluationPrompts(p.s.cfg.Token)
	} else {
		allPrompts, err = rpo.EvaluationPrompts(p.s.cfg.Live, p.s.cfg.Token, p.s.cfg.Class)
	}
	if err != nil {
		return nil, nil, err
	}
	if ev, err = newEvaluation(p.s.cfg, p.s.gen, allPrompts, p.o.EvalPrompts, p.o.EvalImages, p.photos); err != nil {
		return nil, nil, err
	}
	closeJudge = func() {}
	if p.toy != nil {
		j, err := judge.Load()
		if err != nil {
			return nil, nil, fmt.Errorf("toy judge: %w", err)
		}
		closeJudge = j.Finalize
		picked := make([]toyworld.Intent, len(ev.picked))
		for i, k := range ev.picked {
			picked[i] = intents[k]
		}
		ev.fidelity = p.toy.fidelity(j, picked, ev.ImagesPerPrompt)
	}
	if embedder != nil {
		if ev.scorer, err = reward.NewScorer(ctx, embedder, p.photos, reward.WithTokens(subjectTokens(p.s.cfg.Token)...)); err != nil {
			closeJudge()
			return nil, nil, interrupted(ctx, stdout, p.s, err)
		}
	}
	return ev, closeJudge, nil
}

// drawBefore draws and scores before.png with the base model. An earlier run's after images and
// report go first: they would describe other weights until this run rewrites them.
func (p *runPlan) drawBefore(ctx context.Context, ev *evaluation, pipe *diffusion.Pipeline, stdout io.Writer) (*scores, error) {
	if err := os.MkdirAll(p.s.out, 0o755); err != nil {
		return nil, err
	}
	stale := []string{reportFile, reportMD}
	for _, j := range p.jobs {
		stale = append(stale, j.after)
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(p.s.out, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	before, err := ev.generate(ctx, pipe, beforeFile, p.log)
	if err != nil {
		return nil, interrupted(ctx, stdout, p.s, err)
	}
	if err := ev.writeGrid(filepath.Join(p.s.out, beforeFile), before); err != nil {
		return nil, err
	}
	base, err := ev.score(ctx, before)
	if err != nil {
		return nil, interrupted(ctx, stdout, p.s, err)
	}
	return base, nil
}
