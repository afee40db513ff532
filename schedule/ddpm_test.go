package schedule

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
)

func newSDDDPM(t *testing.T) *DDPM {
	t.Helper()
	s, err := NewDDPM(sdConfig(t, ClassDDPM, 1000, nil))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The same seed gives the same samples; another seed other samples.
func TestDDPMDeterminism(t *testing.T) {
	x := startSample(64)
	sample := func(seed uint64) []float32 {
		s := newSDDDPM(t)
		s.Seed(seed)
		return run(t, s, 10, x, fixtureModel)
	}
	a, b, c := sample(7), sample(7), sample(8)
	if !slices.Equal(a, b) {
		t.Error("two runs with seed 7 differ")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 7 and 8 give the same samples")
	}
	// SetRand with an equivalent source is the same as Seed.
	s := newSDDDPM(t)
	s.SetRand(rand.New(rand.NewPCG(7, 7)))
	if d := run(t, s, 10, x, fixtureModel); !slices.Equal(a, d) {
		t.Error("SetRand(PCG(7, 7)) differs from Seed(7)")
	}
	// An unseeded sampler repeats too (seed 0).
	if e, f := run(t, newSDDDPM(t), 10, x, fixtureModel), run(t, newSDDDPM(t), 10, x, fixtureModel); !slices.Equal(e, f) {
		t.Error("two default-seeded runs differ")
	}
}

// One DDPM step is the posterior mean plus σ·z with σ² the posterior variance
// (1-ᾱ_{t'})/(1-ᾱ_t)·β̃ ("fixed_small"); at t = 0 no noise is added.
func TestDDPMStepMoments(t *testing.T) {
	s := newSDDDPM(t)
	s.cfg.ClipSample = false
	if err := s.SetTimesteps(10); err != nil {
		t.Fatal(err)
	}
	ac := s.Schedule().AlphasCumprod()
	const n = 200000
	x := make([]float32, n)
	eps := make([]float32, n)
	for i := range x {
		x[i], eps[i] = 0.5, 0.1
	}
	tt, next := 500.0, 400 // timesteps 900, 800, …: 500 is followed by 400
	out, err := s.Step(eps, tt, x)
	if err != nil {
		t.Fatal(err)
	}
	a, aPrev := float64(ac[500]), float64(ac[next])
	alpha, beta := a/aPrev, 1-a/aPrev
	x0 := (0.5 - math.Sqrt(1-a)*0.1) / math.Sqrt(a)
	wantMean := math.Sqrt(aPrev)*beta/(1-a)*x0 + math.Sqrt(alpha)*(1-aPrev)/(1-a)*0.5
	wantStd := math.Sqrt((1 - aPrev) / (1 - a) * beta)
	var sum, sq float64
	for _, v := range out {
		sum += float64(v)
	}
	mean := sum / n
	for _, v := range out {
		sq += (float64(v) - mean) * (float64(v) - mean)
	}
	std := math.Sqrt(sq / n)
	if math.Abs(mean-wantMean) > 4*wantStd/math.Sqrt(n) || math.Abs(std/wantStd-1) > 0.01 {
		t.Errorf("step at t=500: mean %.6f std %.6f, want %.6f and %.6f", mean, std, wantMean, wantStd)
	}

	// The last step (t = 0) is the posterior mean, whatever the seed.
	var last [2][]float32
	for i, seed := range []uint64{1, 2} {
		s.Seed(seed)
		if last[i], err = s.Step(eps[:8], 0, x[:8]); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(last[0], last[1]) {
		t.Error("the t = 0 step depends on the seed")
	}
}

// DDIM with η > 0 draws noise from its seeded source; η = 0 is deterministic.
func TestDDIMEta(t *testing.T) {
	x := startSample(64)
	mk := func(eta float64, seed uint64) []float32 {
		s, err := NewDDIM(sdConfig(t, ClassDDIM, 1000, func(c *Config) { c.ClipSample = false }))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetEta(eta); err != nil {
			t.Fatal(err)
		}
		s.SetRand(rand.New(rand.NewPCG(seed, 1)))
		return run(t, s, 10, x, fixtureModel)
	}
	if !slices.Equal(mk(0, 1), mk(0, 2)) {
		t.Error("η = 0 depends on the seed")
	}
	if !slices.Equal(mk(1, 3), mk(1, 3)) {
		t.Error("η = 1 with one seed differs between runs")
	}
	if rel := fixtures.RelErr(mk(1, 3), mk(0, 3)); rel < 1e-3 {
		t.Errorf("η = 1 is within %.3g of η = 0", rel)
	}
	s, _ := NewDDIM(sdConfig(t, ClassDDIM, 1000, nil))
	if err := s.SetEta(-0.5); err == nil {
		t.Error("SetEta(-0.5) gave no error")
	}
}

// clip_sample clamps the predicted x₀ to ±clip_sample_range before the DDIM update.
func TestDDIMClipSample(t *testing.T) {
	s, err := NewDDIM(sdConfig(t, ClassDDIM, 1000, func(c *Config) {
		c.ClipSample, c.ClipSampleRange, c.SetAlphaToOne = true, 0.5, true
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTimesteps(10); err != nil {
		t.Fatal(err)
	}
	x, eps := []float32{3, -3, 0.01}, []float32{0, 0, 0}
	out, err := s.Step(eps, 900, x)
	if err != nil {
		t.Fatal(err)
	}
	ac := s.Schedule().AlphasCumprod()
	a, aPrev := float64(ac[900]), float64(ac[800])
	for i, want := range []float64{0.5, -0.5, 0.01 / math.Sqrt(a)} {
		if got, w := float64(out[i]), math.Sqrt(aPrev)*want; math.Abs(got-w) > 1e-6 {
			t.Errorf("x[%d]: %v, want √ᾱ_prev·%v = %v", i, got, want, w)
		}
	}
}
