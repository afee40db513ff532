package schedule

import (
	"math"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/safetensors"
)

// The fixtures' scheduler config (README, "schedulers"): Stable Diffusion's β range. The number
// of training steps is read from the tensors.
const (
	sdBetaStart = 0.00085
	sdBetaEnd   = 0.012
)

// parityTol is the brief's bound on max|got-want|/max|want| for the sampling runs.
const parityTol = 1e-5

func sdConfig(t *testing.T, class string, numTrain int, edit func(*Config)) Config {
	t.Helper()
	c, err := Defaults(class)
	if err != nil {
		t.Fatal(err)
	}
	c.NumTrainTimesteps, c.BetaSchedule, c.BetaStart, c.BetaEnd = numTrain, BetaScaledLinear, sdBetaStart, sdBetaEnd
	if edit != nil {
		edit(&c)
	}
	return c
}

func TestAlphasCumprodParity(t *testing.T) {
	f := fixtures.IO(t, "schedulers")
	for _, tc := range []struct {
		name, schedule string
		start, end     float64
	}{
		{"alphas_cumprod", BetaScaledLinear, sdBetaStart, sdBetaEnd},
		{"alphas_cumprod_linear", BetaLinear, 1e-4, 0.02},
		{"alphas_cumprod_cosine", BetaSquaredCosCapV2, 0, 0},
	} {
		want, _ := fixtures.Float32(t, f, tc.name)
		betas, err := Betas(tc.schedule, len(want), tc.start, tc.end)
		if err != nil {
			t.Fatal(err)
		}
		got := AlphasCumprod(betas)
		differ := 0
		for i := range want {
			if got[i] != want[i] {
				differ++
			}
		}
		rel := fixtures.RelErr(got, want)
		t.Logf("%s: max rel err %.3g, %d of %d values not bit-identical", tc.name, rel, differ, len(want))
		if rel > 1e-6 {
			t.Errorf("%s: max rel err %.3g", tc.name, rel)
		}
	}
}

func TestAddNoiseVelocityParity(t *testing.T) {
	f := fixtures.IO(t, "schedulers")
	ac, _ := fixtures.Float32(t, f, "alphas_cumprod")
	s, err := NewSchedule(sdConfig(t, ClassDDPM, len(ac), nil))
	if err != nil {
		t.Fatal(err)
	}
	x0, _ := fixtures.Float32(t, f, "x0")
	noise, _ := fixtures.Float32(t, f, "noise")
	ts := fixtureInts(t, f, "t")
	for name, fn := range map[string]func([]float32, []float32, []int) ([]float32, error){
		"add_noise": s.AddNoise,
		"velocity":  s.Velocity,
	} {
		want, _ := fixtures.Float32(t, f, name)
		got, err := fn(x0, noise, ts)
		if err != nil {
			t.Fatal(err)
		}
		rel := fixtures.RelErr(got, want)
		t.Logf("%s: max rel err %.3g", name, rel)
		if rel > 1e-6 {
			t.Errorf("%s: max rel err %.3g", name, rel)
		}
	}
}

// samplerCases are the fixture's sampling runs and the configs that made them.
var samplerCases = []struct {
	name, class string
	edit        func(*Config)
	repeated    int  // how many more timesteps than inference steps (PNDM: 1)
	noRun       bool // stochastic: compare timesteps only
}{
	{name: "ddim", class: ClassDDIM, edit: func(c *Config) {
		c.ClipSample, c.SetAlphaToOne, c.StepsOffset = false, false, 1
	}},
	{name: "ddim_v", class: ClassDDIM, edit: func(c *Config) {
		c.ClipSample, c.SetAlphaToOne, c.StepsOffset, c.PredictionType = false, false, 1, PredictV
	}},
	{name: "euler", class: ClassEuler, edit: func(c *Config) { c.StepsOffset = 1 }},
	{name: "dpmpp2m", class: ClassDPMSolver},
	{name: "pndm", class: ClassPNDM, repeated: 1, edit: func(c *Config) {
		c.SkipPRKSteps, c.SetAlphaToOne, c.StepsOffset = true, false, 1
	}},
	{name: "ddpm_sample", class: ClassDDPM, noRun: true},
}

// fixtureModel is the fixture's stand-in for a U-Net: 0.3·x + 0.1·cos(3x + t/100).
func fixtureModel(x []float32, t float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(0.3*float64(v) + 0.1*math.Cos(3*float64(v)+t/100))
	}
	return out
}

// runSampler is the fixture's loop: set_timesteps(n), then scale, model, step for each t.
func runSampler(t *testing.T, s Sampler, n int, x []float32) []float32 {
	t.Helper()
	if err := s.SetTimesteps(n); err != nil {
		t.Fatal(err)
	}
	for _, ts := range s.Timesteps() {
		xin, err := s.ScaleModelInput(x, ts)
		if err != nil {
			t.Fatal(err)
		}
		if x, err = s.Step(fixtureModel(xin, ts), ts, x); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func TestSamplersParity(t *testing.T) {
	f := fixtures.IO(t, "schedulers")
	ac, _ := fixtures.Float32(t, f, "alphas_cumprod")
	for _, tc := range samplerCases {
		t.Run(tc.name, func(t *testing.T) {
			want, _ := fixtures.Float32(t, f, tc.name+"_timesteps")
			n := len(want) - tc.repeated
			s, err := FromConfig(sdConfig(t, tc.class, len(ac), tc.edit))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetTimesteps(n); err != nil {
				t.Fatal(err)
			}
			got := s.Timesteps()
			if len(got) != len(want) {
				t.Fatalf("timesteps %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != float64(want[i]) {
					t.Fatalf("timesteps %v, want %v", got, want)
				}
			}
			t.Logf("%s_timesteps (n=%d): exact %v", tc.name, n, got)
			if tc.noRun {
				return
			}
			xT, _ := fixtures.Float32(t, f, tc.name+"_x_T")
			want0, _ := fixtures.Float32(t, f, tc.name+"_x_0")
			// x_T is the starting sample itself (already scaled by init_noise_sigma).
			x0 := runSampler(t, s, n, xT)
			rel := fixtures.RelErr(x0, want0)
			t.Logf("%s_x_0: max rel err %.3g", tc.name, rel)
			if rel > parityTol {
				t.Errorf("%s_x_0: max rel err %.3g > %g", tc.name, rel, parityTol)
			}
		})
	}
}

// fixtureInts reads an integer tensor as []int.
func fixtureInts(t *testing.T, f *safetensors.File, name string) []int {
	t.Helper()
	v, _ := fixtures.Int64(t, f, name)
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}
