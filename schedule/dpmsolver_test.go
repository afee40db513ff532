package schedule

import (
	"math"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
)

// simpson integrates f over [a, b].
func simpson(f func(float64) float64, a, b float64) float64 {
	const n = 2000
	h := (b - a) / n
	sum := f(a) + f(b)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		sum += w * f(a+float64(i)*h)
	}
	return sum * h / 3
}

// DPM-Solver's multistep updates are exact when the model's prediction is a polynomial in
// λ = log(α_t/σ_t) of degree < the step's order (order 2 in its Heun variant). The exact
// solution of the diffusion ODE from s to t is, per DPM-Solver++ Eq. 9 and DPM-Solver Eq. 3.4:
//
//	dpmsolver++: x_t = σ_t/σ_s·x_s + σ_t·∫ e^λ x̂₀(λ) dλ
//	dpmsolver:   x_t = α_t/α_s·x_s - α_t·∫ e^-λ ε̂(λ) dλ
//
// Order 3, as diffusers (and the reference DPM-Solver code) writes it, estimates the second
// derivative term as D2 = h²·∂²p/2 where the Taylor expansion needs h²·∂²p; so for a quadratic
// p it is exact for p with its curvature about λ_s halved, p(λ) - ∂²p/4·(λ-λ_s)², which this
// test integrates instead.
func TestDPMSolverExactOnPolynomials(t *testing.T) {
	for _, tc := range []struct {
		algorithm, prediction string
		order                 int
	}{
		{"dpmsolver++", PredictSample, 2},
		{"dpmsolver++", PredictSample, 3},
		{"dpmsolver", PredictEpsilon, 2},
		{"dpmsolver", PredictEpsilon, 3},
	} {
		s, err := NewDPMSolver(sdConfig(t, ClassDPMSolver, 1000, func(c *Config) {
			c.AlgorithmType, c.PredictionType, c.SolverOrder, c.SolverType = tc.algorithm, tc.prediction, tc.order, "heun"
			c.LowerOrderFinal, c.FinalSigmasType = false, "sigma_min"
		}))
		if err != nil {
			t.Fatal(err)
		}
		ac := s.Schedule().AlphasCumprod()
		lambda := func(t float64) float64 {
			a := float64(ac[int(t)])
			return 0.5 * math.Log(a/(1-a))
		}
		// Per element, a polynomial of degree order-1 in λ.
		const size = 6
		curv := func(i int) float64 { // half the second derivative
			if tc.order == 3 {
				return 0.02 * float64(i%2+1)
			}
			return 0
		}
		poly := func(i int, l float64) float64 {
			return 0.2*float64(i) - 0.5 + 0.1*float64(i%3+1)*l + curv(i)*l*l
		}
		model := func(t float64) []float32 {
			out := make([]float32, size)
			for i := range out {
				out[i] = float32(poly(i, lambda(t)))
			}
			return out
		}
		if err := s.SetTimesteps(10); err != nil {
			t.Fatal(err)
		}
		ts := s.Timesteps()
		x := startSample(size)
		worst := 0.0
		for i, tt := range ts {
			next, err := s.Step(model(tt), tt, x)
			if err != nil {
				t.Fatal(err)
			}
			if i >= tc.order-1 && i+1 < len(ts) { // full order from here on; the last step goes to σ_min
				ls, lt := lambda(tt), lambda(ts[i+1])
				as, ss := math.Sqrt(float64(ac[int(tt)])), math.Sqrt(1-float64(ac[int(tt)]))
				at, st := math.Sqrt(float64(ac[int(ts[i+1])])), math.Sqrt(1-float64(ac[int(ts[i+1])]))
				want := make([]float32, size)
				for j := range want {
					solved := func(l float64) float64 { return poly(j, l) - curv(j)/2*(l-ls)*(l-ls) }
					var v float64
					if tc.algorithm == "dpmsolver++" {
						v = st/ss*float64(x[j]) + st*simpson(func(l float64) float64 { return math.Exp(l) * solved(l) }, ls, lt)
					} else {
						v = at/as*float64(x[j]) - at*simpson(func(l float64) float64 { return math.Exp(-l) * solved(l) }, ls, lt)
					}
					want[j] = float32(v)
				}
				worst = math.Max(worst, fixtures.RelErr(next, want))
			}
			x = next
		}
		t.Logf("%s order %d: worst full-order step off the exact solution by %.3g (rel)", tc.algorithm, tc.order, worst)
		if worst > 1e-5 {
			t.Errorf("%s order %d: a step is off the exact ODE solution by %.3g", tc.algorithm, tc.order, worst)
		}
	}
}

// DPM-Solver++ at order 1 is DDIM (η = 0) between its timesteps.
func TestDPMSolverFirstOrderIsDDIM(t *testing.T) {
	s, err := NewDPMSolver(sdConfig(t, ClassDPMSolver, 1000, func(c *Config) { c.SolverOrder = 1 }))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTimesteps(8); err != nil {
		t.Fatal(err)
	}
	ac := s.Schedule().AlphasCumprod()
	ts := s.Timesteps()
	x := startSample(32)
	for i, tt := range ts {
		eps := fixtureModel(x, tt)
		got, err := s.Step(eps, tt, x)
		if err != nil {
			t.Fatal(err)
		}
		a, aNext := float64(ac[int(tt)]), 1.0 // final σ = 0: ᾱ = 1
		if i+1 < len(ts) {
			aNext = float64(ac[int(ts[i+1])])
		}
		want := make([]float32, len(x))
		for j := range x {
			x0 := (float64(x[j]) - math.Sqrt(1-a)*float64(eps[j])) / math.Sqrt(a)
			want[j] = float32(math.Sqrt(aNext)*x0 + math.Sqrt(1-aNext)*float64(eps[j]))
		}
		if rel := fixtures.RelErr(got, want); rel > 1e-5 {
			t.Fatalf("step %d (t=%v): rel err %.3g from DDIM", i, tt, rel)
		}
		x = got
	}
}
