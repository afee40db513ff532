package reward

import (
	"context"
	"fmt"
	"image"
	"math"
	"reflect"
)

// ImageEmbedder maps images to embedding vectors: DINO for the DINO metric, or the image tower of
// a joint image-text model. It returns one embedding per image, in order, all of the same length.
// The embeddings need not be normalised; this package normalises them. The embedder does its own
// preprocessing (resize, crop, rescale), as align's encoders do.
type ImageEmbedder interface {
	EmbedImages(ctx context.Context, images []image.Image) ([][]float32, error)
}

// Embedder maps images and texts into one joint embedding space: ALIGN for RPO's reward, CLIP for
// the CLIP-I and CLIP-T metrics. EmbedTexts returns one embedding per text, of the same length as
// the image embeddings, unnormalised.
type Embedder interface {
	ImageEmbedder
	EmbedTexts(ctx context.Context, texts []string) ([][]float32, error)
}

// DefaultBatchSize is the most images or texts passed to one embedder call unless WithBatchSize
// says otherwise.
const DefaultBatchSize = 32

// Option configures a Scorer or a metric.
type Option func(*options)

type options struct {
	tokens []string
	strip  func(prompt, token string) string
	batch  int
}

func defaultOptions() options {
	return options{tokens: []string{"[V]", "sks"}, strip: StripWord, batch: DefaultBatchSize}
}

// WithTokens sets the subject tokens removed from prompts before their text embedding (ALIGN-T,
// CLIP-T). The default removes "[V]", the identifier of the RPO paper and of gorpo, and "sks",
// DreamBooth's identifier and the default of the official code's remove_unique_token. Tokens are
// removed in the order given, each by the strip function (see WithStrip). WithTokens() with no
// tokens embeds prompts exactly as given.
func WithTokens(tokens ...string) Option {
	return func(o *options) { o.tokens = append([]string{}, tokens...) }
}

// WithStrip sets how a token is removed from a prompt: StripWord (the default: the token goes
// wherever it stands as a whole word) or StripToken (the official code's regular expression, bit
// for bit, which leaves a bracketed token such as "[V]" in place between spaces).
func WithStrip(strip func(prompt, token string) string) Option {
	return func(o *options) { o.strip = strip }
}

// WithBatchSize sets the most images or texts passed to one embedder call (n ≥ 1); larger sets are
// split into several calls. Graph-compiling backends compile once per distinct batch shape, so a
// fixed size keeps recompilation to at most two shapes.
func WithBatchSize(n int) Option {
	return func(o *options) { o.batch = n }
}

func buildOptions(opts []Option) (options, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.batch < 1 {
		return o, fmt.Errorf("reward: batch size %d, want at least 1", o.batch)
	}
	if o.strip == nil {
		return o, fmt.Errorf("reward: WithStrip(nil), want a strip function such as StripWord or StripToken")
	}
	for i, t := range o.tokens {
		if t == "" {
			return o, fmt.Errorf("reward: subject token %d is empty, want a non-empty token such as \"[V]\"", i)
		}
	}
	return o, nil
}

// cleanPrompt removes every subject token from prompt.
func (o *options) cleanPrompt(prompt string) string {
	for _, t := range o.tokens {
		prompt = o.strip(prompt, t)
	}
	return prompt
}

// checkImages reports the first image of the named list that is nil or has no pixels, before any
// embedder sees it.
func checkImages(what string, images []image.Image) error {
	for i, img := range images {
		if isNil(img) {
			return fmt.Errorf("reward: %s[%d] is nil, want an image", what, i)
		}
		if b := img.Bounds(); b.Empty() {
			return fmt.Errorf("reward: %s[%d] has bounds %v, want a non-empty image", what, i, b)
		}
	}
	return nil
}

// isNil also catches a nil pointer inside the interface, such as a (*image.RGBA)(nil), whose
// Bounds method would panic.
func isNil(img image.Image) bool {
	if img == nil {
		return true
	}
	v := reflect.ValueOf(img)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Func, reflect.Chan:
		return v.IsNil()
	}
	return false
}

// checkPrompts accepts one prompt per image or one prompt for all images.
func checkPrompts(images int, prompts []string) error {
	if len(prompts) == images || len(prompts) == 1 {
		return nil
	}
	return fmt.Errorf("reward: %d prompts for %d images, want one prompt per image or one for all", len(prompts), images)
}

// embedBatches calls embed on items in batches of at most batch and returns the embeddings as unit
// vectors. dim is the expected length; 0 takes it from the first embedding. Errors name a batch as
// what[start:end] and one item as name(i). It returns the dimension it checked against.
func embedBatches[T any](ctx context.Context, items []T, batch, dim int, what string, name func(i int) string,
	embed func(context.Context, []T) ([][]float32, error)) ([][]float64, int, error) {
	out := make([][]float64, 0, len(items))
	for start := 0; start < len(items); start += batch {
		end := min(start+batch, len(items))
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("reward: embedding %s[%d:%d]: %w", what, start, end, err)
		}
		// The full slice expression keeps an embedder that appends from writing into the caller's slice.
		embs, err := embed(ctx, items[start:end:end])
		if err != nil {
			return nil, 0, fmt.Errorf("reward: embedding %s[%d:%d]: %w", what, start, end, err)
		}
		if len(embs) != end-start {
			return nil, 0, fmt.Errorf("reward: embedding %s[%d:%d]: embedder returned %d embeddings, want %d",
				what, start, end, len(embs), end-start)
		}
		for i, e := range embs {
			if len(e) == 0 {
				return nil, 0, fmt.Errorf("reward: embedding of %s is empty, want a vector", name(start+i))
			}
			if dim == 0 {
				dim = len(e)
			}
			if len(e) != dim {
				return nil, 0, fmt.Errorf("reward: embedding of %s has %d dimensions, want %d",
					name(start+i), len(e), dim)
			}
			u, err := unit(e)
			if err != nil {
				return nil, 0, fmt.Errorf("reward: embedding of %s %v", name(start+i), err)
			}
			out = append(out, u)
		}
	}
	return out, dim, nil
}

// unit returns e scaled to length 1, in float64.
func unit(e []float32) ([]float64, error) {
	u := make([]float64, len(e))
	var ss float64
	for i, v := range e {
		x := float64(v)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("has the value %v at index %d, want finite values", x, i)
		}
		u[i] = x
		ss += x * x
	}
	if ss == 0 {
		return nil, fmt.Errorf("is all zeros, want a non-zero vector (its cosine is undefined)")
	}
	n := math.Sqrt(ss)
	for i := range u {
		u[i] /= n
	}
	return u, nil
}

// dot is the cosine of two unit vectors.
func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// meanCos is the mean cosine between the unit vector x and each of refs.
func meanCos(x []float64, refs [][]float64) float64 {
	var s float64
	for _, r := range refs {
		s += dot(r, x)
	}
	return s / float64(len(refs))
}

// embedImages checks images and embeds them as unit vectors; what names the list in errors.
func embedImages(ctx context.Context, e ImageEmbedder, what string, images []image.Image, batch, dim int) ([][]float64, int, error) {
	if err := checkImages(what, images); err != nil {
		return nil, 0, err
	}
	name := func(i int) string { return fmt.Sprintf("%s[%d]", what, i) }
	return embedBatches(ctx, images, batch, dim, what, name, e.EmbedImages)
}

// embedPrompts cleans prompts, embeds each distinct cleaned text once and returns, for prompt i,
// the unit text embedding embs[index[i]].
func embedPrompts(ctx context.Context, e Embedder, o *options, prompts []string, dim int) (embs [][]float64, index []int, err error) {
	var texts []string
	seen := map[string]int{}
	index = make([]int, len(prompts))
	for i, p := range prompts {
		c := o.cleanPrompt(p)
		j, ok := seen[c]
		if !ok {
			j = len(texts)
			seen[c] = j
			texts = append(texts, c)
		}
		index[i] = j
	}
	name := func(i int) string { return fmt.Sprintf("prompt text %q", texts[i]) }
	embs, _, err = embedBatches(ctx, texts, o.batch, dim, "prompt texts", name, e.EmbedTexts)
	return embs, index, err
}

// promptIndex is the prompt that belongs to image i: its own, or the one prompt for all.
func promptIndex(index []int, i int) int {
	if len(index) == 1 {
		return index[0]
	}
	return index[i]
}
