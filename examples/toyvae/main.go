// Command toyvae trains the toy world's autoencoder (package internal/toyworld/autoencoder): a
// diffusers AutoencoderKL at a small configuration on fresh renders of generic scenes. It
// writes, under --out:
//
//	checkpoint/   the run's state every --checkpoint-every steps (resumed automatically)
//	vae/          the diffusers VAE folder, its scaling_factor measured on held-out renders
//	TRAINING.md   the command, settings, time, loss by tenths and the held-out round trip:
//	              PSNR, and how the judge reads round-tripped renders against the originals
//	roundtrip.png held-out renders (generic, then each subject in contexts outside its
//	              references), each above its round trip
//	loss.tsv      the loss of every step
//
// Interrupted (Ctrl-C, SIGTERM), it checkpoints and stops; run the same command again to go on.
// With --time-limit it stops training at that wall time, checkpoints, and still exports.
//
//	GOEXPERIMENT=simd go run ./examples/toyvae --out out/toyvae
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/toyworld/autoencoder"
)

func main() {
	d := autoencoder.DefaultSettings()
	s := d
	out := flag.String("out", "out/toyvae", "folder for checkpoint/, vae/, TRAINING.md, roundtrip.png and loss.tsv")
	flag.IntVar(&s.Steps, "steps", d.Steps, "optimiser steps in all (a resumed run goes on to this many)")
	flag.IntVar(&s.Batch, "batch", d.Batch, "renders per step")
	flag.Uint64Var(&s.Seed, "seed", d.Seed, "seed of the initial weights and of every batch")
	flag.Float64Var(&s.LearningRate, "lr", d.LearningRate, "peak learning rate")
	flag.IntVar(&s.WarmupSteps, "warmup", d.WarmupSteps, "linear warm-up steps")
	flag.Float64Var(&s.KLWeight, "kl", d.KLWeight, "KL weight (Stable Diffusion's convention: summed KL against summed L1)")
	every := flag.Int("every", 50, "print a progress line every this many steps")
	ckEvery := flag.Int("checkpoint-every", 250, "checkpoint every this many steps")
	limit := flag.Duration("time-limit", 0, "stop training after this wall time (0: none), then export")
	evalN := flag.Int("eval", 2000, "held-out renders of the round-trip evaluation (0: none)")
	cfg := autoencoder.DefaultConfig()
	channels := flag.String("channels", intsString(cfg.BlockOutChannels), "block_out_channels, comma-separated (one block per entry: 2 halves the side)")
	flag.IntVar(&cfg.LatentChannels, "latent-channels", cfg.LatentChannels, "latent_channels")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	var err error
	if cfg.BlockOutChannels, err = parseInts(*channels); err != nil {
		fmt.Fprintln(os.Stderr, "toyvae: --channels:", err)
		os.Exit(2)
	}
	cfg.DownBlockTypes, cfg.UpBlockTypes = nil, nil
	for range cfg.BlockOutChannels {
		cfg.DownBlockTypes = append(cfg.DownBlockTypes, "DownEncoderBlock2D")
		cfg.UpBlockTypes = append(cfg.UpBlockTypes, "UpDecoderBlock2D")
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "toyvae:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*out, cfg, s, *every, *ckEvery, *limit, *evalN); err != nil {
		fmt.Fprintln(os.Stderr, "toyvae:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// intsString and parseInts write and read "16,32".
func intsString(v []int) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, strconv.Itoa(x))
	}
	return strings.Join(parts, ",")
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(out string, cfg diffusion.VAEConfig, s autoencoder.Settings, every, ckEvery int, limit time.Duration, evalN int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := backend.Default()
	if err != nil {
		return err
	}
	fmt.Printf("backend: %s, %d cores\n", b.Description(), runtime.NumCPU())
	vae, err := diffusion.NewVAE(cfg, int64(s.Seed))
	if err != nil {
		return err
	}
	t := &autoencoder.Trainer{VAE: vae, Settings: s, Checkpoints: out, CheckpointEvery: ckEvery}
	resumed, err := t.Resume()
	if err != nil {
		return err
	}
	if resumed {
		fmt.Printf("resumed at step %d of %d\n", t.State().Step, s.Steps)
	}
	trainCtx := ctx
	if limit > 0 {
		var cancel context.CancelFunc
		trainCtx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	var sum [3]float64
	var n int
	t.Progress = func(p autoencoder.Progress) {
		sum[0] += p.Loss
		sum[1] += p.L1
		sum[2] += p.KL
		n++
		if p.Step%every == 0 || p.Step == p.Steps {
			fmt.Printf("step %d/%d  loss %.4f  l1 %.4f  kl/latent %.3f  |g| %.3f  lr %.2e  %v/step  %v\n",
				p.Step, p.Steps, sum[0]/float64(n), sum[1]/float64(n), sum[2]/float64(n), p.GradNorm, p.LearningRate,
				p.StepTime.Round(time.Millisecond), p.Elapsed.Round(time.Second))
			sum, n = [3]float64{}, 0
		}
	}
	err = t.Run(trainCtx)
	t.Finalize()
	if err != nil && !(errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil) {
		return err
	}
	st := t.State()
	if err := writeLosses(filepath.Join(out, "loss.tsv"), st); err != nil {
		return err
	}
	return export(ctx, out, vae, st, evalN)
}

func writeLosses(path string, st autoencoder.State) error {
	var sb strings.Builder
	sb.WriteString("step\tloss\tl1\tkl\n")
	for i, l := range st.Losses {
		fmt.Fprintf(&sb, "%d\t%g\t%g\t%g\n", i+1, l[0], l[1], l[2])
	}
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}
