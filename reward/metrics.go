package reward

import (
	"context"
	"fmt"
	"image"
	"math"
)

// The evaluation metrics of the RPO paper, which follow DreamBooth (Ruiz et al., CVPR 2023) and
// match the official code's evaluation_metrics.py:
//
//   - DINO: the mean cosine between the DINO ViT-S/16 CLS embedding of each generated image and of
//     each reference image, averaged over the whole generated × reference matrix;
//   - CLIP-I: the same with CLIP ViT-B/16 image embeddings;
//   - CLIP-T: torchmetrics' clip_score / 100, the mean cosine between each generated image's CLIP
//     image embedding and its prompt's text embedding, clamped at 0.
//
// Cosines are raw (in [-1, 1]), not mapped to [0, 1] as ALIGN-I and ALIGN-T are. The aggregate
// functions (DINO, CLIPI, CLIPT) give one number for a batch, as the official code does for each
// prompt's images; the ...Scores functions give the per-image values that a Report aggregates.
//
// Each call embeds the references again; options set the embedder batch size and, for CLIP-T, the
// subject tokens removed from prompts (as for a Scorer; default "[V]" and "sks").

// DINO returns the DINO metric of generated against references: the mean cosine of the DINO
// embeddings over every (generated, reference) pair. dino is normally align's DINO ViT-S/16.
func DINO(ctx context.Context, dino ImageEmbedder, generated, references []image.Image, opts ...Option) (float64, error) {
	s, err := imageScores(ctx, "DINO", dino, generated, references, opts)
	if err != nil {
		return 0, err
	}
	return mean(s), nil
}

// DINOScores returns, for each generated image, its mean DINO cosine to the references. Their
// mean is DINO.
func DINOScores(ctx context.Context, dino ImageEmbedder, generated, references []image.Image, opts ...Option) ([]float64, error) {
	return imageScores(ctx, "DINO", dino, generated, references, opts)
}

// CLIPI returns the CLIP-I metric of generated against references: the mean cosine of the CLIP
// image embeddings over every (generated, reference) pair. clip is normally align's CLIP ViT-B/16.
func CLIPI(ctx context.Context, clip ImageEmbedder, generated, references []image.Image, opts ...Option) (float64, error) {
	s, err := imageScores(ctx, "CLIP-I", clip, generated, references, opts)
	if err != nil {
		return 0, err
	}
	return mean(s), nil
}

// CLIPIScores returns, for each generated image, its mean CLIP image cosine to the references.
// Their mean is CLIPI.
func CLIPIScores(ctx context.Context, clip ImageEmbedder, generated, references []image.Image, opts ...Option) ([]float64, error) {
	return imageScores(ctx, "CLIP-I", clip, generated, references, opts)
}

// CLIPT returns the CLIP-T metric of generated images for their prompts, as the official code
// computes it with torchmetrics' functional clip_score over a batch, divided by 100:
//
//	CLIP-T = max(mean over images i of cos(E(image_i), E_text(prompt_i)), 0)
//
// torchmetrics clamps the batch mean, not each image; the two agree unless some images, but not
// all, have a negative cosine (with CLIP and sensible prompts cosines are positive, about 0.2 to
// 0.35). prompts holds one prompt per image or one for all; subject tokens are removed first, as
// the official code does before CLIP-T (see WithTokens).
func CLIPT(ctx context.Context, clip Embedder, generated []image.Image, prompts []string, opts ...Option) (float64, error) {
	c, err := textCosines(ctx, clip, generated, prompts, opts)
	if err != nil {
		return 0, err
	}
	return math.Max(mean(c), 0), nil
}

// CLIPTScores returns each generated image's CLIP-T alone, max(cos, 0): torchmetrics' clip_score
// of that one image, divided by 100. Their mean is CLIPT whenever no cosine is negative (see
// CLIPT); otherwise it is larger.
func CLIPTScores(ctx context.Context, clip Embedder, generated []image.Image, prompts []string, opts ...Option) ([]float64, error) {
	c, err := textCosines(ctx, clip, generated, prompts, opts)
	if err != nil {
		return nil, err
	}
	for i := range c {
		c[i] = math.Max(c[i], 0)
	}
	return c, nil
}

// imageScores is each generated image's mean cosine to the references.
func imageScores(ctx context.Context, metric string, e ImageEmbedder, generated, references []image.Image, opts []Option) ([]float64, error) {
	if e == nil {
		return nil, fmt.Errorf("reward: %s: nil embedder", metric)
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if len(generated) == 0 {
		return nil, fmt.Errorf("reward: %s: no generated images", metric)
	}
	if len(references) == 0 {
		return nil, fmt.Errorf("reward: %s: empty reference set, want at least one reference image", metric)
	}
	gw, rw := metric+" generated", metric+" references"
	if err := checkImages(gw, generated); err != nil {
		return nil, err
	}
	if err := checkImages(rw, references); err != nil {
		return nil, err
	}
	refs, dim, err := embedImages(ctx, e, rw, references, o.batch, 0)
	if err != nil {
		return nil, err
	}
	gen, _, err := embedImages(ctx, e, gw, generated, o.batch, dim)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(gen))
	for i, g := range gen {
		out[i] = meanCos(g, refs)
	}
	return out, nil
}

// textCosines is the raw cosine of each generated image to its cleaned prompt.
func textCosines(ctx context.Context, e Embedder, generated []image.Image, prompts []string, opts []Option) ([]float64, error) {
	if e == nil {
		return nil, fmt.Errorf("reward: CLIP-T: nil embedder")
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if len(generated) == 0 {
		return nil, fmt.Errorf("reward: CLIP-T: no generated images")
	}
	if err := checkPrompts(len(generated), prompts); err != nil {
		return nil, err
	}
	gen, dim, err := embedImages(ctx, e, "CLIP-T generated", generated, o.batch, 0)
	if err != nil {
		return nil, err
	}
	texts, index, err := embedPrompts(ctx, e, &o, prompts, dim)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(gen))
	for i, g := range gen {
		out[i] = dot(texts[promptIndex(index, i)], g)
	}
	return out, nil
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
