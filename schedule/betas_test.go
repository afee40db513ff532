package schedule

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// fma32Big is a·b+c rounded once to float32, by arbitrary precision.
func fma32Big(a, b, c float32) float32 {
	p := new(big.Float).SetPrec(200).SetFloat64(float64(a))
	p.Mul(p, new(big.Float).SetFloat64(float64(b)))
	p.Add(p, new(big.Float).SetFloat64(float64(c)))
	r, _ := p.Float32()
	return r
}

func TestFMA32(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(a, b, c float32) {
		if got, want := fma32(a, b, c), fma32Big(a, b, c); got != want {
			t.Fatalf("fma32(%g, %g, %g) = %g, want %g", a, b, c, got, want)
		}
	}
	for range 200000 {
		a := float32(r.NormFloat64())
		b := float32(r.IntN(1000))
		c := float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(20)-10)))
		check(a, b, c)
	}
	// Sums whose float64 rounding lands exactly between two float32 (1+2⁻²³+2⁻²⁴) while the
	// exact value is 2⁻⁷⁰ off it: rounding twice would pick the even neighbour, wrongly.
	ulp := float32(math.Ldexp(1, -23))
	a, b := 1-ulp, float32(math.Ldexp(1, -24))*(1+ulp) // a·b = 2⁻²⁴ - 2⁻⁷⁰
	if fma32(a, b, 1+ulp) != 1+ulp || fma32(-a, b, -(1+ulp)) != -(1+ulp) {
		t.Errorf("fma32 near a float32 midpoint: %v, %v", fma32(a, b, 1+ulp), fma32(-a, b, -(1+ulp)))
	}
	check(a, b, 1+ulp)
	check(-a, b, -(1 + ulp))
	check(a, -b, 1+2*ulp)
}

func TestBetas(t *testing.T) {
	lin, err := Betas(BetaLinear, 5, 0.1, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float32{0.1, 0.2, 0.3, 0.4, 0.5} {
		if math.Abs(float64(lin[i]-want)) > 1e-7 {
			t.Errorf("linear β[%d] = %v, want %v", i, lin[i], want)
		}
	}
	sq, _ := Betas(BetaScaledLinear, 3, 0.01, 0.09) // √β: 0.1, 0.2, 0.3
	for i, want := range []float32{0.01, 0.04, 0.09} {
		if math.Abs(float64(sq[i]-want)) > 1e-7 {
			t.Errorf("scaled_linear β[%d] = %v, want %v", i, sq[i], want)
		}
	}
	cos, _ := Betas(BetaSquaredCosCapV2, 1000, 0, 0)
	if cos[999] != float32(cosineMaxBeta) || cos[0] <= 0 || cos[0] > 1e-3 {
		t.Errorf("squaredcos_cap_v2: β_0 = %v, β_999 = %v (want the 0.999 cap)", cos[0], cos[999])
	}
	if _, err := Betas("sigmoid", 10, 0, 1); err == nil {
		t.Error("Betas(sigmoid) gave no error")
	}
	if _, err := Betas(BetaLinear, 0, 0, 1); err == nil {
		t.Error("Betas with 0 steps gave no error")
	}
}

func TestScheduleFromTrainedBetas(t *testing.T) {
	c, _ := Defaults(ClassDDIM)
	c.NumTrainTimesteps, c.TrainedBetas = 3, []float64{0.1, 0.2, 0.5}
	s, err := NewSchedule(c)
	if err != nil {
		t.Fatal(err)
	}
	ac := s.AlphasCumprod()
	for i, want := range []float64{0.9, 0.72, 0.36} {
		if math.Abs(float64(ac[i])-want) > 1e-7 {
			t.Errorf("ᾱ[%d] = %v, want %v", i, ac[i], want)
		}
	}
	if s.NumTrainTimesteps() != 3 || len(s.Betas()) != 3 {
		t.Errorf("T = %d", s.NumTrainTimesteps())
	}
	// Copies: changing them leaves the schedule alone.
	ac[0] = 7
	if s.AlphasCumprod()[0] == 7 {
		t.Error("AlphasCumprod returned the schedule's own slice")
	}
}

func TestAddNoiseErrors(t *testing.T) {
	s, err := NewSchedule(sdConfig(t, ClassDDPM, 1000, nil))
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 12)
	for _, tc := range []struct {
		name  string
		noise []float32
		t     []int
	}{
		{"short noise", make([]float32, 11), []int{1, 2}},
		{"batch does not divide", x, []int{1, 2, 3, 4, 5}},
		{"no timesteps", x, nil},
		{"t too large", x, []int{1, 1000}},
		{"t negative", x, []int{-1, 3}},
	} {
		if _, err := s.AddNoise(x, tc.noise, tc.t); err == nil {
			t.Errorf("AddNoise, %s: no error", tc.name)
		}
		if _, err := s.Velocity(x, tc.noise, tc.t); err == nil {
			t.Errorf("Velocity, %s: no error", tc.name)
		}
	}
	// One timestep per batch item: item b uses t[b].
	x0 := []float32{1, 1, 1, 1}
	zero := make([]float32, 4)
	got, err := s.AddNoise(x0, zero, []int{0, 999})
	if err != nil {
		t.Fatal(err)
	}
	ac := s.AlphasCumprod()
	if got[1] != float32(math.Sqrt(float64(ac[0]))) || got[2] != float32(math.Sqrt(float64(ac[999]))) {
		t.Errorf("AddNoise per item: %v", got)
	}
}
