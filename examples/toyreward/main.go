// Command toyreward trains the toy world's reward model from scratch: an ALIGN-architecture pair
// (a small EfficientNet and a 2-layer BERT over the world's WordPiece vocabulary) trained with
// ALIGN's contrastive objective on captioned renders of generic objects (see package
// internal/toyworld/rewardmodel), then evaluated on held-out renders. It writes a folder that
// align.LoadALIGN reads (config.json, model.safetensors, vocab.txt, tokenizer_config.json,
// preprocessor_config.json) with TRAINING.md, atomically.
//
// The shipped model was made with (2 cores, Go backend):
//
//	GOEXPERIMENT=simd go run ./examples/toyreward --out internal/toyworld/rewardmodel/align --steps 1300 --batch 64 --seed 1
//
// (the defaults below), in 22 minutes; TRAINING.md in that folder records the exact command, seed,
// time and held-out metrics.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/examples/internal/machine"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/toyworld/rewardmodel"
)

func main() {
	out := flag.String("out", "out/toyreward", "folder to write the ALIGN checkpoint to")
	steps := flag.Int("steps", 1300, "optimiser steps")
	batch := flag.Int("batch", 64, "renders per step (each with its caption and a hard negative)")
	seed := flag.Uint64("seed", 1, "seed of the initial weights and of the training examples")
	lr := flag.Float64("lr", 2e-3, "peak learning rate")
	every := flag.Int("every", 50, "print a progress line every this many steps")
	evalN := flag.Int("eval", rewardmodel.EvalSize, "held-out renders to evaluate on")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *steps, *batch, *seed, *lr, *every, *evalN); err != nil {
		fmt.Fprintln(os.Stderr, "toyreward:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string, steps, batch int, seed uint64, lr float64, every, evalN int) error {
	b, err := backend.Default()
	if err != nil {
		return err
	}
	started := time.Now()
	fmt.Printf("toyreward: %d steps × %d renders, seed %d, lr %g, backend %s, %d cores\n",
		steps, batch, seed, lr, b.Name(), runtime.GOMAXPROCS(0))
	tr, err := rewardmodel.Train(ctx, rewardmodel.TrainOptions{
		Steps: steps, Batch: batch, Seed: seed, LearningRate: lr, Backend: b,
		Progress: func(p rewardmodel.TrainProgress) {
			if p.Step%every != 0 && p.Step != p.Steps && p.Step > 3 {
				return
			}
			rate := float64(p.Step) / p.Elapsed.Seconds()
			eta := time.Duration(float64(p.Steps-p.Step) / rate * float64(time.Second))
			fmt.Printf("step %5d/%d  loss %.4f  i→t %.3f t→i %.3f hard %.3f  temp %.4f  lr %.2e  %.2f steps/s (%d ms/step)  ETA %s\n",
				p.Step, p.Steps, p.Loss, p.ImageToText, p.TextToImage, p.HardNegative, p.Temperature,
				p.LearningRate, rate, p.StepTime.Milliseconds(), eta.Round(time.Second))
		},
	})
	if err != nil {
		return err
	}
	trained := time.Since(started)
	fmt.Printf("trained in %s\n", trained.Round(time.Second))

	// Evaluate through the saved folder, exactly as users load it.
	tmp, err := os.MkdirTemp("", "toyreward-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "align")
	if err := tr.Save(dir, ""); err != nil {
		return err
	}
	m, err := align.LoadALIGN(dir)
	if err != nil {
		return err
	}
	defer m.Finalize()
	what := fmt.Sprintf("toyworld.GenericScene(seed), seed in [%d, %d)", rewardmodel.EvalSeedStart, rewardmodel.EvalSeedStart+uint64(evalN))
	rep, err := rewardmodel.Evaluate(ctx, m, rewardmodel.SeedRange(rewardmodel.EvalSeedStart, evalN), what)
	if err != nil {
		return err
	}
	sub, err := rewardmodel.EvaluateSubjects(ctx, m, rewardmodel.EvalSeedStart, 50)
	if err != nil {
		return err
	}
	repJSON, _ := json.MarshalIndent(rep, "", "  ")
	subJSON, _ := json.MarshalIndent(sub, "", "  ")
	fmt.Printf("held-out: %s\nsubjects: %s\n", repJSON, subJSON)
	temp, _ := m.Temperature()

	cmd := "GOEXPERIMENT=simd go run ./examples/toyreward " + strings.Join(os.Args[1:], " ")
	var md strings.Builder
	fmt.Fprintf(&md, "# The toy world's reward model\n\n")
	fmt.Fprintf(&md, "An ALIGN-architecture pair (EfficientNet image tower, BERT text tower, WordPiece) trained from scratch\n")
	fmt.Fprintf(&md, "with ALIGN's contrastive loss on captioned renders of generic toy-world objects (never the subjects);\n")
	fmt.Fprintf(&md, "see package internal/toyworld/rewardmodel. Load it with `align.LoadALIGN` on this folder.\n\n")
	fmt.Fprintf(&md, "## How it was made\n\n")
	fmt.Fprintf(&md, "- command: `%s`\n", cmd)
	fmt.Fprintf(&md, "- seed: %d (initial weights and training examples: rewardmodel.TrainSeed(%d, k) = %d·2^40 + k, k < %d)\n",
		seed, seed, seed+1, steps*batch)
	fmt.Fprintf(&md, "- steps: %d × %d renders (each with its caption and one hard negative), AdamW, peak lr %g, warm-up 5%%, cosine to 2%%, weight decay 1e-2\n",
		steps, batch, lr)
	fmt.Fprintf(&md, "- started: %s\n- training wall time: %s\n- machine: %s\n\n", started.UTC().Format(time.RFC3339),
		trained.Round(time.Second), machine.Describe(b.Name()))
	fmt.Fprintf(&md, "## Held-out metrics\n\n")
	fmt.Fprintf(&md, "Renders: %s (%d).\n\n", rep.Seeds, rep.Images)
	fmt.Fprintf(&md, "| metric | value |\n|---|---|\n")
	fmt.Fprintf(&md, "| image→text top-1 among %d captions | %.4f |\n", rewardmodel.RetrievalBatch, rep.ImageToText)
	fmt.Fprintf(&md, "| text→image top-1 among %d renders | %.4f |\n", rewardmodel.RetrievalBatch, rep.TextToImage)
	for _, a := range []string{"context", "colour", "class", "accessory"} {
		fmt.Fprintf(&md, "| cos(image, its description) > cos(image, description with another %s) | %.4f |\n", a, rep.Separation[a])
	}
	fmt.Fprintf(&md, "| same, RPO prompt form (\"a dog on the Moon\" vs another context) | %.4f |\n", rep.PromptContext)
	fmt.Fprintf(&md, "| mean cos, matching / non-matching description | %.4f / %.4f |\n", rep.MeanCosMatch, rep.MeanCosMismatch)
	fmt.Fprintf(&md, "| learned temperature | %.4f |\n\n", temp)
	fmt.Fprintf(&md, "ALIGN-I on the built-in subjects (never seen in training), %d triples: subject in its reference context vs\n", sub.Pairs)
	fmt.Fprintf(&md, "the subject in an evaluation context, a generic object of its class there (random colour), and one in the subject's colour.\n\n")
	fmt.Fprintf(&md, "| metric | value |\n|---|---|\n")
	fmt.Fprintf(&md, "| mean cos, same subject, different contexts | %.4f |\n", sub.SameSubject)
	fmt.Fprintf(&md, "| mean cos, subject vs generic of its class | %.4f |\n", sub.GenericSameClass)
	fmt.Fprintf(&md, "| mean cos, subject vs generic of its class in its colour | %.4f |\n", sub.GenericOwnColour)
	fmt.Fprintf(&md, "| share same subject > generic | %.4f |\n", sub.BeatsGeneric)
	fmt.Fprintf(&md, "| share same subject > generic in its colour | %.4f |\n", sub.BeatsOwnColour)
	if err := tr.Save(out, md.String()); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%s in all)\n", out, time.Since(started).Round(time.Second))
	return nil
}
