package preference

import (
	"math"
	"testing"
)

func TestProbability(t *testing.T) {
	if p := Probability(0.3, 0.3); p != 0.5 {
		t.Fatalf("equal rewards: %v, want 0.5", p)
	}
	if p := Probability(1, 0); math.Abs(p-1/(1+math.Exp(-1))) > 1e-15 {
		t.Fatalf("σ(1) = %v", p)
	}
	if p := Probability(-800, 0); p != 0 || math.IsNaN(p) {
		t.Fatalf("σ(-800) = %v, want 0 without overflow", p)
	}
	if p := Probability(800, 0); p != 1 {
		t.Fatalf("σ(800) = %v, want 1", p)
	}
}

// sigmoidTable is σ(gap) = 1/(1+e^−gap) at ordinary gaps, computed to 40 digits with Python's
// decimal module, independently of Probability.
var sigmoidTable = map[float64]float64{
	-5:   0.006692850924284855559361980381325180393743,
	-3:   0.04742587317756678087884815177175220138617,
	-1:   0.2689414213699951207488407581781637256349,
	-0.2: 0.4501660026875220914408474581608239082304,
	0:    0.5,
	0.05: 0.5124973964842103436615013321294471302511,
	0.5:  0.6224593312018545646389005657455084787532,
	2:    0.8807970779778824440597291413023967952061,
	5:    0.9933071490757151444406380196186748196061,
	30:   0.9999999999999064237703116070104616043737,
}

// Probability agrees with the independent table to float64 rounding, whichever pair of rewards
// makes the gap, and points the right way: the higher-rewarded reference is the likely winner.
func TestProbabilityTable(t *testing.T) {
	for gap, want := range sigmoidTable {
		for _, base := range []float64{0, 0.25, -0.7} {
			if got := Probability(base+gap, base); math.Abs(got-want) > 4e-16 {
				t.Errorf("Probability(%v, %v) = %.17g, want σ(%v) = %.17g", base+gap, base, got, gap, want)
			}
		}
	}
}

// Over 100,000 draws the frequency of y=1 lies within 4 standard deviations of σ(gap), taken from
// the independent table.
func TestSamplerFrequencies(t *testing.T) {
	const n = 100_000
	s := NewSampler(42)
	for _, gap := range []float64{-3, -1, -0.2, 0, 0.05, 0.5, 2} {
		p := sigmoidTable[gap]
		ones := 0
		for range n {
			y, err := s.Label(Pair{RewardReference: gap, RewardGenerated: 0})
			if err != nil {
				t.Fatal(err)
			}
			ones += int(y)
		}
		freq := float64(ones) / n
		sd := math.Sqrt(p * (1 - p) / n)
		if math.Abs(freq-p) > 4*sd {
			t.Errorf("gap %v: frequency %.4f, want σ(gap) = %.4f ± %.4f", gap, freq, p, 4*sd)
		}
	}
}

func TestSamplerDeterministicAndResumable(t *testing.T) {
	pairs := make([]Pair, 200)
	for i := range pairs {
		pairs[i] = Pair{RewardReference: float64(i%7) / 10, RewardGenerated: 0.3}
	}
	a, _ := NewSampler(7).Labels(pairs)
	b, _ := NewSampler(7).Labels(pairs)
	c, _ := NewSampler(8).Labels(pairs)
	same, diff := true, false
	for i := range a {
		same = same && a[i] == b[i]
		diff = diff || a[i] != c[i]
	}
	if !same || !diff {
		t.Fatalf("same seed same labels: %v; other seed other labels: %v", same, diff)
	}

	// Save the state half-way, restore it in a fresh sampler: the second half is the same.
	s := NewSampler(7)
	first, _ := s.Labels(pairs[:100])
	state, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var r Sampler
	if err := r.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	second, _ := r.Labels(pairs[100:])
	for i := range a {
		got := append(first, second...)[i]
		if got != a[i] {
			t.Fatalf("resumed labels differ at %d", i)
		}
	}
}

func TestSamplerRejectsNonFinite(t *testing.T) {
	if _, err := NewSampler(1).Label(Pair{RewardReference: math.NaN()}); err == nil {
		t.Fatal("NaN reward accepted")
	}
}

func TestPairsPerPrompt(t *testing.T) {
	prompts := []string{"a [V] dog on the Moon", "a green [V] dog", "a [V] dog on a subway platform"}
	pairs, err := PairsPerPrompt(prompts, 2, []float64{0.5, 0.6, 0.7}, [][]float64{{0.1, 0.2}, {0.3}, {0.4, 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 5 {
		t.Fatalf("%d pairs, want 5", len(pairs))
	}
	last := pairs[4]
	if last.Reference != 0 || last.Generated != 4 || last.Prompt != prompts[2] || last.RewardReference != 0.7 || last.RewardGenerated != 0.5 {
		t.Fatalf("last pair %+v", last)
	}
	if pairs[2].Reference != 1 || pairs[2].Generated != 2 {
		t.Fatalf("pair 2 %+v", pairs[2])
	}
	if _, err := PairsPerPrompt(prompts, 0, nil, nil); err == nil {
		t.Fatal("no references accepted")
	}
	if _, err := PairsPerPrompt(prompts, 1, []float64{1}, nil); err == nil {
		t.Fatal("mismatched lengths accepted")
	}
	if _, err := PairsPerPrompt(prompts[:1], 1, []float64{1}, [][]float64{{}}); err == nil {
		t.Fatal("prompt without generated images accepted")
	}
}
