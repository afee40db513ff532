package rewardmodel

import (
	"context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/internal/toyworld"
)

// RetrievalBatch is the number of renders (and captions) a retrieval is made among: the
// training batch's size order.
const RetrievalBatch = 64

// Report is how well a reward model separates matching from non-matching captions on held-out
// renders.
type Report struct {
	Seeds  string `json:"seeds"` // which renders, in words
	Images int    `json:"images"`

	// Top-1 retrieval within groups of RetrievalBatch renders and their captions
	// (toyworld.Caption): the picked caption (render) counts when its text equals the truth's.
	ImageToText float64 `json:"image_to_text_top1"`
	TextToImage float64 `json:"text_to_image_top1"`

	// Separation, by the attribute a hard negative changes: the share of renders for which
	// cos(image, full description) > cos(image, the description with that attribute swapped).
	// Accessory counts only renders that wear one.
	Separation map[string]float64 `json:"separation"`
	// PromptContext is the same for RPO's prompt form, "a dog on the Moon" (class and context,
	// no colour), against the same prompt in another context.
	PromptContext float64 `json:"prompt_context"`

	// Mean cosines: image with its full description, with a swapped one.
	MeanCosMatch    float64 `json:"mean_cos_match"`
	MeanCosMismatch float64 `json:"mean_cos_mismatch"`
}

// Evaluate measures m on the generic renders of seeds (NewExample of each).
func Evaluate(ctx context.Context, m *align.ALIGN, seeds []uint64, what string) (*Report, error) {
	ex, err := NewExamples(seeds)
	if err != nil {
		return nil, err
	}
	imgs := make([]image.Image, len(ex))
	for i, e := range ex {
		imgs[i] = e.Image
	}
	ie, err := embedImages(ctx, m, imgs)
	if err != nil {
		return nil, err
	}
	attrs := []Attribute{Context, Color, Class, Accessory}
	// Texts per render: caption, full description, one swap per attribute, prompt form and its
	// context swap ("" when the render has nothing to swap).
	const perImage = 8
	texts := make([]string, 0, perImage*len(ex))
	for _, e := range ex {
		r := rand.New(rand.NewPCG(e.Scene.Seed, 0x3c6ef372fe94f82b))
		full := Describe(e.Labels)
		texts = append(texts, e.Caption, full.Text())
		for _, a := range attrs {
			sw, ok := Swap(full, a, r)
			if ok {
				texts = append(texts, sw.Text())
			} else {
				texts = append(texts, "")
			}
		}
		p := toyworld.Intent{Class: full.Class, Context: full.Context}
		sw, _ := Swap(p, Context, r)
		texts = append(texts, p.Text(), sw.Text())
	}
	te, err := embedTexts(ctx, m, texts)
	if err != nil {
		return nil, err
	}
	rep := &Report{Seeds: what, Images: len(ex), Separation: map[string]float64{}}
	counts := map[string]int{}
	var nMis int
	for i := range ex {
		row := te[i*perImage : (i+1)*perImage]
		match := cosine(ie[i], row[1])
		rep.MeanCosMatch += match
		for k, a := range attrs {
			if row[2+k] == nil {
				continue
			}
			c := cosine(ie[i], row[2+k])
			rep.MeanCosMismatch += c
			nMis++
			counts[a.String()]++
			if match > c {
				rep.Separation[a.String()]++
			}
		}
		if cosine(ie[i], row[6]) > cosine(ie[i], row[7]) {
			rep.PromptContext++
		}
	}
	for k, n := range counts {
		rep.Separation[k] /= float64(n)
	}
	rep.PromptContext /= float64(len(ex))
	rep.MeanCosMatch /= float64(len(ex))
	rep.MeanCosMismatch /= float64(max(1, nMis))

	// Retrieval within groups.
	var n, i2t, t2i int
	for g := 0; g+RetrievalBatch <= len(ex); g += RetrievalBatch {
		for i := g; i < g+RetrievalBatch; i++ {
			bi, bt := -1, -1
			var vi, vt float64
			for j := g; j < g+RetrievalBatch; j++ {
				if c := cosine(ie[i], te[j*perImage]); bi < 0 || c > vi {
					bi, vi = j, c
				}
				if c := cosine(ie[j], te[i*perImage]); bt < 0 || c > vt {
					bt, vt = j, c
				}
			}
			n++
			if ex[bi].Caption == ex[i].Caption {
				i2t++
			}
			if ex[bt].Caption == ex[i].Caption {
				t2i++
			}
		}
	}
	if n > 0 {
		rep.ImageToText, rep.TextToImage = float64(i2t)/float64(n), float64(t2i)/float64(n)
	}
	return rep, nil
}

// SubjectReport is ALIGN-I's behaviour on the built-in subjects, which the model never saw.
type SubjectReport struct {
	Pairs int `json:"pairs"`
	// Mean cosine between two renders of the same subject in different contexts, and between a
	// subject and a generic object of its class in the second render's context and seed
	// (random colour; "own colour": in the subject's main colour).
	SameSubject      float64 `json:"same_subject"`
	GenericSameClass float64 `json:"generic_same_class"`
	GenericOwnColour float64 `json:"generic_own_colour"`
	// Shares of pairs where the second subject render is closer than the generic object.
	BeatsGeneric   float64 `json:"beats_generic"`
	BeatsOwnColour float64 `json:"beats_own_colour"`
}

// EvaluateSubjects renders, for each built-in subject, n triples from seeds start, start+1, …:
// the subject in its first reference context, the subject in an evaluation context, and a
// generic object of its class in that same context and seed.
func EvaluateSubjects(ctx context.Context, m *align.ALIGN, start uint64, n int) (*SubjectReport, error) {
	var eval []string
	for _, c := range toyworld.Contexts() {
		if c.Use == toyworld.Evaluation && c.Live {
			eval = append(eval, c.Phrase)
		}
	}
	var imgs []image.Image
	render := func(s toyworld.Scene) error {
		img, _, err := toyworld.Render(s)
		if err != nil {
			return fmt.Errorf("rewardmodel: %w", err)
		}
		imgs = append(imgs, img)
		return nil
	}
	for _, sub := range toyworld.Subjects() {
		for k := range n {
			seed := start + uint64(k)
			refCtx := sub.ReferenceContexts()[0]
			ctxB := eval[int(seed)%len(eval)]
			gen := toyworld.GenericScene(seed)
			for _, s := range []toyworld.Scene{
				{Subject: sub.Name, Context: refCtx, Seed: seed},
				{Subject: sub.Name, Context: ctxB, Seed: seed + 1<<32},
				{Class: sub.Class, Context: ctxB, Color: gen.Color, Seed: seed + 1<<32},
				{Class: sub.Class, Context: ctxB, Color: sub.Color, Seed: seed + 1<<32},
			} {
				if err := render(s); err != nil {
					return nil, err
				}
			}
		}
	}
	e, err := embedImages(ctx, m, imgs)
	if err != nil {
		return nil, err
	}
	rep := &SubjectReport{Pairs: len(e) / 4}
	for i := 0; i+3 < len(e); i += 4 {
		same, gen, own := cosine(e[i], e[i+1]), cosine(e[i], e[i+2]), cosine(e[i], e[i+3])
		rep.SameSubject += same
		rep.GenericSameClass += gen
		rep.GenericOwnColour += own
		if same > gen {
			rep.BeatsGeneric++
		}
		if same > own {
			rep.BeatsOwnColour++
		}
	}
	p := float64(rep.Pairs)
	rep.SameSubject /= p
	rep.GenericSameClass /= p
	rep.GenericOwnColour /= p
	rep.BeatsGeneric /= p
	rep.BeatsOwnColour /= p
	return rep, nil
}

const embedChunk = 256

func embedImages(ctx context.Context, m *align.ALIGN, imgs []image.Image) ([][]float32, error) {
	var out [][]float32
	for i := 0; i < len(imgs); i += embedChunk {
		e, err := m.EmbedImages(ctx, imgs[i:min(len(imgs), i+embedChunk)])
		if err != nil {
			return nil, err
		}
		out = append(out, e...)
	}
	return out, nil
}

// embedTexts embeds the non-empty texts; an empty one gets a nil row.
func embedTexts(ctx context.Context, m *align.ALIGN, texts []string) ([][]float32, error) {
	var idx []int
	var nonEmpty []string
	for i, t := range texts {
		if t != "" {
			idx = append(idx, i)
			nonEmpty = append(nonEmpty, t)
		}
	}
	out := make([][]float32, len(texts))
	for i := 0; i < len(nonEmpty); i += embedChunk {
		e, err := m.EmbedTexts(ctx, nonEmpty[i:min(len(nonEmpty), i+embedChunk)])
		if err != nil {
			return nil, err
		}
		for k, row := range e {
			out[idx[i+k]] = row
		}
	}
	return out, nil
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb+1e-30)
}
