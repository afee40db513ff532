// Command toyjudge trains the toy world's judge from scratch: one small CNN with context, class,
// colour, subject and accessory heads, trained on fresh renders with the renderer's labels (see
// package internal/toyworld/judge), then evaluated on held-out renders. It writes
// judge.safetensors and judge.json (label vocabularies, the command, seed, time and held-out
// accuracies) to --out, each atomically.
//
// The shipped judge was made with (2 cores, Go backend):
//
//	GOEXPERIMENT=simd go run ./examples/toyjudge --out internal/toyworld/judge/weights --steps 3400 --batch 32 --seed 1
//
// (judge.json records the exact command, the time it took and the held-out accuracies.)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gorpo/gorpo/examples/internal/machine"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/toyworld/judge"
)

func main() {
	out := flag.String("out", "out/toyjudge", "folder to write judge.safetensors and judge.json to")
	steps := flag.Int("steps", 3400, "optimiser steps")
	batch := flag.Int("batch", 32, "examples per step")
	seed := flag.Uint64("seed", 1, "seed of the initial weights and of the training examples")
	channels := flag.String("channels", "16,48,96,128", "widths of the network's stages")
	blocks := flag.String("blocks", "0,1,1,1", "residual blocks of each stage")
	lr := flag.Float64("lr", 2e-3, "peak learning rate")
	every := flag.Int("every", 100, "print a progress line every this many steps")
	evalN := flag.Int("eval", judge.EvalSize, "held-out renders to evaluate on")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *steps, *batch, *seed, *channels, *blocks, *lr, *every, *evalN); err != nil {
		fmt.Fprintln(os.Stderr, "toyjudge:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string, steps, batch int, seed uint64, channels, blocks string, lr float64, every, evalN int) error {
	cfg := judge.DefaultConfig()
	var err error
	if cfg.Channels, err = ints("--channels", channels); err != nil {
		return err
	}
	if cfg.Blocks, err = ints("--blocks", blocks); err != nil {
		return err
	}
	b, err := backend.Default()
	if err != nil {
		return err
	}
	started := time.Now()
	fmt.Printf("toyjudge: %d steps × %d examples, seed %d, channels %v, blocks %v, backend %s, %d cores\n",
		steps, batch, seed, cfg.Channels, cfg.Blocks, b.Name(), runtime.GOMAXPROCS(0))
	j, err := judge.Train(ctx, judge.TrainOptions{
		Config: cfg, Steps: steps, Batch: batch, Seed: seed, LearningRate: lr, Backend: b,
		Progress: func(p judge.TrainProgress) {
			if p.Step%every != 0 && p.Step != p.Steps && p.Step > 3 {
				return
			}
			rate := float64(p.Step) / p.Elapsed.Seconds()
			eta := time.Duration(float64(p.Steps-p.Step) / rate * float64(time.Second))
			fmt.Printf("step %5d/%d  loss %.4f  acc ctx %.3f cls %.3f col %.3f sub %.3f acc %.3f  lr %.2e  %.2f steps/s (%.0f ms/step)  ETA %s\n",
				p.Step, p.Steps, p.Loss, p.Accuracy[judge.Context], p.Accuracy[judge.Class], p.Accuracy[judge.Color],
				p.Accuracy[judge.Subject], p.Accuracy[judge.Accessory], p.LearningRate, rate,
				float64(p.StepTime.Milliseconds()), eta.Round(time.Second))
		},
	})
	if err != nil {
		return err
	}
	trained := time.Since(started)
	fmt.Printf("trained in %s; evaluating on %d held-out renders (seeds [%d, %d))\n",
		trained.Round(time.Second), evalN, judge.EvalSeedStart, judge.EvalSeedStart+uint64(evalN))
	what := fmt.Sprintf("[%d, %d)", judge.EvalSeedStart, judge.EvalSeedStart+uint64(evalN))
	rep, err := j.Evaluate(ctx, judge.SeedRange(judge.EvalSeedStart, evalN), what)
	if err != nil {
		return err
	}
	for _, h := range judge.Heads() {
		fmt.Printf("  %-9s accuracy %.4f\n", h, rep.Accuracy[h.String()])
	}
	fmt.Printf("  subject recall %.4f (recoloured %.4f), generic taken for a subject %.4f, accessory recall %.4f\n",
		rep.SubjectRecall, rep.RecolouredRecall, rep.FalseSubject, rep.AccessoryRecall)
	for i, m := range rep.Mistakes {
		if i == 15 {
			break
		}
		fmt.Printf("  mistake ×%d  %s: %q → %q\n", m.Count, m.Head, m.Truth, m.Pred)
	}
	rec := &judge.TrainingRecord{
		Command:      "GOEXPERIMENT=simd go run ./examples/toyjudge " + strings.Join(os.Args[1:], " "),
		Seed:         seed,
		Steps:        steps,
		Batch:        batch,
		LearningRate: lr,
		Seeds:        fmt.Sprintf("example k of the run: judge.TrainSeed(%d, k) = %d·2^40 + k, k < %d", seed, seed+1, steps*batch),
		Started:      started.UTC().Format(time.RFC3339),
		Seconds:      trained.Seconds(),
		Machine:      machine.Describe(b.Name()),
	}
	if err := j.Save(out, rec, rep); err != nil {
		return err
	}
	fmt.Printf("wrote %s/%s and %s/%s (%s in all)\n", out, judge.WeightsFile, out, judge.MetadataFile, time.Since(started).Round(time.Second))
	return nil
}

// ints parses a comma-separated list of integers.
func ints(flagName, list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", flagName, list, err)
		}
		out = append(out, v)
	}
	return out, nil
}
