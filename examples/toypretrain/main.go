// Command toypretrain trains the toy world's base text-to-image model: a miniature Stable
// Diffusion whose U-Net denoises the shipped autoencoder's latents (--vae), conditioned by a CLIP
// text encoder with the world's own BPE vocabulary, both trained jointly on captioned renders of
// generic objects (never the subjects); see package internal/toyworld/basemodel. It writes,
// under --out:
//
//	checkpoint/     the run's state every --checkpoint-every steps (resumed automatically)
//	model/          the diffusers folder diffusion.LoadPipeline reads, with TRAINING.md
//	samples.png     one row per caption: 4 generated images, then 4 renders of the caption
//	                (TRAINING.md also has the judge's reading of samples of --judge held-out captions)
//	denoise.png     held-out renders, then for t = 100, 300, …, 900 the noisy x_t and the
//	                U-Net's one-step estimate x̂0 (TRAINING.md lists its MSE per t)
//	loss.tsv        the loss of every step
//
// The shipped model's TRAINING.md has the exact command that made it, and basemodel/PLAN.md the
// measurements that sized it. It runs on GOMLX_BACKEND (the Go backend by default;
// xla:/path/to/pjrt_plugin.so on a GPU). Interrupted (Ctrl-C, SIGTERM), it checkpoints and
// stops; run the same command again to go on. With --time-limit it stops training at that wall
// time, checkpoints, and still exports the model and samples, saying in TRAINING.md how far it
// got. With --init it starts from an exported model's weights (--init shipped: the shipped one)
// with a fresh optimiser and schedule. --grade DIR trains nothing: the judge grades DIR's
// samples at --sample-steps and --guidance.
//
//	GODEBUG=asyncpreemptoff=1 GOEXPERIMENT=simd go run ./examples/toypretrain --out out/toypretrain --vae shipped
//	GOEXPERIMENT=simd go run ./examples/toypretrain --grade shipped --sample-steps 50
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/internal/toyworld/autoencoder"
	"github.com/gorpo/gorpo/internal/toyworld/basemodel"
)

// samplePrompts are the captions of samples.png: every class, several contexts and colours.
var samplePrompts = []string{
	"a red ball on the beach", "a blue box in the snow", "a yellow star on the Moon",
	"a green cup on top of a wooden floor", "a white dog in the jungle",
	"an orange cat with a city in the background", "a pink sneaker on top of a white rug",
	"a purple toy with a mountain in the background",
}

func main() {
	d := basemodel.DefaultSettings()
	s := d
	out := flag.String("out", "out/toypretrain", "folder for checkpoint/, model/, samples.png and loss.tsv")
	flag.IntVar(&s.Steps, "steps", d.Steps, "optimiser steps in all (a resumed run goes on to this many)")
	flag.IntVar(&s.Batch, "batch", d.Batch, "images per step")
	flag.Uint64Var(&s.Seed, "seed", d.Seed, "seed of the initial weights and of every batch")
	flag.IntVar(&s.Scenes, "scenes", d.Scenes, "data set size: GenericScene(0 … scenes-1)")
	flag.Float64Var(&s.LearningRate, "lr", d.LearningRate, "peak learning rate")
	flag.IntVar(&s.WarmupSteps, "warmup", d.WarmupSteps, "linear warm-up steps")
	flag.Float64Var(&s.EMADecay, "ema", d.EMADecay, "moving-average decay of the exported weights (0: none)")
	flag.Float64Var(&s.CaptionDrop, "drop", d.CaptionDrop, "probability of an empty caption")
	every := flag.Int("every", 50, "print a progress line every this many steps")
	ckEvery := flag.Int("checkpoint-every", 500, "checkpoint every this many steps")
	// 10 steps at guidance 2 read best to the judge on the shipped model (PLAN.md): more steps
	// or more guidance amplify its errors at low noise.
	sampleSteps := flag.Int("sample-steps", 10, "DDIM steps of samples.png and of the judged samples")
	guidance := flag.Float64("guidance", 2, "classifier-free guidance of samples.png and of the judged samples")
	limit := flag.Duration("time-limit", 0, "stop training after this wall time (0: none), then export")
	judged := flag.Int("judge", 64, "held-out captions whose samples the judge grades in TRAINING.md (0: none)")
	flag.StringVar(&initFrom, "init", "", "start from the weights of this exported model folder (\"shipped\": the shipped base model) instead of random ones; a checkpoint in --out still wins")
	flag.StringVar(&initText, "init-text", "", "start the text encoder only from this exported model folder (\"shipped\": the shipped base model), the U-Net from random weights")
	grade := flag.String("grade", "", "train nothing: have the judge grade samples of this exported model folder (\"shipped\": the shipped base model) for --judge held-out captions at --sample-steps and --guidance, and exit")
	flag.StringVar(&vaeDir, "vae", "", "the trained autoencoder's diffusers vae/ folder (examples/toyvae writes it; \"shipped\": the shipped one) whose latents the U-Net denoises")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *grade != "" {
		if err := gradeModel(ctx, *grade, *judged, *sampleSteps, *guidance, s.Seed); err != nil {
			fmt.Fprintln(os.Stderr, "toypretrain:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, *out, s, *every, *ckEvery, *sampleSteps, *guidance, *limit, *judged); err != nil {
		fmt.Fprintln(os.Stderr, "toypretrain:", err)
		os.Exit(1)
	}
}

// initFrom is --init: a model folder to start from, "shipped", or "" for random weights;
// initText is --init-text, the same for the text encoder alone; vaeDir is --vae.
var initFrom, initText, vaeDir string

// resolveShipped turns "shipped" into the shipped base model's folder.
func resolveShipped(dir string) (string, error) {
	if dir == "shipped" {
		return basemodel.Dir()
	}
	return dir, nil
}

func run(ctx context.Context, out string, s basemodel.Settings, every, ckEvery, sampleSteps int, guidance float64, limit time.Duration, judged int) error {
	b, err := backend.Default()
	if err != nil {
		return err
	}
	vocab, err := basemodel.DefaultVocab()
	if err != nil {
		return err
	}
	if vaeDir == "" {
		return errors.New("--vae: no autoencoder folder given (train one with examples/toyvae, or pass \"shipped\")")
	}
	if vaeDir == "shipped" {
		if vaeDir, err = autoencoder.Dir(); err != nil {
			return err
		}
	}
	vae, err := diffusion.LoadVAE(vaeDir)
	if err != nil {
		return fmt.Errorf("--vae: %w", err)
	}
	cfg := basemodel.DefaultConfig(len(vocab.Tokens), vae.Config())
	tokDir, err := os.MkdirTemp("", "toypretrain-tokenizer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tokDir)
	if err := vocab.WriteTokenizer(tokDir); err != nil {
		return err
	}
	tok, err := diffusion.LoadCLIPTokenizer(tokDir)
	if err != nil {
		return err
	}
	fmt.Printf("toypretrain: backend %s, %d cores; vocabulary %d tokens; U-Net %v, text encoder %d×%d; %d steps × %d images, seed %d\n",
		b.Name(), runtime.GOMAXPROCS(0), len(vocab.Tokens), cfg.UNet.BlockOutChannels, cfg.Text.NumHiddenLayers,
		cfg.Text.HiddenSize, s.Steps, s.Batch, s.Seed)
	t0 := time.Now()
	data, err := basemodel.NewDataset(ctx, s.Scenes, tok)
	if err != nil {
		return err
	}
	fmt.Printf("rendered %d scenes in %s\n", data.N, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	if err := data.Encode(ctx, vae); err != nil {
		return err
	}
	fmt.Printf("encoded them to %v latents (scaling_factor %.4f) in %s\n", data.LatentShape, data.Scale, time.Since(t0).Round(time.Millisecond))
	m, err := basemodel.New(b, cfg, vocab, vae, int64(s.Seed))
	if err != nil {
		return err
	}
	var params int
	for v := range m.Store().IterVariables() {
		if strings.HasPrefix(v.Path(), "/unet/") || strings.HasPrefix(v.Path(), "/text_model/") {
			params += v.Shape().Size()
		}
	}
	fmt.Printf("%.2fM parameters\n", float64(params)/1e6)
	if initFrom != "" {
		dir, err := resolveShipped(initFrom)
		if err != nil {
			return err
		}
		if err := m.InitFrom(dir); err != nil {
			return err
		}
		fmt.Printf("weights from %s\n", initFrom)
	}
	if initText != "" {
		dir, err := resolveShipped(initText)
		if err != nil {
			return err
		}
		if err := m.InitTextFrom(dir); err != nil {
			return err
		}
		fmt.Printf("text encoder from %s\n", initText)
	}
	tr := &basemodel.Trainer{Model: m, Data: data, Settings: s, Checkpoints: out, CheckpointEvery: ckEvery}
	defer tr.Finalize()
	if ok, err := tr.Resume(); err != nil {
		return err
	} else if ok {
		fmt.Printf("resumed from %s at step %d\n", filepath.Join(out, basemodel.CheckpointDir), tr.State().Step)
	}
	startStep := tr.State().Step
	var window float64
	var n int
	var firstStep time.Duration // compilation included: left out of the rate
	tr.Progress = func(p basemodel.Progress) {
		window += p.Loss
		n++
		if p.Step%every != 0 && p.Step != p.Steps && p.Done > 3 {
			return
		}
		if p.Done == 1 {
			firstStep = p.Elapsed
		}
		rate := 0.0
		if p.Done > 1 {
			rate = float64(p.Done-1) / (p.Elapsed - firstStep).Seconds()
		}
		eta := "?"
		if rate > 0 {
			eta = (time.Duration(float64(p.Steps-p.Step)/rate) * time.Second).Round(time.Second).String()
		}
		fmt.Printf("step %6d/%d  loss %.4f (mean of %d: %.4f)  |g| %.3f  lr %.2e  step %s  %.2f steps/s  ETA %s\n",
			p.Step, p.Steps, p.Loss, n, window/float64(n), p.GradNorm, p.LearningRate,
			p.StepTime.Round(time.Millisecond), rate, eta)
		window, n = 0, 0
	}
	trainCtx := ctx
	if limit > 0 {
		var cancel context.CancelFunc
		trainCtx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	runErr := tr.Run(trainCtx)
	if err := writeLoss(filepath.Join(out, "loss.tsv"), tr.State().Losses); err != nil {
		return err
	}
	if runErr != nil && !(errors.Is(runErr, context.DeadlineExceeded) && ctx.Err() == nil) {
		return runErr
	}
	if runErr != nil {
		fmt.Printf("--time-limit %s reached at step %d of %d: checkpointed; exporting what there is\n", limit, tr.State().Step, s.Steps)
	}
	st := tr.State()
	notes := trainingNotes(b.Name(), st, startStep, cfg, len(vocab.Tokens), params)
	modelDir := filepath.Join(out, "model")
	if err := m.Export(modelDir, s.EMADecay > 0, map[string][]byte{"TRAINING.md": []byte(notes)}); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", modelDir)
	p, err := diffusion.LoadPipeline(modelDir)
	if err != nil {
		return err
	}
	table, err := denoise(ctx, p, filepath.Join(out, "denoise.png"))
	if err != nil {
		return err
	}
	if judged > 0 {
		jt, err := judgeSamples(ctx, p, judged, sampleSteps, guidance, s.Seed)
		if err != nil {
			return err
		}
		table += jt
	}
	if err := safetensors.WriteAtomic(filepath.Join(modelDir, "TRAINING.md"), func(w io.Writer) error {
		_, err := io.WriteString(w, notes+table)
		return err
	}); err != nil {
		return err
	}
	return samples(ctx, p, filepath.Join(out, "samples.png"), sampleSteps, guidance, s.Seed)
}

// writeLoss writes one "step<TAB>loss" line per step.
func writeLoss(path string, losses []float32) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("step\tloss\n")
	for i, l := range losses {
		fmt.Fprintf(&sb, "%d\t%.5f\n", i+1, l)
	}
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}

// trainingNotes is TRAINING.md: how the weights were made and what the loss did.
func trainingNotes(backendName string, st basemodel.State, startStep int, cfg basemodel.Config, vocab, params int) string {
	var sb strings.Builder
	s := st.Settings
	fmt.Fprintf(&sb, "# Toy-world base model: how it was trained\n\n")
	fmt.Fprintf(&sb, "Command (this run%s):\n\n    GOEXPERIMENT=simd go run ./examples/toypretrain %s\n\n",
		map[bool]string{true: ", resumed at step " + fmt.Sprint(startStep), false: ""}[startStep > 0], strings.Join(os.Args[1:], " "))
	fmt.Fprintf(&sb, "- backend: %s (GOMLX_BACKEND=%q), %d cores, %s/%s\n", backendName, os.Getenv("GOMLX_BACKEND"), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&sb, "- settings: %+v\n", s)
	fmt.Fprintf(&sb, "- model: U-Net channels %v, %v layers per block, text encoder %d layers × %d, vocabulary %d tokens; %.2fM parameters\n",
		cfg.UNet.BlockOutChannels, cfg.UNet.LayersPerBlock, cfg.Text.NumHiddenLayers, cfg.Text.HiddenSize, vocab, float64(params)/1e6)
	fmt.Fprintf(&sb, "- steps: %d of %d; training wall time %s (compilation included, data rendering not)\n", st.Step, s.Steps, (time.Duration(st.Seconds) * time.Second).String())
	fmt.Fprintf(&sb, "- exported weights: %s\n\n", map[bool]string{true: fmt.Sprintf("moving average (EMA %.4g)", s.EMADecay), false: "the trained ones"}[s.EMADecay > 0])
	fmt.Fprintf(&sb, "Loss (%s MSE), mean over tenths of the run:\n\n| steps | mean loss |\n|---|---|\n",
		map[bool]string{true: "v", false: "ε"}[cfg.Scheduler.PredictionType == "v_prediction"])
	l := st.Losses
	for k := range 10 {
		lo, hi := k*len(l)/10, (k+1)*len(l)/10
		if hi <= lo {
			continue
		}
		var sum float64
		for _, v := range l[lo:hi] {
			sum += float64(v)
		}
		fmt.Fprintf(&sb, "| %d–%d | %.4f |\n", lo+1, hi, sum/float64(hi-lo))
	}
	return sb.String()
}

// samples writes a grid: for each prompt a row of generated images, then renders of the
// caption's scene, 4× enlarged.
func samples(ctx context.Context, p *diffusion.Pipeline, path string, steps int, guidance float64, seed uint64) error {
	const perPrompt = 4
	var prompts []string
	for _, pr := range samplePrompts {
		for range perPrompt {
			prompts = append(prompts, pr)
		}
	}
	t0 := time.Now()
	imgs, err := p.Generate(ctx, prompts, diffusion.Steps(steps), diffusion.Guidance(guidance), diffusion.Seed(seed))
	if err != nil {
		return err
	}
	fmt.Printf("sampled %d images (%d DDIM steps, guidance %g) in %s\n", len(imgs), steps, guidance, time.Since(t0).Round(time.Millisecond))
	var rows [][]image.Image
	for i, pr := range samplePrompts {
		in, err := toyworld.ParsePrompt(pr)
		if err != nil {
			return err
		}
		row := append([]image.Image(nil), imgs[i*perPrompt:(i+1)*perPrompt]...)
		for j := range perPrompt {
			r, _, err := toyworld.Render(in.Scene("", "on the beach", uint64(1000+j)))
			if err != nil {
				return err
			}
			row = append(row, r)
		}
		rows = append(rows, row)
	}
	if err := writeGrid(path, rows); err != nil {
		return err
	}
	fmt.Printf("wrote %s: per row, %d samples of a caption (%q, …), then %d renders of it\n", path, perPrompt, samplePrompts[0], perPrompt)
	return nil
}

// denoiseTimesteps are the noise levels of denoise.png and of TRAINING.md's x̂0-MSE table.
var denoiseTimesteps = []int{100, 300, 500, 700, 900}

// denoise writes denoise.png (held-out renders, then per timestep x_t and the one-step x̂0) and
// returns the x̂0-MSE table for TRAINING.md.
func denoise(ctx context.Context, p *diffusion.Pipeline, path string) (string, error) {
	r, err := basemodel.Denoise(ctx, p, 6, denoiseTimesteps, 1)
	if err != nil {
		return "", err
	}
	rows, err := r.Images()
	if err != nil {
		return "", err
	}
	if err := writeGrid(path, rows); err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString("\nHeld-out error of the one-step estimate x̂0 by noise level (MSE against the render in [-1, 1]; 6 renders GenericScene(2^40+i) with their captions, one U-Net call; denoise.png shows x_t and x̂0):\n\n| t | x̂0 MSE |\n|---|---|\n")
	for i, t := range r.Timesteps {
		fmt.Fprintf(&sb, "| %d | %.4f |\n", t, r.MSE[i])
	}
	fmt.Print(sb.String())
	fmt.Printf("wrote %s: held-out renders, then x_t and the one-step x̂0 for t = %v\n", path, denoiseTimesteps)
	return sb.String(), nil
}

// writeGrid writes rows of 32×32 images as one PNG, 4× enlarged, with white gaps.
func writeGrid(path string, rows [][]image.Image) error {
	const zoom = 4
	cell := toyworld.Size*zoom + 2
	cols := 0
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	grid := image.NewRGBA(image.Rect(0, 0, cols*cell, len(rows)*cell))
	draw.Draw(grid, grid.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for i, row := range rows {
		for j, img := range row {
			for y := range toyworld.Size * zoom {
				for x := range toyworld.Size * zoom {
					grid.Set(j*cell+x, i*cell+y, img.At(x/zoom, y/zoom))
				}
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, grid); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
