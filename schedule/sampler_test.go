package schedule

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
)

var (
	_ Stochastic = (*DDPM)(nil)
	_ Stochastic = (*DDIM)(nil)
	_ Sampler    = (*PNDM)(nil)
	_ Sampler    = (*Euler)(nil)
	_ Sampler    = (*DPMSolver)(nil)
)

// startSample is a deterministic x_T of n values in about [-1.5, 1.5].
func startSample(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(1.5 * math.Sin(float64(i)*1.7+0.3))
	}
	return x
}

// asPrediction wraps fixtureModel (an ε-model) as the same model predicting v or x₀, given ᾱ at
// the model input's timestep.
func asPrediction(prediction string, alpha func(t float64) float64) func([]float32, float64) []float32 {
	return func(xin []float32, t float64) []float32 {
		eps := fixtureModel(xin, t)
		a := alpha(t)
		sa, sb := math.Sqrt(a), math.Sqrt(1-a)
		out := make([]float32, len(xin))
		for i := range xin {
			e := float64(eps[i])
			x0 := (float64(xin[i]) - sb*e) / sa
			switch prediction {
			case PredictV:
				out[i] = float32(sa*e - sb*x0)
			case PredictSample:
				out[i] = float32(x0)
			default:
				out[i] = eps[i]
			}
		}
		return out
	}
}

// run is runSampler with any model.
func run(t *testing.T, s Sampler, n int, x []float32, model func([]float32, float64) []float32) []float32 {
	t.Helper()
	if err := s.SetTimesteps(n); err != nil {
		t.Fatal(err)
	}
	for _, ts := range s.Timesteps() {
		xin, err := s.ScaleModelInput(x, ts)
		if err != nil {
			t.Fatal(err)
		}
		if x, err = s.Step(model(xin, ts), ts, x); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// The same model expressed as ε, v or x₀ prediction gives the same samples: this checks each
// sampler's v- and sample-prediction branches against the ε branch the fixtures check.
func TestPredictionTypesAgree(t *testing.T) {
	for _, tc := range []struct {
		class string
		edit  func(*Config)
		preds []string
	}{
		{ClassDDIM, nil, []string{PredictV, PredictSample}},
		{ClassDDPM, nil, []string{PredictV, PredictSample}},
		{ClassEuler, nil, []string{PredictV, PredictSample}},
		{ClassDPMSolver, nil, []string{PredictV, PredictSample}},
		{ClassDPMSolver, func(c *Config) { c.AlgorithmType, c.FinalSigmasType = "dpmsolver", "sigma_min" },
			[]string{PredictV, PredictSample}},
		{ClassDPMSolver, func(c *Config) { c.SolverOrder, c.SolverType = 3, "heun" }, []string{PredictV, PredictSample}},
	} {
		mk := func(pred string) Sampler {
			s, err := FromConfig(sdConfig(t, tc.class, 1000, func(c *Config) {
				if tc.edit != nil {
					tc.edit(c)
				}
				c.PredictionType = pred
			}))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		ref := mk(PredictEpsilon)
		ac := ref.Schedule().AlphasCumprod()
		alpha := func(t float64) float64 { return float64(ac[int(t)]) }
		x := startSample(2 * 4 * 4 * 4)
		want := run(t, ref, 10, x, fixtureModel)
		for _, pred := range tc.preds {
			got := run(t, mk(pred), 10, x, asPrediction(pred, alpha))
			rel := fixtures.RelErr(got, want)
			label := tc.class
			if c := ref.Config(); tc.class == ClassDPMSolver {
				label += fmt.Sprintf(" %s order %d %s", c.AlgorithmType, c.SolverOrder, c.SolverType)
			}
			t.Logf("%s: %s run vs epsilon run: rel %.3g", label, pred, rel)
			if rel > 1e-5 {
				t.Errorf("%s: %s run differs from the epsilon run by %.3g", tc.class, pred, rel)
			}
		}
	}
}

// PNDM converts its combined v output with the current sample, so only the first step of a v
// run equals the ε run's.
func TestPNDMVFirstStep(t *testing.T) {
	x := startSample(64)
	var outs [2][]float32
	for i, pred := range []string{PredictEpsilon, PredictV} {
		s, err := NewPNDM(sdConfig(t, ClassPNDM, 1000, func(c *Config) { c.SkipPRKSteps, c.PredictionType = true, pred }))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetTimesteps(10); err != nil {
			t.Fatal(err)
		}
		ac := s.Schedule().AlphasCumprod()
		t0 := s.Timesteps()[0]
		model := asPrediction(pred, func(t float64) float64 { return float64(ac[int(t)]) })
		if outs[i], err = s.Step(model(x, t0), t0, x); err != nil {
			t.Fatal(err)
		}
	}
	if rel := fixtures.RelErr(outs[1], outs[0]); rel > 1e-6 {
		t.Errorf("PNDM v first step differs from ε by %.3g", rel)
	}
}

// SetTimesteps starts a fresh run: history and step counters are reset.
func TestSetTimestepsResets(t *testing.T) {
	for _, class := range []string{ClassDDIM, ClassPNDM, ClassEuler, ClassDPMSolver} {
		s, err := FromConfig(sdConfig(t, class, 1000, func(c *Config) { c.SkipPRKSteps = true }))
		if err != nil {
			t.Fatal(err)
		}
		x := startSample(32)
		a := run(t, s, 7, x, fixtureModel)
		run(t, s, 4, x, fixtureModel) // a different run in between
		b := run(t, s, 7, x, fixtureModel)
		if fixtures.RelErr(a, b) != 0 {
			t.Errorf("%s: second run differs from the first", class)
		}
	}
}

func TestStepErrors(t *testing.T) {
	for _, class := range []string{ClassDDPM, ClassDDIM, ClassPNDM, ClassEuler, ClassDPMSolver} {
		s, err := FromConfig(sdConfig(t, class, 1000, func(c *Config) { c.SkipPRKSteps = true }))
		if err != nil {
			t.Fatal(err)
		}
		x := startSample(8)
		if _, err := s.Step(x, 999, x); !errors.Is(err, ErrNoTimesteps) {
			t.Errorf("%s: Step before SetTimesteps: %v", class, err)
		}
		if err := s.SetTimesteps(5); err != nil {
			t.Fatal(err)
		}
		t0 := s.Timesteps()[0]
		if _, err := s.Step(x[:4], t0, x); err == nil {
			t.Errorf("%s: Step with a short model output gave no error", class)
		}
		if _, err := s.Step(x, 12.5, x); err == nil {
			t.Errorf("%s: Step at t=12.5 gave no error", class)
		}
	}
	// Euler and DPM-Solver count steps: one too many, or one out of order, is an error; a run
	// may start mid-schedule (image-to-image).
	for _, class := range []string{ClassEuler, ClassDPMSolver} {
		s, _ := FromConfig(sdConfig(t, class, 1000, nil))
		x := run(t, s, 3, startSample(8), fixtureModel)
		if _, err := s.Step(x, 0, x); err == nil {
			t.Errorf("%s: a Step past the last timestep gave no error", class)
		}
		if err := s.SetTimesteps(5); err != nil {
			t.Fatal(err)
		}
		ts := s.Timesteps()
		var err error
		if x, err = s.Step(x, ts[2], x); err != nil {
			t.Fatalf("%s: starting at the third timestep: %v", class, err)
		}
		if _, err = s.Step(x, ts[2], x); err == nil {
			t.Errorf("%s: repeating a timestep gave no error", class)
		}
		if _, err = s.Step(x, ts[3], x); err != nil {
			t.Errorf("%s: the next timestep after an error: %v", class, err)
		}
	}
}

// Euler with a model that always predicts x₀ = c follows the ODE exactly: x - c shrinks with
// σ, so the run ends at c.
func TestEulerConstantX0(t *testing.T) {
	s, err := NewEuler(sdConfig(t, ClassEuler, 1000, func(c *Config) { c.PredictionType = PredictSample }))
	if err != nil {
		t.Fatal(err)
	}
	const c = 0.25
	x := startSample(16)
	for i := range x {
		x[i] *= float32(s.InitNoiseSigma())
	}
	got := run(t, s, 10, x, func(xin []float32, _ float64) []float32 {
		out := make([]float32, len(xin))
		for i := range out {
			out[i] = c
		}
		return out
	})
	for i, v := range got {
		if math.Abs(float64(v)-c) > 1e-6 {
			t.Fatalf("x[%d] = %v, want %v", i, v, c)
		}
	}
}

func TestEulerInitNoiseSigma(t *testing.T) {
	sigma := func(s *Euler, t int) float64 {
		a := float64(s.Schedule().AlphasCumprod()[t])
		return math.Sqrt((1 - a) / a)
	}
	for _, spacing := range []string{SpacingLinspace, SpacingLeading} {
		s, err := NewEuler(sdConfig(t, ClassEuler, 1000, func(c *Config) { c.TimestepSpacing, c.StepsOffset = spacing, 1 }))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetTimesteps(10); err != nil {
			t.Fatal(err)
		}
		// linspace starts at t = 999 (σ ≈ 14.6146 for SD); leading at 901, with √(σ²+1).
		want := sigma(s, 999)
		if spacing == SpacingLeading {
			want = math.Sqrt(sigma(s, 901)*sigma(s, 901) + 1)
		}
		if got := s.InitNoiseSigma(); math.Abs(got-want) > 1e-5*want {
			t.Errorf("%s: InitNoiseSigma %v, want %v", spacing, got, want)
		}
	}
}

// Every sampler, spacing, prediction type and a range of step counts runs to finite samples.
func TestSamplersSmoke(t *testing.T) {
	type variant struct {
		class string
		edit  func(*Config)
	}
	variants := []variant{
		{ClassDDPM, func(c *Config) { c.VarianceType = "fixed_large" }},
		{ClassDDPM, nil},
		{ClassDDIM, nil},
		{ClassPNDM, nil},
		{ClassEuler, nil},
		{ClassEuler, func(c *Config) { c.InterpolationType, c.FinalSigmasType = "log_linear", "sigma_min" }},
		{ClassDPMSolver, nil},
		{ClassDPMSolver, func(c *Config) { c.SolverOrder, c.LowerOrderFinal = 3, false }},
		{ClassDPMSolver, func(c *Config) { c.AlgorithmType, c.FinalSigmasType, c.SolverType = "dpmsolver", "sigma_min", "heun" }},
		{ClassDPMSolver, func(c *Config) { c.SolverOrder, c.EulerAtFinal = 1, true }},
	}
	for _, v := range variants {
		for _, spacing := range []string{SpacingLeading, SpacingTrailing, SpacingLinspace} {
			for _, pred := range []string{PredictEpsilon, PredictV, PredictSample} {
				if v.class == ClassPNDM && pred == PredictSample {
					continue
				}
				s, err := FromConfig(sdConfig(t, v.class, 1000, func(c *Config) {
					if v.edit != nil {
						v.edit(c)
					}
					c.TimestepSpacing, c.PredictionType, c.StepsOffset, c.SkipPRKSteps = spacing, pred, 1, true
				}))
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range []int{1, 2, 3, 7, 25, 61} {
					x := run(t, s, n, startSample(16), fixtureModel)
					for i, val := range x {
						if math.IsNaN(float64(val)) || math.IsInf(float64(val), 0) {
							t.Fatalf("%s %s %s n=%d: x[%d] = %v", v.class, spacing, pred, n, i, val)
						}
					}
				}
			}
		}
	}
}
