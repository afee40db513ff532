// Command photos fine-tunes Stable Diffusion on a few photos of your own subject with RPO
// (Reward Preference Optimization), the paper's way:
//
//	go run ./examples/photos --model stable-diffusion-v1-5 --reward align-base \
//	    --photos photos/my-dog --class dog --live
//
// --model is a diffusers folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/,
// scheduler/), --reward an ALIGN folder as transformers' save_pretrained writes it
// (kakaobrain/align-base), --photos the reference photos (.jpg, .jpeg, .png, read in name order)
// and --class the subject's class word. The base model draws 4 images for each of 8 prompts
// about "[V] dog", ALIGN scores them against your photos and their prompts, and the U-Net learns
// from the preferences; every 40 steps a validation keeps the best weights (early stopping). The
// paper's settings are the defaults: 400 steps, AdamW at 5e-6, 50 sampling steps. A full
// fine-tune of SD 1.x wants a GPU (GOMLX_BACKEND=xla:cuda); --lora 4 trains adapters instead.
//
// The fine-tuned model is written to --out (out/photos-<class>): best/ holds the kept
// checkpoint, its unet/ a diffusers U-Net folder to put in place of the base model's (or LoRA
// weights), beside run.json, metrics.jsonl, reward_curve.png and the validation images. Ctrl-C
// stops after the current step with the state saved; the same command with --resume continues.
//
// examples/finetune runs the same training with before/after grids of the evaluation prompts,
// the paper's metrics in report.json, the objectives' ablations (--compare) and the toy world.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/examples/internal/photos"
	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/rpo"
	"github.com/gorpo/gorpo/rpo/report"
)

// options are the command line: the folders, the subject, and the settings a user may change.
type options struct {
	Model, Reward, Photos, Class, Out string
	Live, Resume, Overwrite           bool
	cfg                               rpo.Config
	gen                               rpo.Generation
	log                               io.Writer // progress and the trainer's log lines
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{cfg: rpo.DefaultConfig(), gen: rpo.DefaultGeneration(), log: stderr}
	fs := flag.NewFlagSet("photos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: photos --model DIR --reward DIR --photos DIR --class WORD [flags]")
		fmt.Fprintln(stderr, "Fine-tunes a Stable Diffusion folder on photos of a subject with RPO; see the package documentation.")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Model, "model", "", "Stable Diffusion folder in diffusers layout (model_index.json, unet/, vae/, ...)")
	fs.StringVar(&o.Reward, "reward", "", "ALIGN folder (transformers layout, e.g. kakaobrain/align-base): the reward that labels and validates")
	fs.StringVar(&o.Photos, "photos", "", "folder of photos of the subject (.jpg, .jpeg, .png)")
	fs.StringVar(&o.Class, "class", "", `the subject's class word ("dog", "backpack")`)
	fs.BoolVar(&o.Live, "live", false, "the subject is alive (a pet): use the live-subject prompts")
	fs.StringVar(&o.Out, "out", "", "output folder (default out/photos-<class>)")
	fs.StringVar(&o.cfg.Token, "token", o.cfg.Token, "the token that names the subject in prompts")
	fs.IntVar(&o.cfg.Steps, "steps", o.cfg.Steps, "optimiser steps")
	fs.Float64Var(&o.cfg.LearningRate, "lr", o.cfg.LearningRate, "AdamW learning rate")
	fs.IntVar(&o.cfg.LoRARank, "lora", o.cfg.LoRARank, "rank of LoRA adapters on the U-Net's attention; 0 fine-tunes the whole U-Net")
	fs.IntVar(&o.cfg.ValidateEvery, "validate-every", o.cfg.ValidateEvery, "steps between validations, which pick the kept weights")
	fs.IntVar(&o.cfg.ImagesPerPrompt, "images-per-prompt", o.cfg.ImagesPerPrompt, "images the base model draws per training prompt")
	fs.IntVar(&o.cfg.ValidationImagesPerPrompt, "val-images", o.cfg.ValidationImagesPerPrompt, "images per prompt at each validation")
	fs.Uint64Var(&o.cfg.Seed, "seed", o.cfg.Seed, "seed of every random draw")
	precision := fs.String("precision", string(o.cfg.Precision), "the U-Net's compute type: fp32, bf16 or fp16 (half precision is for GPU backends)")
	fs.IntVar(&o.gen.Steps, "gen-steps", o.gen.Steps, "denoising steps of every image drawn")
	size := fs.Int("size", 0, "image size in pixels (0: the model's default, 512 for SD 1.x)")
	fs.BoolVar(&o.Resume, "resume", false, "continue the run in --out from its latest checkpoint, with the settings it was started with")
	fs.BoolVar(&o.Overwrite, "overwrite", false, "start a new run in --out even if it holds one")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: every setting is a flag (see -help)", fs.Arg(0))
	}
	var missing []error
	for _, f := range []struct{ name, value, want string }{
		{"model", o.Model, "DIR: a Stable Diffusion folder"},
		{"reward", o.Reward, "DIR: an ALIGN folder"},
		{"photos", o.Photos, "DIR: a folder of photos of the subject"},
		{"class", o.Class, `WORD: the subject's class ("dog")`},
	} {
		if f.value == "" {
			missing = append(missing, fmt.Errorf("--%s %s is required", f.name, f.want))
		}
	}
	if err := errors.Join(missing...); err != nil {
		return o, err
	}
	o.cfg.Class, o.cfg.Live, o.cfg.Precision = o.Class, o.Live, rpo.Precision(*precision)
	o.gen.Height, o.gen.Width = *size, *size
	if o.Out == "" {
		o.Out = "out/photos-" + o.Class
	}
	return o, nil
}

// run loads the photos and the models, fine-tunes (or resumes) and prints where the weights are.
func run(ctx context.Context, o options, stdout io.Writer) error {
	refs, paths, err := photos.Load(o.Photos, imaging.DefaultMaxPixels)
	if err != nil {
		return fmt.Errorf("--photos: %w", err)
	}
	if _, err := os.Stat(filepath.Join(o.Out, rpo.RunFile)); err == nil && !o.Resume && !o.Overwrite {
		return fmt.Errorf("--out %s holds an earlier run: --resume continues it, --overwrite starts a new one", o.Out)
	}
	pipe, err := diffusion.LoadPipeline(o.Model)
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	for _, note := range pipe.Notes {
		fmt.Fprintln(o.log, "model:", note)
	}
	judge, err := align.LoadALIGN(o.Reward)
	if err != nil {
		return fmt.Errorf("--reward: %w", err)
	}
	defer judge.Finalize()

	opts := []rpo.TrainerOption{rpo.OutDir(o.Out), rpo.Logger(o.log), rpo.PlotRewardCurve(report.WriteRewardCurvePNG)}
	var res *rpo.Result
	if o.Resume { // the run's own settings, recorded in --out
		fmt.Fprintf(stdout, "photos: resuming the run in %s on %d photos\n", o.Out, len(paths))
		res, err = rpo.Resume(ctx, o.Out, pipe, judge, refs, opts...)
	} else {
		if o.Overwrite {
			opts = append(opts, rpo.Overwrite())
		}
		var t *rpo.Trainer
		if t, err = rpo.NewTrainer(o.cfg, pipe, judge, refs, append(opts, rpo.WithGeneration(o.gen))...); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "photos: fine-tuning %s on %d photos of %q, %d steps; writing to %s\n",
			o.Model, len(paths), o.cfg.Token+" "+o.Class, o.cfg.Steps, o.Out)
		res, err = t.Run(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stdout, "photos: interrupted; the state is saved in %s: run the same command with --resume to continue\n", o.Out)
		}
		return err
	}
	why := map[string]string{rpo.StopSteps: "all steps", rpo.StopPatience: "stopped early: no better validation"}[res.StopReason]
	if why == "" {
		why = "stopped: " + res.StopReason
	}
	fmt.Fprintf(stdout, "photos: trained %d steps (%s) in %.0fs\n", res.StepsTrained, why, res.Seconds)
	if res.BestStep > 0 {
		fmt.Fprintf(stdout, "  best validation: step %d, reward %.4f\n", res.BestStep, res.BestReward)
	}
	fmt.Fprintf(stdout, "  fine-tuned weights: %s\n", res.WeightsDir)
	return nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "photos:", err)
		os.Exit(2)
	}
	// Ctrl-C or SIGTERM stops after the current step, with the state saved.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "photos:", err)
		os.Exit(1)
	}
}
