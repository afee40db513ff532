package rewardmodel

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/internal/toyworld"
)

// Seeds. Every picture of the reward model's data is toyworld.GenericScene(seed) for one uint64
// seed (generic objects only: the model never sees a subject), and the ranges never meet:
//
//   - training example k of a run seeded s uses TrainSeed(s, k) = (s+1)·2⁴⁰ + k, at or above 2⁴⁰;
//   - the training program's held-out evaluation uses [EvalSeedStart, EvalSeedStart+EvalSize);
//   - the package's tests use [TestSeedStart, TestSeedStart+TestSize).
const (
	EvalSeedStart uint64 = 1_000_000
	EvalSize             = 2000
	TestSeedStart uint64 = 2_000_000
	TestSize             = 256
)

// TrainSeed is the seed of training example k of a run seeded with runSeed (see Seeds above).
func TrainSeed(runSeed uint64, k int) uint64 { return (runSeed+1)<<40 + uint64(k) }

// Attribute is what a hard-negative caption changes.
type Attribute int

const (
	Context Attribute = iota
	Color
	Class
	Accessory
)

func (a Attribute) String() string {
	switch a {
	case Context:
		return "context"
	case Color:
		return "colour"
	case Class:
		return "class"
	case Accessory:
		return "accessory"
	}
	return fmt.Sprintf("Attribute(%d)", int(a))
}

// Example is one captioned render.
type Example struct {
	Scene  toyworld.Scene
	Labels toyworld.Labels
	Image  *imaging.RGB
	// Caption is toyworld.Caption of the scene (it may leave the colour, context or accessory out).
	Caption string
	// Negative is the caption with one attribute it names (NegativeOf) swapped for another value:
	// a hard negative that differs from the truth in exactly one thing.
	Negative   string
	NegativeOf Attribute
}

// Describe is the full description of a render: its class, colour, context and accessory.
func Describe(l toyworld.Labels) toyworld.Intent {
	return toyworld.Intent{Class: l.Class, Color: l.Color, Context: l.Context, Accessory: l.Accessory}
}

// Swap returns in with attribute a changed to another value drawn from r, keeping the text one
// the world could draw (an accessory only on a live class, "is swimming in a pool" only for a
// live one). It reports false when in does not name a and so has nothing to swap.
func Swap(in toyworld.Intent, a Attribute, r *rand.Rand) (toyworld.Intent, bool) {
	live := func(class string) bool {
		for _, c := range toyworld.Classes() {
			if c.Word == class {
				return c.Live
			}
		}
		return false
	}
	switch a {
	case Context:
		if in.Context == "" {
			return in, false
		}
		var pool []string
		for _, c := range toyworld.Contexts() {
			if c.Phrase != in.Context && (!c.LiveOnly || live(in.Class)) {
				pool = append(pool, c.Phrase)
			}
		}
		in.Context = pool[r.IntN(len(pool))]
	case Color:
		if in.Color == "" {
			return in, false
		}
		var pool []string
		for _, c := range toyworld.Colors() {
			if c != in.Color {
				pool = append(pool, c)
			}
		}
		in.Color = pool[r.IntN(len(pool))]
	case Class:
		needLive := in.Accessory != ""
		for _, c := range toyworld.Contexts() {
			if c.Phrase == in.Context && c.LiveOnly {
				needLive = true
			}
		}
		var pool []string
		for _, c := range toyworld.Classes() {
			if c.Word != in.Class && (c.Live || !needLive) {
				pool = append(pool, c.Word)
			}
		}
		in.Class = pool[r.IntN(len(pool))]
	case Accessory:
		if in.Accessory == "" {
			return in, false
		}
		var pool []string
		for _, acc := range toyworld.Accessories() {
			if acc.Phrase != in.Accessory {
				pool = append(pool, acc.Phrase)
			}
		}
		in.Accessory = pool[r.IntN(len(pool))]
	default:
		return in, false
	}
	return in, true
}

// NewExample renders toyworld.GenericScene(seed) with its caption and a hard negative, all
// determined by seed.
func NewExample(seed uint64) (Example, error) {
	s := toyworld.GenericScene(seed)
	img, labels, err := toyworld.Render(s)
	if err != nil {
		return Example{}, fmt.Errorf("rewardmodel: seed %d: %w", seed, err)
	}
	caption, err := toyworld.Caption(s)
	if err != nil {
		return Example{}, fmt.Errorf("rewardmodel: seed %d: %w", seed, err)
	}
	in, err := toyworld.ParsePrompt(caption)
	if err != nil {
		return Example{}, fmt.Errorf("rewardmodel: seed %d: %w", seed, err)
	}
	r := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	var present []Attribute
	for _, a := range []Attribute{Context, Color, Class, Accessory} {
		if _, ok := Swap(in, a, r); ok {
			present = append(present, a)
		}
	}
	a := present[r.IntN(len(present))]
	neg, _ := Swap(in, a, r)
	return Example{Scene: s, Labels: labels, Image: img, Caption: caption, Negative: neg.Text(), NegativeOf: a}, nil
}

// NewExamples is NewExample for every seed, rendered on all cores, in the order of seeds.
func NewExamples(seeds []uint64) ([]Example, error) {
	out := make([]Example, len(seeds))
	errs := make([]error, len(seeds))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(seeds); i += workers {
				out[i], errs[i] = NewExample(seeds[i])
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SeedRange returns n consecutive seeds from start.
func SeedRange(start uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = start + uint64(i)
	}
	return out
}
