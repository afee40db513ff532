package reward

import (
	"context"
	"fmt"
	"image"
)

// Scorer scores images against one subject's reference set with RPO's ALIGN-I and ALIGN-T
// (normally backed by align's ALIGN model; any joint image-text Embedder works). It embeds the
// references once, in NewScorer, and keeps only their unit embeddings; each call then embeds just
// the images and prompts it is given.
//
// Following the official RPO code (evaluation_metrics.RewardModel):
//
//	ALIGN-I(x) = Normalize(mean over references r of cos(E(r), E(x)))
//	ALIGN-T(x) = Normalize(cos(E_text(prompt without the subject token), E(x)))
//
// with Normalize(c) = (c+1)/2. Prompts lose their subject tokens first (default "[V]" and "sks",
// see WithTokens and WithStrip).
//
// A Scorer does not change after NewScorer; it is safe for concurrent use when its Embedder is.
type Scorer struct {
	embedder Embedder
	opts     options
	refs     [][]float64 // unit reference embeddings
	dim      int
}

// Score is one image's reward: its ALIGN-I, its ALIGN-T and their λ-Harmonic combination.
type Score struct {
	AlignI float64 `json:"align_i"`
	AlignT float64 `json:"align_t"`
	Reward float64 `json:"reward"`
}

// Metrics returns the score as Report metrics named MetricAlignI, MetricAlignT and MetricReward.
func (s Score) Metrics() Metrics {
	return Metrics{MetricAlignI: s.AlignI, MetricAlignT: s.AlignT, MetricReward: s.Reward}
}

// NewScorer embeds the reference images of one subject with embedder and returns a Scorer for
// them. It returns an error for a nil embedder, an empty reference set, a nil or empty image
// (before calling the embedder), an invalid option, an embedder error (wrapped), or embeddings that
// are missing, of differing lengths, zero or not finite.
func NewScorer(ctx context.Context, embedder Embedder, references []image.Image, opts ...Option) (*Scorer, error) {
	if embedder == nil {
		return nil, fmt.Errorf("reward: NewScorer: nil Embedder")
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if len(references) == 0 {
		return nil, fmt.Errorf("reward: NewScorer: empty reference set, want at least one reference image")
	}
	refs, dim, err := embedImages(ctx, embedder, "references", references, o.batch, 0)
	if err != nil {
		return nil, err
	}
	return &Scorer{embedder: embedder, opts: o, refs: refs, dim: dim}, nil
}

// NumReferences is the number of reference images.
func (s *Scorer) NumReferences() int { return len(s.refs) }

// CleanPrompt returns prompt with the subject tokens removed: the text whose embedding ALIGN-T
// compares with.
func (s *Scorer) CleanPrompt(prompt string) string { return s.opts.cleanPrompt(prompt) }

// AlignI returns each image's ALIGN-I in [0, 1]: the normalised mean cosine of its embedding to the
// reference embeddings.
func (s *Scorer) AlignI(ctx context.Context, images []image.Image) ([]float64, error) {
	embs, err := s.embedImages(ctx, images)
	if err != nil {
		return nil, err
	}
	return s.alignI(embs), nil
}

// AlignT returns each image's ALIGN-T in [0, 1]: the normalised cosine of its embedding to its
// prompt's text embedding. prompts holds one prompt per image, or one prompt for all images; the
// subject tokens are removed first, and each distinct cleaned prompt is embedded once.
func (s *Scorer) AlignT(ctx context.Context, images []image.Image, prompts []string) ([]float64, error) {
	if err := checkPrompts(len(images), prompts); err != nil {
		return nil, err
	}
	embs, err := s.embedImages(ctx, images)
	if err != nil {
		return nil, err
	}
	return s.alignT(ctx, embs, prompts)
}

// Score returns each image's ALIGN-I, ALIGN-T and λ-Harmonic reward (see Harmonic; RPO labels
// with λ = 0 and validates with λ = 0.3). λ and the prompts are checked before any embedding
// work, and each image is embedded once for both scores. prompts is as for AlignT.
func (s *Scorer) Score(ctx context.Context, images []image.Image, prompts []string, lambda Harmonic) ([]Score, error) {
	if err := lambda.Validate(); err != nil {
		return nil, err
	}
	if err := checkPrompts(len(images), prompts); err != nil {
		return nil, err
	}
	embs, err := s.embedImages(ctx, images)
	if err != nil {
		return nil, err
	}
	ai := s.alignI(embs)
	at, err := s.alignT(ctx, embs, prompts)
	if err != nil {
		return nil, err
	}
	r, err := lambda.Rewards(ai, at)
	if err != nil {
		return nil, err
	}
	out := make([]Score, len(images))
	for i := range out {
		out[i] = Score{AlignI: ai[i], AlignT: at[i], Reward: r[i]}
	}
	return out, nil
}

func (s *Scorer) embedImages(ctx context.Context, images []image.Image) ([][]float64, error) {
	embs, _, err := embedImages(ctx, s.embedder, "images", images, s.opts.batch, s.dim)
	return embs, err
}

func (s *Scorer) alignI(embs [][]float64) []float64 {
	out := make([]float64, len(embs))
	for i, e := range embs {
		out[i] = Normalize(meanCos(e, s.refs))
	}
	return out
}

func (s *Scorer) alignT(ctx context.Context, embs [][]float64, prompts []string) ([]float64, error) {
	if len(embs) == 0 {
		return []float64{}, nil
	}
	texts, index, err := embedPrompts(ctx, s.embedder, &s.opts, prompts, s.dim)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(embs))
	for i, e := range embs {
		out[i] = Normalize(dot(texts[promptIndex(index, i)], e))
	}
	return out, nil
}
