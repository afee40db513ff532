package reward

import (
	"math"
	"strings"
	"testing"
)

// The paper's motivating example: the arithmetic mean cannot tell the two images apart, the
// harmonic reward can.
func TestHarmonicPaperExample(t *testing.T) {
	cases := []struct{ i, t, want float64 }{
		{0.9, 0.01, 0.020},
		{0.7, 0.21, 0.323},
	}
	for _, c := range cases {
		if mean := (c.i + c.t) / 2; math.Abs(mean-0.455) > 1e-9 {
			t.Fatalf("arithmetic mean of (%v, %v) = %v, want 0.455", c.i, c.t, mean)
		}
		got, err := Harmonic(0.5).Reward(c.i, c.t)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > 0.0005 {
			t.Errorf("Harmonic(0.5).Reward(%v, %v) = %.4f, want %.3f", c.i, c.t, got, c.want)
		}
	}
}

func TestHarmonicEndpointsAreExact(t *testing.T) {
	for _, s := range [][2]float64{{0.9, 0.01}, {0.33, 0.77}, {0, 1}, {1, 0}} {
		if got, _ := Harmonic(1).Reward(s[0], s[1]); got != s[0] {
			t.Errorf("λ=1: got %v, want ALIGN-I %v exactly", got, s[0])
		}
		if got, _ := Harmonic(0).Reward(s[0], s[1]); got != s[1] {
			t.Errorf("λ=0: got %v, want ALIGN-T %v exactly", got, s[1])
		}
	}
}

func TestHarmonicFormulaAndGuard(t *testing.T) {
	got, _ := Harmonic(0.3).Reward(0.8, 0.6)
	want := 1 / (0.3/(0.8+1e-8) + 0.7/(0.6+1e-8))
	if math.Abs(got-want) > 1e-15 {
		t.Fatalf("Harmonic(0.3).Reward(0.8, 0.6) = %v, want %v", got, want)
	}
	// A zero score gives a reward near zero, not a division by zero.
	z, err := Harmonic(0.3).Reward(0, 0.6)
	if err != nil || math.IsNaN(z) || math.IsInf(z, 0) || z > 1e-7 {
		t.Fatalf("Reward(0, 0.6) = %v, %v; want a finite value near 0", z, err)
	}
	// The harmonic mean never exceeds the arithmetic mean and lies between the two scores.
	for _, l := range []float64{0.1, 0.3, 0.5, 0.9} {
		r, _ := Harmonic(l).Reward(0.4, 0.9)
		if r < 0.4 || r > 0.9 || r > l*0.4+(1-l)*0.9 {
			t.Errorf("λ=%v: reward %v outside [min, weighted arithmetic mean]", l, r)
		}
	}
}

func TestHarmonicBatch(t *testing.T) {
	rs, err := Harmonic(0.5).Rewards([]float64{0.9, 0.7}, []float64{0.01, 0.21})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rs[0]-0.0198) > 1e-4 || math.Abs(rs[1]-0.3231) > 1e-4 {
		t.Fatalf("Rewards = %v", rs)
	}
	if _, err := Harmonic(0.5).Rewards([]float64{0.9}, nil); err == nil {
		t.Fatal("mismatched lengths accepted")
	}
}

func TestHarmonicErrors(t *testing.T) {
	for _, l := range []float64{-0.1, 1.5, math.NaN()} {
		if _, err := Harmonic(l).Reward(0.5, 0.5); err == nil || !strings.Contains(err.Error(), "λ") {
			t.Errorf("λ=%v: err = %v, want an error naming λ", l, err)
		}
	}
	for _, s := range [][2]float64{{-0.2, 0.5}, {0.5, 1.2}, {math.NaN(), 0.5}, {0.5, math.NaN()}} {
		if _, err := Harmonic(0.3).Reward(s[0], s[1]); err == nil || !strings.Contains(err.Error(), "ALIGN-") {
			t.Errorf("scores %v: err = %v, want an error naming the score", s, err)
		}
	}
	if _, err := Harmonic(0.3).Rewards([]float64{0.5, 2}, []float64{0.5, 0.5}); err == nil ||
		!strings.Contains(err.Error(), "ALIGN-I[1]") {
		t.Errorf("batch error %v should name ALIGN-I[1]", err)
	}
}

func TestNormalize(t *testing.T) {
	for _, c := range [][2]float64{{-1, 0}, {0, 0.5}, {1, 1}, {0.5, 0.75}, {1.0000001, 1}} {
		if got := Normalize(c[0]); math.Abs(got-c[1]) > 1e-12 {
			t.Errorf("Normalize(%v) = %v, want %v", c[0], got, c[1])
		}
	}
}
