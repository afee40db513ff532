package main

import (
	"context"
	"fmt"
	"image"
	"strings"
	"time"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/internal/toyworld/basemodel"
	"github.com/gorpo/gorpo/internal/toyworld/judge"
)

// judgeSeed is the first GenericScene seed of the judged captions: held out from training
// (GenericScene(0 … Scenes-1)) and apart from basemodel.Denoise's renders.
const judgeSeed = basemodel.HeldOutSeed + 1<<20

// accuracy counts how often the judge reads one attribute as the caption asks.
type accuracy struct{ hit, n int }

func (a *accuracy) add(ok bool) {
	a.n++
	if ok {
		a.hit++
	}
}

func (a accuracy) String() string {
	if a.n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f (%d/%d)", float64(a.hit)/float64(a.n), a.hit, a.n)
}

// gradeModel is --grade: judgeSamples on an exported model folder, or on the shipped model.
// It answers whether a model and a sampler setting go together (the sampler's step count and
// guidance) without training anything.
func gradeModel(ctx context.Context, dir string, n, steps int, guidance float64, seed uint64) error {
	if n <= 0 {
		return fmt.Errorf("--grade: --judge %d, want at least one caption", n)
	}
	var p *diffusion.Pipeline
	var err error
	if dir == "shipped" {
		p, err = basemodel.Load()
	} else {
		p, err = diffusion.LoadPipeline(dir)
	}
	if err != nil {
		return fmt.Errorf("--grade: %w", err)
	}
	_, err = judgeSamples(ctx, p, n, steps, guidance, seed)
	return err
}

// judgeSamples generates one image for each of n held-out captions and has the toy world's
// judge read their class, context and colour: the base model's acceptance test, since a model
// that draws "a red ball on the beach" as asked is what RPO's prompt fidelity is measured
// against. The renders of the same captions are judged too, as the ceiling. It returns
// TRAINING.md's table.
func judgeSamples(ctx context.Context, p *diffusion.Pipeline, n, steps int, guidance float64, seed uint64) (string, error) {
	j, err := judge.Load()
	if err != nil {
		return "", err
	}
	defer j.Finalize()
	captions := make([]string, n)
	intents := make([]toyworld.Intent, n)
	renders := make([]image.Image, n)
	for i := range n {
		s := toyworld.GenericScene(judgeSeed + uint64(i))
		if captions[i], err = toyworld.Caption(s); err != nil {
			return "", err
		}
		if intents[i], err = toyworld.ParsePrompt(captions[i]); err != nil {
			return "", err
		}
		if renders[i], _, err = toyworld.Render(s); err != nil {
			return "", err
		}
	}
	t0 := time.Now()
	samples, err := p.Generate(ctx, captions, diffusion.Steps(steps), diffusion.Guidance(guidance), diffusion.Seed(seed))
	if err != nil {
		return "", err
	}
	elapsed := time.Since(t0)
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nThe judge (internal/toyworld/judge) on %d held-out captions (GenericScene(2^40+2^20+i)), one sample each "+
		"(%d DDIM steps, guidance %g, seed %d; %s), against the renders of the same captions:\n\n"+
		"| images | class | context | colour | prompt fidelity |\n|---|---|---|---|---|\n", n, steps, guidance, seed, elapsed.Round(time.Second))
	for _, row := range []struct {
		name   string
		images []image.Image
	}{{"samples", samples}, {"renders", renders}} {
		preds, err := j.Predict(ctx, row.images)
		if err != nil {
			return "", err
		}
		var class, context, colour accuracy
		for i, pr := range preds {
			class.add(pr.Class == intents[i].Class)
			if intents[i].Context != "" {
				context.add(pr.Context == intents[i].Context)
			}
			if intents[i].Color != "" {
				colour.add(pr.Color == intents[i].Color)
			}
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %.3f |\n", row.name, class, context, colour, judge.PromptFidelity(preds, intents))
	}
	fmt.Print(sb.String())
	return sb.String(), nil
}
