// Command dreambench runs the RPO paper's evaluation protocol over a benchmark of subjects:
// for every subject and every requested objective it fine-tunes the model from its base
// weights, draws the 25 DreamBench evaluation prompts × 4 images, scores them with DINO, CLIP-I,
// CLIP-T and the 0.3-Harmonic reward exactly as package reward defines them (the official code's
// evaluation_metrics.py), and writes the paper's tables: per objective the mean ± std over
// subjects (Table 2's columns), a row per subject, the reference-vs-reference row, and a sweep
// over λ_val (Table 3).
//
//	go run ./examples/dreambench --data dreambooth/dataset --model stable-diffusion-v1-5 \
//	    --reward align-base --dino dino-vits16 --clip clip-vit-base-patch16 \
//	    --objectives rpo,dreambooth --lambda-val 0.5 --out out/dreambench
//
// --data is google/dreambooth's dataset folder (one folder of photos per subject; the 30
// subjects' classes and live/object split come from package rpo, any other subject folder names
// its class in class.txt), --model a diffusers Stable Diffusion folder, --reward an ALIGN folder,
// --dino and --clip transformers' ViTModel and CLIPModel folders for the metrics.
//
// Without --data, --toy runs the toy world's six built-in subjects through the same harness on
// the shipped toy models (the toy preset of settings, examples/internal/toypreset), with the
// toy world's judge's subject and prompt fidelity beside the reward's scores:
//
//	go run ./examples/dreambench --toy --out out/dreambench-toy
//
// Each (subject, run) is independent, written under --out/<subject>/<run>/: the rpo run folder,
// grid.png (the references, then a row per prompt) and result.json, written last and atomically.
// A rerun skips finished runs, resumes a cancelled or killed one from its latest checkpoint
// (rpo.Resume), and retries failed ones. A failed run does not stop the others: its error is in
// its result.json and in the tables.
//
// Many machines: --shard i/n runs every n-th subject from the i-th; without it, the index of a
// Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or a Slurm array task (SLURM_ARRAY_TASK_ID) is
// used with --shards n (Slurm: SLURM_ARRAY_TASK_COUNT). Every shard writes into the same --out
// (a shared file system) and, when it ends, the tables of whatever is there; --table-only
// merges the results into table.md and table.json without running anything, naming the subjects
// and runs that are missing.
//
// Ctrl-C or SIGTERM (a preempted pod) stops after the current training step; the run's latest
// checkpoint is saved and the next run of the same command resumes it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/gorpo/gorpo/examples/internal/flagpreset"
	"github.com/gorpo/gorpo/examples/internal/toypreset"
	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/rpo"
)

// options are the command line, parsed.
type options struct {
	Data, Model, BaseModel, Reward, DINO, CLIP string
	Toy                                        bool
	Subjects                                   string // comma list, "" for all
	Objectives                                 string // comma list
	LambdaVal                                  string // comma list
	Shard                                      string
	Shards                                     int
	Out                                        string
	TableOnly                                  bool

	Token, SubjectPrompt string
	LoRA, Steps, Batch   int
	LR, LambdaTrain      float64
	Beta                 float64
	ValidateEvery        int
	Seed                 uint64
	GenSteps             int
	Guidance             float64
	Size                 string
	ImagesPerPrompt      int
	ValImages            int
	ClassImages          int
	EvalPrompts          int
	EvalImages           int
	MaxImagePixels       int

	// Not flags.
	explicit map[string]bool
	log      io.Writer // progress (os.Stderr when nil)
	getenv   func(string) string
	onStep   func(subject, run string, step int) // after every optimiser step (tests)
}

func defaultOptions() options {
	cfg, gen := rpo.DefaultConfig(), rpo.DefaultGeneration()
	return options{
		Objectives: "rpo", LambdaVal: strconv.FormatFloat(cfg.LambdaVal, 'g', -1, 64),
		Token: cfg.Token, SubjectPrompt: cfg.SubjectPrompt, LoRA: cfg.LoRARank, Steps: cfg.Steps, Batch: cfg.BatchSize,
		LR: cfg.LearningRate, LambdaTrain: cfg.LambdaTrain, Beta: cfg.Beta, ValidateEvery: cfg.ValidateEvery, Seed: cfg.Seed,
		GenSteps: gen.Steps, Guidance: gen.Guidance, Size: "0",
		ImagesPerPrompt: cfg.ImagesPerPrompt, ValImages: cfg.ValidationImagesPerPrompt, ClassImages: cfg.NumClassImages,
		EvalPrompts: 25, EvalImages: 4, MaxImagePixels: imaging.DefaultMaxPixels,
	}
}

// toyObjectives are the toy bench's default runs: the base model, RPO and L_sim alone, which the
// toy table's checks compare.
const toyObjectives = "base,rpo,sim"

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("dreambench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dreambench --data DIR --model DIR --reward DIR --dino DIR --clip DIR [flags]")
		fmt.Fprintln(stderr, "       dreambench --toy [flags]          (the toy world's six subjects, shipped models)")
		fmt.Fprintln(stderr, "Fine-tunes every subject with every objective, scores DINO, CLIP-I, CLIP-T and the 0.3-Harmonic reward, and writes the paper's tables; see the package documentation.")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Data, "data", "", "DreamBench-layout folder: one folder of photos per subject (google/dreambooth's dataset/)")
	fs.BoolVar(&o.Toy, "toy", false, "the toy world's six built-in subjects on the shipped toy models, with the judge's fidelity")
	fs.StringVar(&o.Model, "model", "", "Stable Diffusion folder in diffusers layout")
	fs.StringVar(&o.BaseModel, "base-model", "", "with --toy: a toy base-model folder instead of the shipped one")
	fs.StringVar(&o.Reward, "reward", "", "ALIGN folder: RPO's reward and the 0.3-Harmonic column (with --toy: the embedded toy reward model when not given)")
	fs.StringVar(&o.DINO, "dino", "", "DINO ViT-S/16 folder (facebook/dino-vits16) for the DINO metric")
	fs.StringVar(&o.CLIP, "clip", "", "CLIP folder (openai/clip-vit-base-patch16) for the CLIP-I and CLIP-T metrics")
	fs.StringVar(&o.Subjects, "subjects", "", "comma-separated subjects to run (default every subject folder)")
	fs.StringVar(&o.Objectives, "objectives", o.Objectives, "comma-separated runs per subject: base (the base model, untrained), rpo, rpo-no-es, sim, sim-es, dreambooth, or all (default rpo; with --toy "+toyObjectives+")")
	fs.StringVar(&o.LambdaVal, "lambda-val", o.LambdaVal, "comma-separated λ_val of the validation reward that picks the kept weights, one run each for the objectives with early stopping (the paper's Table 1 uses 0.5; Table 3 sweeps 0.3,0.5,0.7)")
	fs.StringVar(&o.Shard, "shard", "", "i/n: run the i-th of n shares of the subjects (0-based)")
	fs.IntVar(&o.Shards, "shards", 0, "the number of shares when the index comes from "+envK8sIndex+" or "+envSlurmTask)
	fs.StringVar(&o.Out, "out", "", "output folder (default out/dreambench, with --toy out/dreambench-toy)")
	fs.BoolVar(&o.TableOnly, "table-only", false, "run nothing: merge the results in --out into table.md and table.json, naming what is missing")
	fs.StringVar(&o.Token, "token", o.Token, "unique token that names the subject in prompts")
	fs.StringVar(&o.SubjectPrompt, "subject-prompt", o.SubjectPrompt, "the prompt the reference photos are trained under ({V}: token, {class}: class word)")
	fs.IntVar(&o.LoRA, "lora", o.LoRA, "LoRA rank (0: the whole U-Net)")
	fs.IntVar(&o.Steps, "steps", o.Steps, "optimiser steps")
	fs.IntVar(&o.Batch, "batch", o.Batch, "pairs (or reference photos) per optimiser step")
	fs.Float64Var(&o.LR, "lr", o.LR, "AdamW learning rate")
	fs.Float64Var(&o.LambdaTrain, "lambda-train", o.LambdaTrain, "λ of the Harmonic reward that labels preference pairs")
	fs.Float64Var(&o.Beta, "beta", o.Beta, "β of the preference loss")
	fs.IntVar(&o.ValidateEvery, "validate-every", o.ValidateEvery, "steps between validations")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of every draw, the evaluation images' included")
	fs.IntVar(&o.GenSteps, "gen-steps", o.GenSteps, "denoising steps of every generated image")
	fs.Float64Var(&o.Guidance, "guidance", o.Guidance, "classifier-free guidance scale")
	fs.StringVar(&o.Size, "size", o.Size, "image size, N or WIDTHxHEIGHT (0: the model's default)")
	fs.IntVar(&o.ImagesPerPrompt, "images-per-prompt", o.ImagesPerPrompt, "images the base model generates per training prompt")
	fs.IntVar(&o.ValImages, "val-images", o.ValImages, "images per prompt at each validation")
	fs.IntVar(&o.ClassImages, "class-images", o.ClassImages, "DreamBooth's class images")
	fs.IntVar(&o.EvalPrompts, "eval-prompts", o.EvalPrompts, "evaluation prompts per subject (the paper: all 25)")
	fs.IntVar(&o.EvalImages, "eval-images", o.EvalImages, "images per evaluation prompt (the paper: 4)")
	fs.IntVar(&o.MaxImagePixels, "max-image-pixels", o.MaxImagePixels, "the largest reference photo read, in pixels")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: every setting is a flag (see -help)", fs.Arg(0))
	}
	o.explicit = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.explicit[f.Name] = true })
	if o.Toy {
		withToyPreset(fs, &o)
	}
	return o, nil
}

// withToyPreset sets the toy preset's flags (and the toy bench's objectives) that the command
// line did not give, through fs, the flags parsed into o.
func withToyPreset(fs *flag.FlagSet, o *options) {
	if !o.explicit["objectives"] {
		o.Objectives = toyObjectives
	}
	preset := toypreset.Flags()
	delete(preset, "reference-prompts") // the toy source captions each render; --subject-prompt turns it off
	flagpreset.Apply(fs, preset, o.explicit)
}

// runSpec is one run of each subject: an objective (none for the base model) and, for the
// objectives with early stopping, the λ_val that picks the kept weights.
type runSpec struct {
	Name      string
	Objective rpo.Objective // "" for the base model
	LambdaVal float64       // the validation reward's λ
	Swept     bool          // LambdaVal matters (the objective keeps the best-validated weights)
}

// baseRun is the run name (and --objectives entry) of the base model, evaluated untrained.
const baseRun = "base"

var objectiveNames = []struct {
	name string
	obj  rpo.Objective
}{
	{"rpo", rpo.ObjectiveRPO}, {"rpo-no-es", rpo.ObjectiveRPONoEarlyStopping}, {"sim", rpo.ObjectiveSim},
	{"sim-es", rpo.ObjectiveSimEarlyStopping}, {"dreambooth", rpo.ObjectiveDreamBooth},
}

// parseRuns turns --objectives and --lambda-val into the runs of every subject, in order.
func parseRuns(objectives, lambdas string) ([]runSpec, error) {
	var ls []float64
	for _, f := range splitList(lambdas) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("--lambda-val %q: %q is not a λ in [0, 1]", lambdas, f)
		}
		if !slices.Contains(ls, v) {
			ls = append(ls, v)
		}
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("--lambda-val %q: want at least one λ in [0, 1] (0.3, or 0.3,0.5,0.7)", lambdas)
	}
	names := splitList(objectives)
	if slices.Contains(names, "all") {
		names = []string{baseRun}
		for _, o := range objectiveNames {
			names = append(names, o.name)
		}
	}
	var runs []runSpec
	for _, n := range names {
		if n == baseRun {
			runs = append(runs, runSpec{Name: baseRun})
			continue
		}
		var obj rpo.Objective
		for _, o := range objectiveNames {
			if n == o.name || n == string(o.obj) {
				obj = o.obj
			}
		}
		if obj == "" {
			var known []string
			for _, o := range objectiveNames {
				known = append(known, o.name)
			}
			return nil, fmt.Errorf("--objectives: %q is unknown, want base, %s or all", n, strings.Join(known, ", "))
		}
		if !obj.EarlyStopping() {
			runs = append(runs, runSpec{Name: string(obj), Objective: obj, LambdaVal: ls[0]})
			continue
		}
		for _, l := range ls {
			runs = append(runs, runSpec{Name: fmt.Sprintf("%s-lambda%g", obj, l), Objective: obj, LambdaVal: l, Swept: true})
		}
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("--objectives %q: want at least one run", objectives)
	}
	for i, r := range runs {
		if slices.ContainsFunc(runs[:i], func(q runSpec) bool { return q.Name == r.Name }) {
			return nil, fmt.Errorf("--objectives %q: %s twice", objectives, r.Name)
		}
	}
	return runs, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dreambench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the program at once
	}()
	sum, err := run(ctx, o, os.Stdout)
	stop()
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "dreambench:", err)
		os.Exit(1)
	case sum != nil && sum.failed > 0:
		os.Exit(1) // a job array's task reports the failure; the table names it
	}
}
