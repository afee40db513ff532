package main

import (
	"context"
	"fmt"
	"image"
	"io"
	"math/rand/v2"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/reward"
	"github.com/gorpo/gorpo/rpo"
)

// evalLambda is the λ of the Harmonic reward report.json gives the before and after images: the
// paper's λ_val.
const evalLambda = 0.3

// evalSeedStream separates the evaluation images' seeds from the trainer's draws.
const evalSeedStream = 0x6576616c_61667465 // "evalafte"

// evaluation is the images of before.png and after.png: a spread of DreamBench's evaluation
// prompts, a few images each, from the same seeds before and after training.
type evaluation struct {
	Prompts         []string `json:"prompts"`
	ImagesPerPrompt int      `json:"images_per_prompt"`
	Seeds           []uint64 `json:"seeds"`
	Layout          string   `json:"layout"`

	gen    rpo.Generation
	photos []image.Image // the reference photos, as thumbnails
	picked []int         // the index of each prompt in the list it was picked from
	scorer *reward.Scorer
	// fidelity, when set (the toy world), grades images with the judge: subject and prompt
	// fidelity, the shares of images showing the subject and showing what their prompt asks.
	fidelity func(ctx context.Context, images []image.Image) (subject, prompt float64, err error)
}

// newEvaluation picks n of the evaluation prompts all (DreamBench's 25, or the toy world's),
// evenly spread over the list (so both re-contextualisations and property changes appear), and
// the seeds of their images.
func newEvaluation(cfg rpo.Config, gen rpo.Generation, all []string, n, per int, photos []image.Image) (*evaluation, error) {
	if n < 1 || n > len(all) {
		return nil, fmt.Errorf("--eval-prompts %d: want 1 to %d", n, len(all))
	}
	e := &evaluation{ImagesPerPrompt: per, gen: gen,
		Layout: "the reference photos first, then one row per prompt"}
	for i := range n {
		e.picked = append(e.picked, i*len(all)/n)
		e.Prompts = append(e.Prompts, all[i*len(all)/n])
	}
	r := rand.New(rand.NewPCG(cfg.Seed, evalSeedStream))
	e.Seeds = make([]uint64, n*per)
	for i := range e.Seeds {
		e.Seeds[i] = r.Uint64()
	}
	for _, img := range photos {
		t, err := imaging.Thumbnail(img, gen.Height, gen.Width)
		if err != nil {
			return nil, fmt.Errorf("reference photo: %w", err)
		}
		e.photos = append(e.photos, t)
	}
	return e, nil
}

// generate makes the evaluation images with the weights pipe holds, reporting progress on log.
func (e *evaluation) generate(ctx context.Context, pipe *diffusion.Pipeline, what string, log io.Writer) ([]image.Image, error) {
	fmt.Fprintf(log, "%s: %d prompts × %d images, %d steps\n", what, len(e.Prompts), e.ImagesPerPrompt, e.gen.Steps)
	quarter := 0
	progress := func(done, total int) {
		if q := 4 * done / total; q > quarter {
			quarter = q
			fmt.Fprintf(log, "%s: %d/%d denoising steps\n", what, done, total)
		}
	}
	g := e.gen
	images, err := pipe.Generate(ctx, e.Prompts,
		diffusion.Steps(g.Steps), diffusion.Guidance(g.Guidance), diffusion.BatchSize(g.BatchSize),
		diffusion.Size(g.Height, g.Width), diffusion.ImagesPerPrompt(e.ImagesPerPrompt),
		diffusion.Seeds(e.Seeds...), diffusion.Progress(progress))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return images, nil
}

// gridMinSide is the smallest cell of before.png and after.png: smaller images (the toy world's
// 32×32) are enlarged nearest-neighbour to it, so that the subject's marks can be seen.
const gridMinSide = imaging.ViewingSide

// writeGrid writes the reference photos (filling whole rows) and then images, a row per prompt.
func (e *evaluation) writeGrid(path string, images []image.Image) error {
	cols := e.ImagesPerPrompt
	cells := append([]image.Image(nil), e.photos...)
	for len(cells)%cols != 0 {
		cells = append(cells, nil)
	}
	cells, err := imaging.EnlargeForViewing(append(cells, images...), gridMinSide)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return rpo.WriteImageGrid(path, cells, cols)
}

// scores are the mean ALIGN-I, ALIGN-T and 0.3-Harmonic reward of a set of images and, in the
// toy world, the judge's subject and prompt fidelity.
type scores struct {
	SubjectFidelity *float64 `json:"subject_fidelity,omitempty"`
	PromptFidelity  *float64 `json:"prompt_fidelity,omitempty"`
	AlignI          float64  `json:"align_i"`
	AlignT          float64  `json:"align_t"`
	Harmony         float64  `json:"harmonic_0_3"`
}

// score rates images against the references and their prompts (nil without a reward model), and
// has the judge grade them when there is one.
func (e *evaluation) score(ctx context.Context, images []image.Image) (*scores, error) {
	if e.scorer == nil {
		return nil, nil
	}
	var s scores
	if e.fidelity != nil {
		subject, prompt, err := e.fidelity(ctx, images)
		if err != nil {
			return nil, err
		}
		s.SubjectFidelity, s.PromptFidelity = &subject, &prompt
	}
	prompts := make([]string, 0, len(images))
	for _, p := range e.Prompts {
		for range e.ImagesPerPrompt {
			prompts = append(prompts, p)
		}
	}
	list, err := e.scorer.Score(ctx, images, prompts, reward.Harmonic(evalLambda))
	if err != nil {
		return nil, err
	}
	for _, x := range list {
		s.AlignI += x.AlignI / float64(len(list))
		s.AlignT += x.AlignT / float64(len(list))
		s.Harmony += x.Reward / float64(len(list))
	}
	return &s, nil
}
