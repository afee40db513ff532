package judge

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/gorpo/gorpo/internal/toyworld"
)

// Seeds. Every example of the judge's data is drawn by SampleScene from one uint64 seed, and the
// ranges of seeds never meet:
//
//   - training example k of a run with seed s uses TrainSeed(s, k) = (s+1)·2⁴⁰ + k, so at or
//     above 2⁴⁰;
//   - held-out sets use seeds below 2³²: the training program's evaluation set is
//     [EvalSeedStart, EvalSeedStart+EvalSize), the package test's [TestSeedStart, TestSeedStart+200).
//
// SampleScene hashes its seed with a bijection before passing it on to the renderer, so disjoint
// seeds give disjoint renders' seeds too.
const (
	EvalSeedStart uint64 = 1_000_000
	EvalSize             = 2000
	TestSeedStart uint64 = 2_000_000
)

// TrainSeed is the seed of training example k of a run seeded with runSeed (see Seeds above).
func TrainSeed(runSeed uint64, k int) uint64 { return (runSeed+1)<<40 + uint64(k) }

// The mixture SampleScene draws from.
const (
	shareGeneric   = 0.40 // toyworld.GenericScene: any class, context, colour, accessory
	shareLookAlike = 0.15 // generic objects of a subject's class, half of them in its colour
	// the rest (0.45): toyworld.SubjectScene of a uniformly drawn subject, recoloured in about
	// 40% of the scenes (a fifth by SubjectScene itself, a quarter of the rest here)
	extraRecolour = 0.25
	// live scenes without an accessory get one with this probability, so that more than half of
	// them wear one (the renderer's own scenes dress a third)
	extraAccessory = 0.35
)

// SampleScene draws one scene of the judge's data from seed: 40% generic scenes
// (toyworld.GenericScene), 15% look-alikes (generic objects of a subject's class, half of them in
// the subject's own colour, so that the subject head must look at the pattern, not the class or
// the colour), and 45% subject scenes (toyworld.SubjectScene, every subject equally often, in
// every context their class can be in, about 40% of them recoloured as "a red [V] ball" asks, so
// that identity is learnt from the pattern and not the colour). About 57% of the live objects,
// generic or subject, wear an accessory.
func SampleScene(seed uint64) toyworld.Scene {
	h := mix64(seed)
	r := rand.New(rand.NewPCG(h, 0x9e3779b97f4a7c15))
	s := sampleScene(h, r)
	if s.Accessory == "" && r.Float64() < extraAccessory && isLive(s) {
		acc := toyworld.Accessories()
		s.Accessory = acc[r.IntN(len(acc))].Phrase
	}
	return s
}

func isLive(s toyworld.Scene) bool {
	for _, c := range toyworld.Classes() {
		if c.Live && c.Word == s.Class {
			return true
		}
	}
	for _, sub := range toyworld.Subjects() {
		if sub.Live && sub.Name == s.Subject {
			return true
		}
	}
	return false
}

func sampleScene(h uint64, r *rand.Rand) toyworld.Scene {
	subjects := toyworld.Subjects()
	switch u := r.Float64(); {
	case u < shareGeneric:
		return toyworld.GenericScene(h)
	case u < shareGeneric+shareLookAlike:
		sub := subjects[r.IntN(len(subjects))]
		colors := toyworld.Colors()
		s := toyworld.Scene{Class: sub.Class, Color: sub.Color, Seed: h}
		if r.IntN(2) == 0 {
			s.Color = colors[r.IntN(len(colors))]
		}
		s.Context = randomContext(r, sub.Live)
		if sub.Live && r.IntN(3) == 0 {
			acc := toyworld.Accessories()
			s.Accessory = acc[r.IntN(len(acc))].Phrase
		}
		return s
	default:
		sub := subjects[r.IntN(len(subjects))]
		s, err := toyworld.SubjectScene(sub.Name, h)
		if err != nil {
			panic(err) // the name comes from toyworld.Subjects
		}
		if s.Color == "" && r.Float64() < extraRecolour {
			colors := toyworld.Colors()
			s.Color = colors[r.IntN(len(colors))]
		}
		return s
	}
}

// randomContext draws a context uniformly among those an object (live or not) may be in.
func randomContext(r *rand.Rand, live bool) string {
	all := toyworld.Contexts()
	for {
		c := all[r.IntN(len(all))]
		if live || !c.LiveOnly {
			return c.Phrase
		}
	}
}

// mix64 is SplitMix64's finaliser, a bijection of uint64.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Batch is rendered examples: Pixels [n, size, size, 3] channels-last in [-1, 1], and the label
// indices of each example, Labels[i][head].
type Batch struct {
	N      int
	Size   int
	Pixels []float32
	Labels [][NumHeads]int32
	Truth  []toyworld.Labels
}

// RenderBatch renders SampleScene(seeds[i]) for every i on all cores, and labels the renders by
// vocab. With augment set each example is also perturbed as Augment does (training only).
func RenderBatch(seeds []uint64, vocab Vocabulary, augment bool) (*Batch, error) {
	const size = toyworld.Size
	n := len(seeds)
	b := &Batch{N: n, Size: size, Pixels: make([]float32, n*size*size*3), Labels: make([][NumHeads]int32, n),
		Truth: make([]toyworld.Labels, n)}
	errs := make([]error, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				img, labels, err := toyworld.Render(SampleScene(seeds[i]))
				if err != nil {
					errs[i] = fmt.Errorf("judge: rendering example of seed %d: %w", seeds[i], err)
					continue
				}
				dst := b.Pixels[i*size*size*3 : (i+1)*size*size*3]
				for j, p := range img.Pix {
					dst[j] = float32(p)/127.5 - 1
				}
				if augment {
					Augment(dst, size, seeds[i])
				}
				b.Truth[i] = labels
				b.Labels[i], errs[i] = vocab.index(labels)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Augment perturbs one channels-last size×size image in [-1, 1] in place, as drawn from seed, so
// that the judge also holds up on the slightly soft or noisy pictures a small generator makes:
// in a quarter of the examples a 3×3 blur blended in by up to 60%, in a third Gaussian noise of
// standard deviation up to 0.08, and always a brightness and contrast change of up to ±4%.
func Augment(pix []float32, size int, seed uint64) {
	r := rand.New(rand.NewPCG(mix64(seed^0xa5a5a5a5), 7))
	if r.Float64() < 0.25 {
		blend := float32(r.Float64() * 0.6)
		blurred := boxBlur3(pix, size)
		for i := range pix {
			pix[i] += blend * (blurred[i] - pix[i])
		}
	}
	if r.Float64() < 1.0/3 {
		sigma := r.Float64() * 0.08
		for i := range pix {
			pix[i] += float32(r.NormFloat64() * sigma)
		}
	}
	gain := float32(1 + (r.Float64()*2-1)*0.04)
	shift := float32((r.Float64()*2 - 1) * 0.04)
	for i, v := range pix {
		pix[i] = float32(math.Max(-1, math.Min(1, float64(v*gain+shift))))
	}
}

// boxBlur3 is the 3×3 mean of a channels-last image, the border replicated.
func boxBlur3(pix []float32, size int) []float32 {
	out := make([]float32, len(pix))
	for y := range size {
		for x := range size {
			for c := range 3 {
				var s float32
				for dy := -1; dy <= 1; dy++ {
					yy := min(max(y+dy, 0), size-1)
					for dx := -1; dx <= 1; dx++ {
						xx := min(max(x+dx, 0), size-1)
						s += pix[(yy*size+xx)*3+c]
					}
				}
				out[(y*size+x)*3+c] = s / 9
			}
		}
	}
	return out
}
