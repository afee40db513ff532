// Command finetune fine-tunes a Stable Diffusion model on a few photos of your own subject with
// RPO (Reward Preference Optimization) and writes what it did:
//
//	go run ./examples/finetune --model stable-diffusion-v1-5 --reward align-base \
//	    --subject-dir photos/my-dog --class dog --live
//
// To fine-tune and keep the weights, examples/photos is the short program of its own (the same
// Trainer, the same folders, no grids or metrics); this one is the experiment around it.
//
// --model is a diffusers folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/,
// scheduler/), --reward an ALIGN folder as transformers' save_pretrained writes it
// (kakaobrain/align-base: config.json, model.safetensors, vocab.txt, preprocessor_config.json),
// --subject-dir the reference photos (.jpg, .jpeg, .png; read in name order). The paper's settings
// are the defaults (400 steps, learning rate 5e-6, a validation every 40 steps, 50 sampling
// steps); a full fine-tune of SD 1.x wants a GPU backend (GOMLX_BACKEND=xla:cuda).
//
// The run writes to --out (out/finetune-<class>): the rpo package's run folder (run.json,
// setup.json, metrics.jsonl, reward_curve.png, validation/, best/, latest/, final/, cache/), and
//
//	before.png   the reference photos, then a row per evaluation prompt: the base model's images
//	after.png    the same prompts and seeds with the fine-tuned weights
//	report.json  steps trained, best step and reward, where the weights are, ALIGN-I, ALIGN-T and
//	             the 0.3-Harmonic reward of the before and after images, and the configuration
//
// --compare runs the paper's ablation set instead of one objective: rpo, rpo-no-es (no early
// stopping), sim (L_sim alone), sim-es (L_sim with early stopping) and dreambooth, one after
// another from the base model on the same inputs and seed, each in its own subfolder of --out
// named as report.json keys it (rpo/, rpo_no_early_stopping/, sim/, sim_early_stopping/,
// dreambooth/). before.png and the base entry are computed once; each objective gets
// after-<objective>.png, and report.json (base plus an entry per objective) and report.md (a row
// each) tabulate them. It does not go with --objective, nor (yet) with --resume.
//
// Ctrl-C (or SIGTERM) stops after the current step: the best checkpoint stays as it was, the
// latest state is saved, and the same command with --resume continues the run.
//
// --precision bf16 (or fp16) runs the U-Net in half precision, training and sampling alike, with
// float32 weights and updates (rpo.Precision): for GPU backends, where it is faster and lighter.
// The summary and report.json say how many graphs the trainer compiled (rpo.GraphCounts); on XLA
// each costs a compilation, and a run's count does not grow with its steps or validations.
//
// The toy world (internal/toyworld) runs the same method end to end on any machine, and is what
// the program does without --model:
//
//	go run ./examples/finetune                            # the first subject, shipped models
//	go run ./examples/finetune --subject tabby_cat        # another built-in subject
//	go run ./examples/finetune --base-model out/toypretrain/model   # a base model of your own
//
// fine-tunes the toy base model (embedded in the program, or --base-model DIR as
// examples/toypretrain writes it) on a built-in subject (--subject, default the first of
// toyworld.Subjects): its rendered references, class word and live flag, the world's 8 training
// prompts, the embedded toy reward model (unless --reward) and the toy preset of settings
// (toyPreset). Its report.json also grades the base and fine-tuned images with the toy world's
// judge (subject_fidelity, prompt_fidelity) over the subject's 25 evaluation prompts, and
// report.md tabulates it.
//
// The toy world's six subjects as a benchmark (what --subject all did here) are the DreamBench
// harness's: go run ./examples/dreambench --toy (its --objectives all for --compare's set), which
// writes the table of the judge's shares and checks beside the reward's scores.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/rpo"
)

// options are the command line, parsed; run checks them.
type options struct {
	Model      string // diffusers folder
	BaseModel  string // the toy world's base-model folder (the toy path)
	Subject    string // a built-in toy subject ("" with --base-model: the first)
	Reward     string // ALIGN folder
	SubjectDir string // reference photos
	Class      string
	Token      string
	// SubjectPrompt is the template of the reference photos' prompt ({V}: the token, {class}).
	SubjectPrompt string
	// ReferencePrompts gives each photo its own prompt: "" (none: SubjectPrompt for all),
	// referenceContexts (the toy world: each render's context), or a file of templates.
	ReferencePrompts string
	Live             bool
	Objective        string // a flag name of objectives, or an rpo.Objective
	LoRA             int
	Steps            int
	Batch            int // pairs (or reference photos) per optimiser step
	LR               float64
	// LambdaTrain is the λ of the Harmonic reward that labels the preference pairs; Beta the
	// preference loss's β.
	LambdaTrain, Beta float64
	// LambdaVal is the λ of the Harmonic reward that scores validation images and so picks the
	// kept weights (early stopping): the paper's λ_val, 0.3 by default, 0.5 in its Table 1.
	LambdaVal float64
	// ValidateEvery is the steps between validations.
	ValidateEvery   int
	Seed            uint64
	Out             string // "" means out/finetune-<class>
	GenSteps        int
	Guidance        float64
	Size            string // "N", "WIDTHxHEIGHT", or "0"/"" for the model's default
	ImagesPerPrompt int    // generated images per training prompt
	ValImages       int    // validation images per prompt
	ClassImages     int    // DreamBooth's class images
	EvalPrompts     int    // evaluation prompts in before.png and after.png
	EvalImages      int    // images per evaluation prompt
	Resume          bool
	Overwrite       bool
	Compare         bool // train every objective of objectives in turn and tabulate them
	MaxImagePixels  int  // the largest reference photo read, width × height
	// Precision is the U-Net's compute type (an rpo.Precision: fp32, bf16, fp16), for training
	// and for every image the program draws.
	Precision string
	// GradientCheckpointing recomputes the U-Net's blocks in the backward pass
	// (rpo.Config.GradientCheckpointing): less memory, about a third more compute per step.
	GradientCheckpointing bool

	// Not flags.

	log      io.Writer       // progress and the trainer's log lines (os.Stderr when nil)
	explicit map[string]bool // the flags given on the command line (checked against a resumed run)
	onStep   func(step int)  // called after every optimiser step (tests)
}

// defaultOptions are the flags' defaults: the paper's settings (rpo.DefaultConfig,
// rpo.DefaultGeneration).
func defaultOptions() options {
	cfg, gen := rpo.DefaultConfig(), rpo.DefaultGeneration()
	return options{
		Token: cfg.Token, SubjectPrompt: cfg.SubjectPrompt, Objective: "rpo", LoRA: cfg.LoRARank,
		Steps: cfg.Steps, Batch: cfg.BatchSize, LR: cfg.LearningRate, LambdaTrain: cfg.LambdaTrain, Beta: cfg.Beta, LambdaVal: cfg.LambdaVal,
		ValidateEvery: cfg.ValidateEvery, Seed: cfg.Seed,
		GenSteps: gen.Steps, Guidance: gen.Guidance, Size: "0",
		ImagesPerPrompt: cfg.ImagesPerPrompt, ValImages: cfg.ValidationImagesPerPrompt, ClassImages: cfg.NumClassImages,
		EvalPrompts: 6, EvalImages: 4, MaxImagePixels: imaging.DefaultMaxPixels, Precision: string(cfg.Precision),
	}
}

// movedAll is the --subject value that ran every toy subject, now examples/dreambench --toy's job.
const movedAll = "all"

// objectives are the --objective names, with what each minimises and which weights it keeps.
var objectives = []struct {
	name string
	obj  rpo.Objective
	help string
}{
	{"rpo", rpo.ObjectiveRPO, "the method: L_sim + L_pre, keeps the best-validated weights"},
	{"rpo-no-es", rpo.ObjectiveRPONoEarlyStopping, "L_sim + L_pre, keeps the last weights"},
	{"sim", rpo.ObjectiveSim, "L_sim only, keeps the last weights"},
	{"sim-es", rpo.ObjectiveSimEarlyStopping, "L_sim only, keeps the best-validated weights"},
	{"dreambooth", rpo.ObjectiveDreamBooth, "DreamBooth's prior-preservation loss, keeps the last weights"},
}

// compareNames lists the objectives --compare trains, in order.
func compareNames() string {
	names := make([]string, len(objectives))
	for i, o := range objectives {
		names[i] = o.name
	}
	return strings.Join(names, ", ")
}

func objectiveHelp() string {
	parts := make([]string, len(objectives))
	for i, o := range objectives {
		parts[i] = fmt.Sprintf("%s = %s", o.name, o.help)
	}
	return "what to train on: " + strings.Join(parts, "; ")
}

// parseFlags reads the command line into options.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("finetune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: finetune [--subject NAME] [--base-model DIR] [flags]   (the toy world, shipped models)")
		fmt.Fprintln(stderr, "       finetune --model DIR --reward DIR --subject-dir DIR --class WORD [flags]")
		fmt.Fprintln(stderr, "Fine-tunes a Stable Diffusion folder on photos of a subject with RPO; see the package documentation.")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Model, "model", "", "Stable Diffusion folder in diffusers layout (model_index.json, unet/, vae/, ...)")
	fs.StringVar(&o.BaseModel, "base-model", "", "toy world: a toy base model's diffusers folder (as examples/toypretrain writes it) instead of the shipped one")
	fs.StringVar(&o.Subject, "subject", "", "toy world: the built-in subject to fine-tune on (default the first: "+toySubjectNames()+
		"); every subject as a benchmark: go run ./examples/dreambench --toy")
	fs.StringVar(&o.Reward, "reward", "", "ALIGN folder (transformers layout, e.g. kakaobrain/align-base): the reward that labels and validates")
	fs.StringVar(&o.SubjectDir, "subject-dir", "", "folder of reference photos of the subject (.jpg, .jpeg, .png, read in name order)")
	fs.StringVar(&o.Class, "class", "", "class word of the subject (\"dog\", \"backpack\"); required with --subject-dir")
	fs.StringVar(&o.Token, "token", o.Token, "unique token that names the subject in prompts")
	fs.StringVar(&o.SubjectPrompt, "subject-prompt", o.SubjectPrompt, "the prompt the reference photos are trained under: {V} stands for the token, {class} for the class word")
	fs.StringVar(&o.ReferencePrompts, "reference-prompts", "", "a prompt for each reference photo instead of --subject-prompt: a file of templates, one line per photo in name order (\"a {V} {class} on a sofa\"), or "+referenceContexts+" in the toy world: each render's caption names the context it was taken in")
	fs.BoolVar(&o.Live, "live", false, "the subject is alive (a pet): use the live-subject prompt sets")
	fs.StringVar(&o.Objective, "objective", o.Objective, objectiveHelp())
	fs.IntVar(&o.LoRA, "lora", o.LoRA, "rank of LoRA adapters on the U-Net's attention projections; 0 fine-tunes the whole U-Net")
	fs.IntVar(&o.Steps, "steps", o.Steps, "optimiser steps")
	fs.IntVar(&o.Batch, "batch", o.Batch, "pairs (RPO), or reference photos and class images, per optimiser step")
	fs.Float64Var(&o.LR, "lr", o.LR, "AdamW learning rate")
	fs.Float64Var(&o.LambdaTrain, "lambda-train", o.LambdaTrain, "λ of the Harmonic reward that labels preference pairs (0: ALIGN-T alone, 1: ALIGN-I alone)")
	fs.Float64Var(&o.Beta, "beta", o.Beta, "β of the preference (DPO) loss")
	fs.Float64Var(&o.LambdaVal, "lambda-val", o.LambdaVal, "λ of the Harmonic reward that scores validation images and picks the kept weights (the paper's λ_val; its Table 1 uses 0.5)")
	fs.IntVar(&o.ValidateEvery, "validate-every", o.ValidateEvery, "steps between validations (0: none; only for objectives that keep the last weights)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of every random draw: generated images, labels, noise, evaluation images")
	fs.StringVar(&o.Out, "out", "", "output folder (default out/finetune-<subject> in the toy world, out/finetune-<class> with --model)")
	fs.IntVar(&o.GenSteps, "gen-steps", o.GenSteps, "denoising steps of every generated image")
	fs.Float64Var(&o.Guidance, "guidance", o.Guidance, "classifier-free guidance scale")
	fs.StringVar(&o.Size, "size", o.Size, "image size in pixels, N or WIDTHxHEIGHT (0: the model's default, 512 for SD 1.x)")
	fs.IntVar(&o.ImagesPerPrompt, "images-per-prompt", o.ImagesPerPrompt, "images the base model generates per training prompt (8 prompts)")
	fs.IntVar(&o.ValImages, "val-images", o.ValImages, "images per prompt at each validation")
	fs.IntVar(&o.ClassImages, "class-images", o.ClassImages, "class images DreamBooth generates (--objective dreambooth)")
	fs.IntVar(&o.EvalPrompts, "eval-prompts", o.EvalPrompts, "DreamBench evaluation prompts in before.png and after.png (1 to 25; the toy world: all 25)")
	fs.IntVar(&o.EvalImages, "eval-images", o.EvalImages, "images per evaluation prompt in before.png and after.png")
	fs.BoolVar(&o.Compare, "compare", false, "run the paper's ablation set ("+compareNames()+") one after another on the same inputs and seed, "+
		"each in its own subfolder of --out, and tabulate them against the base model in one report.json and report.md")
	fs.BoolVar(&o.Resume, "resume", false, "continue the run in --out from its latest checkpoint, with the settings it was started with")
	fs.BoolVar(&o.Overwrite, "overwrite", false, "start a new run in --out even if it holds one (its generated-image cache is kept)")
	fs.StringVar(&o.Precision, "precision", o.Precision, "the U-Net's compute type, in training and in every image drawn: fp32, bf16 or fp16 "+
		"(diffusers' --mixed_precision no, bf16, fp16); weights, gradients and AdamW stay float32. Half precision is for GPU (XLA) backends: "+
		"on the Go backend it is slower than fp32")
	fs.BoolVar(&o.GradientCheckpointing, "gradient-checkpointing", o.GradientCheckpointing, "recompute the U-Net's blocks in the backward pass instead of keeping their activations "+
		"(diffusers' --gradient_checkpointing): the same results, far less memory, about a third more compute per step; what makes a 512 px Stable Diffusion step fit on a 24 GiB machine")
	fs.IntVar(&o.MaxImagePixels, "max-image-pixels", o.MaxImagePixels, "the largest reference photo read, in pixels (width × height, checked from the file's header before decoding)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: every setting is a flag (see -help)", fs.Arg(0))
	}
	if o.MaxImagePixels <= 0 {
		return o, fmt.Errorf("--max-image-pixels %d: want a positive number of pixels", o.MaxImagePixels)
	}
	if o.Subject == movedAll {
		return o, errors.New("--subject all moved to the DreamBench harness: go run ./examples/dreambench --toy " +
			"(--objectives all for --compare's ablations; --table-only there rebuilds the table)")
	}
	o.explicit = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.explicit[f.Name] = true })
	if o.toy() {
		withToyPreset(fs, &o)
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "finetune:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			stop() // a second Ctrl-C ends the program at once
			fmt.Fprintln(os.Stderr, "\nfinetune: interrupted: saving the state after the current step "+
				"(Ctrl-C again quits at once; the best checkpoint stays intact either way)")
		case <-done:
		}
	}()
	err = run(ctx, o, os.Stdout)
	close(done)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		os.Exit(130) // run has said where things are
	default:
		fmt.Fprintln(os.Stderr, "finetune:", err)
		os.Exit(1)
	}
}
