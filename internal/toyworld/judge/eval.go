package judge

import (
	"context"
	"fmt"
	"sort"

	"github.com/gorpo/gorpo/internal/toyworld"
)

// Report is a judge's accuracy on clean renders of held-out seeds (Evaluate).
type Report struct {
	Seeds string `json:"seeds"` // the seeds, in words
	N     int    `json:"n"`
	// Accuracy is each head's share of correct labels, by head name.
	Accuracy map[string]float64 `json:"accuracy"`
	// SubjectRecall is the share of subject scenes whose subject is named right; RecolouredRecall
	// the same over the subject scenes drawn in another main colour than the subject's own; and
	// FalseSubject the share of generic scenes that the judge takes for a subject.
	SubjectRecall    float64 `json:"subject_recall"`
	RecolouredRecall float64 `json:"recoloured_subject_recall"`
	FalseSubject     float64 `json:"false_subject_rate"`
	// AccessoryRecall is the share of objects wearing an accessory whose accessory is named right
	// (the accessory head's accuracy counts the many bare objects too).
	AccessoryRecall float64 `json:"accessory_recall"`
	// Mistakes counts the errors by head and (truth, prediction), most frequent first.
	Mistakes []Mistake `json:"-"`
}

// Mistake is one kind of error of a head, and how often it happened.
type Mistake struct {
	Head        Head
	Truth, Pred string
	Count       int
}

// Evaluate judges clean renders of SampleScene(seed) for every seed and compares with the
// renderer's truth. what names the seeds in the report ("[1000000, 1002000)").
func (j *Judge) Evaluate(ctx context.Context, seeds []uint64, what string) (*Report, error) {
	if len(seeds) == 0 {
		return nil, fmt.Errorf("judge: evaluate: no seeds")
	}
	own := map[string]string{}
	for _, s := range toyworld.Subjects() {
		own[s.Name] = s.Color
	}
	var hits [NumHeads]int
	var subj, subjHit, recol, recolHit, generic, genericFalse, dressed, dressedHit int
	mistakes := map[Mistake]int{}
	const chunk = 256
	for start := 0; start < len(seeds); start += chunk {
		part := seeds[start:min(start+chunk, len(seeds))]
		b, err := RenderBatch(part, j.vocab, false)
		if err != nil {
			return nil, err
		}
		preds, err := j.predictPixels(ctx, b.Pixels, b.N)
		if err != nil {
			return nil, err
		}
		for i, p := range preds {
			t := b.Truth[i]
			truth := [NumHeads]string{t.Context, t.Class, t.Color, t.Subject, t.Accessory}
			for _, h := range Heads() {
				if p.Label(h) == truth[h] {
					hits[h]++
				} else {
					mistakes[Mistake{Head: h, Truth: truth[h], Pred: p.Label(h)}]++
				}
			}
			if t.Accessory != "" {
				dressed++
				if p.Accessory == t.Accessory {
					dressedHit++
				}
			}
			ok := p.Subject == t.Subject
			if t.Subject == "" {
				generic++
				if !ok {
					genericFalse++
				}
				continue
			}
			subj++
			if ok {
				subjHit++
			}
			if t.Color != own[t.Subject] {
				recol++
				if ok {
					recolHit++
				}
			}
		}
	}
	share := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	r := &Report{Seeds: what, N: len(seeds), Accuracy: map[string]float64{},
		SubjectRecall: share(subjHit, subj), RecolouredRecall: share(recolHit, recol), FalseSubject: share(genericFalse, generic),
		AccessoryRecall: share(dressedHit, dressed)}
	for _, h := range Heads() {
		r.Accuracy[h.String()] = share(hits[h], len(seeds))
	}
	for m, c := range mistakes {
		m.Count = c
		r.Mistakes = append(r.Mistakes, m)
	}
	sort.Slice(r.Mistakes, func(a, b int) bool {
		x, y := r.Mistakes[a], r.Mistakes[b]
		if x.Count != y.Count {
			return x.Count > y.Count
		}
		if x.Head != y.Head {
			return x.Head < y.Head
		}
		if x.Truth != y.Truth {
			return x.Truth < y.Truth
		}
		return x.Pred < y.Pred
	})
	return r, nil
}

// SeedRange returns the n seeds start, start+1, ….
func SeedRange(start uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = start + uint64(i)
	}
	return out
}
