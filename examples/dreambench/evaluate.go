package main

import (
	"context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/internal/toyworld/judge"
	"github.com/gorpo/gorpo/reward"
	"github.com/gorpo/gorpo/rpo"
)

// evalSeedStream separates the evaluation images' seeds from the trainer's draws (the same
// stream examples/finetune uses for its before and after images).
const evalSeedStream = 0x6576616c_61667465 // "evalafte"

// evalLambda is the λ of the Harmonic reward the tables report: Table 2's 0.3-Harmonic column.
const evalLambda = 0.3

// judges are the models that score evaluation images; any may be nil.
type judges struct {
	align reward.Embedder      // the 0.3-Harmonic reward's ALIGN (also RPO's reward)
	dinoE reward.ImageEmbedder // DINO
	clip  reward.Embedder      // CLIP-I and CLIP-T
	judge *judge.Judge         // the toy world's subject and prompt fidelity
}

// evaluation is how a subject's images are drawn: the prompts (all of the subject's, or the
// first --eval-prompts), images per prompt, sampler settings and seeds, the same for every run of
// the subject so that runs differ only in their weights.
type evaluation struct {
	prompts []string
	per     int
	gen     rpo.Generation
	seeds   []uint64
	token   string
}

func newEvaluation(sub *subject, nPrompts, per int, gen rpo.Generation, seed uint64, token string) evaluation {
	prompts := sub.prompts
	if nPrompts < len(prompts) {
		prompts = prompts[:nPrompts]
	}
	r := rand.New(rand.NewPCG(seed, evalSeedStream))
	seeds := make([]uint64, len(prompts)*per)
	for i := range seeds {
		seeds[i] = r.Uint64()
	}
	return evaluation{prompts: prompts, per: per, gen: gen, seeds: seeds, token: token}
}

// generate draws the evaluation images with the weights pipe holds, prompt-major.
func (e evaluation) generate(ctx context.Context, pipe *diffusion.Pipeline) ([]image.Image, error) {
	g := e.gen
	return pipe.Generate(ctx, e.prompts,
		diffusion.Steps(g.Steps), diffusion.Guidance(g.Guidance), diffusion.BatchSize(g.BatchSize),
		diffusion.Size(g.Height, g.Width), diffusion.ImagesPerPrompt(e.per), diffusion.Seeds(e.seeds...))
}

// tokens are the subject tokens removed from prompts before CLIP-T and ALIGN-T, as the official
// code does: the run's token and the scorers' defaults.
func tokens(token string) []string {
	out := []string{token}
	for _, t := range []string{"[V]", "sks"} {
		if t != token {
			out = append(out, t)
		}
	}
	return out
}

// score computes each prompt's metrics over its images and the subject's means over prompts:
// DINO and CLIP-I (each image's mean cosine to the references, as reward.DINO and reward.CLIPI
// average them), CLIP-T (reward.CLIPT over the prompt's images, clamped per prompt as
// torchmetrics clamps its batch), ALIGN-I, ALIGN-T and the 0.3-Harmonic reward (reward.Scorer),
// and in the toy world the judge's fidelity.
func (e evaluation) score(ctx context.Context, j judges, sub *subject, images []image.Image) ([]promptResult, map[string]float64, error) {
	n := len(e.prompts)
	if len(images) != n*e.per {
		return nil, nil, fmt.Errorf("evaluation: %d images for %d prompts × %d", len(images), n, e.per)
	}
	per := make([]map[string]float64, n)
	for p := range per {
		per[p] = map[string]float64{}
	}
	// perImage adds the prompt means of per-image values under key.
	perImage := func(key string, values []float64) {
		for p := range n {
			s := 0.0
			for _, v := range values[p*e.per : (p+1)*e.per] {
				s += v
			}
			per[p][key] = s / float64(e.per)
		}
	}
	opt := reward.WithTokens(tokens(e.token)...)
	if j.dinoE != nil {
		v, err := reward.DINOScores(ctx, j.dinoE, images, sub.photos)
		if err != nil {
			return nil, nil, err
		}
		perImage(mDINO, v)
	}
	if j.clip != nil {
		v, err := reward.CLIPIScores(ctx, j.clip, images, sub.photos)
		if err != nil {
			return nil, nil, err
		}
		perImage(mCLIPI, v)
		for p := range n {
			t, err := reward.CLIPT(ctx, j.clip, images[p*e.per:(p+1)*e.per], []string{e.prompts[p]}, opt)
			if err != nil {
				return nil, nil, err
			}
			per[p][mCLIPT] = t
		}
	}
	if j.align != nil {
		sc, err := reward.NewScorer(ctx, j.align, sub.photos, opt)
		if err != nil {
			return nil, nil, err
		}
		prompts := make([]string, 0, len(images))
		for _, p := range e.prompts {
			for range e.per {
				prompts = append(prompts, p)
			}
		}
		list, err := sc.Score(ctx, images, prompts, reward.Harmonic(evalLambda))
		if err != nil {
			return nil, nil, err
		}
		ai, at, h := make([]float64, len(list)), make([]float64, len(list)), make([]float64, len(list))
		for i, x := range list {
			ai[i], at[i], h[i] = x.AlignI, x.AlignT, x.Reward
		}
		perImage(mAlignI, ai)
		perImage(mAlignT, at)
		perImage(mHarmonic, h)
	}
	if j.judge != nil && sub.intents != nil {
		subj, prompt, err := judgeFidelity(ctx, j.judge, sub, images, e.per)
		if err != nil {
			return nil, nil, err
		}
		for p := range n {
			per[p][mSubjectFi], per[p][mPromptFi] = subj[p], prompt[p]
		}
	}
	out := make([]promptResult, n)
	means := map[string]float64{}
	for p := range n {
		out[p] = promptResult{Prompt: e.prompts[p], Metrics: per[p]}
		for k, v := range per[p] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, fmt.Errorf("evaluation: prompt %q: %s = %v", e.prompts[p], k, v)
			}
			means[k] += v / float64(n)
		}
	}
	return out, means, nil
}

// referenceScores is the paper's "real images" row for a subject: DINO and CLIP-I over every
// pair of distinct reference photos. reward's per-image scores average over all references, self
// included (cosine 1), so the self term is taken out: (n·m_i − 1)/(n − 1).
func referenceScores(ctx context.Context, j judges, photos []image.Image) (map[string]float64, error) {
	n := len(photos)
	out := map[string]float64{}
	if n < 2 {
		return out, nil
	}
	for _, m := range []struct {
		key string
		f   func() ([]float64, error)
		ok  bool
	}{
		{mDINO, func() ([]float64, error) { return reward.DINOScores(ctx, j.dinoE, photos, photos) }, j.dinoE != nil},
		{mCLIPI, func() ([]float64, error) { return reward.CLIPIScores(ctx, j.clip, photos, photos) }, j.clip != nil},
	} {
		if !m.ok {
			continue
		}
		v, err := m.f()
		if err != nil {
			return nil, err
		}
		s := 0.0
		for _, x := range v {
			s += (float64(n)*x - 1) / float64(n-1)
		}
		out[m.key] = s / float64(n)
	}
	return out, nil
}

// writeGrid writes the reference photos (thumbnails filling whole rows) and then the images, a
// row per prompt.
func writeGrid(path string, photos, images []image.Image, per int, height, width int) error {
	var cells []image.Image
	for _, p := range photos {
		t, err := imaging.Thumbnail(p, height, width)
		if err != nil {
			return fmt.Errorf("%s: reference photo: %w", path, err)
		}
		cells = append(cells, t)
	}
	for len(cells)%per != 0 {
		cells = append(cells, nil)
	}
	// The toy world's 32×32 images are enlarged nearest-neighbour, so that marks can be seen.
	cells, err := imaging.EnlargeForViewing(append(cells, images...), imaging.ViewingSide)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return rpo.WriteImageGrid(path, cells, per)
}
