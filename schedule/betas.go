package schedule

import (
	"fmt"
	"math"
)

// β schedule names, as diffusers spells them in scheduler_config.json.
const (
	BetaLinear          = "linear"            // β evenly spaced from beta_start to beta_end
	BetaScaledLinear    = "scaled_linear"     // √β evenly spaced (Stable Diffusion)
	BetaSquaredCosCapV2 = "squaredcos_cap_v2" // the cosine ᾱ of Nichol & Dhariwal, β capped at 0.999
)

// cosineMaxBeta is diffusers' max_beta for squaredcos_cap_v2.
const cosineMaxBeta = 0.999

// Betas returns β_0 … β_{numTrain-1} for a named schedule, as the float32 values diffusers
// makes: torch.linspace in float32 for linear and scaled_linear (squared in float32 for the
// latter, so √beta_start is the float64 square root rounded to float32), and betas_for_alpha_bar in float64 rounded to float32 for squaredcos_cap_v2
// (betaStart and betaEnd are then unused).
func Betas(schedule string, numTrain int, betaStart, betaEnd float64) ([]float32, error) {
	if numTrain < 1 {
		return nil, fmt.Errorf("schedule: num_train_timesteps %d, want ≥ 1", numTrain)
	}
	switch schedule {
	case BetaLinear:
		return torchLinspace32(betaStart, betaEnd, numTrain), nil
	case BetaScaledLinear:
		b := torchLinspace32(math.Sqrt(betaStart), math.Sqrt(betaEnd), numTrain)
		for i, v := range b {
			b[i] = v * v
		}
		return b, nil
	case BetaSquaredCosCapV2:
		return cosineBetas(numTrain, cosineMaxBeta), nil
	}
	return nil, fmt.Errorf("schedule: beta_schedule %q is not supported (want %q, %q or %q)",
		schedule, BetaLinear, BetaScaledLinear, BetaSquaredCosCapV2)
}

// torchLinspace32 reproduces torch.linspace(start, end, steps, dtype=float32) on the CPU
// bit for bit: the end points and the step are float32, the first half counts up from start
// and the second half down from end, and each value is one fused multiply-add (the kernel is
// compiled with FMA contraction), so it is rounded once.
func torchLinspace32(start, end float64, steps int) []float32 {
	out := make([]float32, steps)
	s, e := float32(start), float32(end)
	if steps == 1 {
		out[0] = s
		return out
	}
	step := (e - s) / float32(steps-1)
	half := steps / 2
	for i := range out {
		if i < half {
			out[i] = fma32(step, float32(i), s)
		} else {
			out[i] = fma32(-step, float32(steps-i-1), e)
		}
	}
	return out
}

// fma32 is a*b+c rounded once to float32 (to nearest, ties to even).
//
// The product of two float32 is exact in float64, so only the sum can round twice (to
// float64, then to float32). That matters only when the float64 sum lands exactly on the
// midpoint between two float32 neighbours; then the sign of the sum's rounding error decides.
func fma32(a, b, c float32) float32 {
	p, q := float64(a)*float64(b), float64(c)
	s := p + q
	// TwoSum: s + e == p + q exactly.
	bv := s - p
	e := (p - (s - bv)) + (q - bv)
	r := float32(s)
	if e == 0 || float64(r) == s {
		return r
	}
	lo, hi := r, r
	if float64(r) < s {
		hi = math.Nextafter32(r, float32(math.Inf(1)))
	} else {
		lo = math.Nextafter32(r, float32(math.Inf(-1)))
	}
	if mid := (float64(lo) + float64(hi)) / 2; s != mid {
		return r
	}
	if e > 0 {
		return hi
	}
	return lo
}

// cosineBetas is diffusers' betas_for_alpha_bar with the "cosine" transform:
// β_i = min(1 - ᾱ((i+1)/n) / ᾱ(i/n), maxBeta) with ᾱ(t) = cos²((t+0.008)/1.008 · π/2).
func cosineBetas(n int, maxBeta float64) []float32 {
	alphaBar := func(t float64) float64 {
		c := math.Cos((t + 0.008) / 1.008 * math.Pi / 2)
		return c * c
	}
	out := make([]float32, n)
	for i := range out {
		t1 := float64(i) / float64(n)
		t2 := float64(i+1) / float64(n)
		out[i] = float32(math.Min(1-alphaBar(t2)/alphaBar(t1), maxBeta))
	}
	return out
}

// AlphasCumprod returns ᾱ_t = Π_{s≤t} (1 - β_s) as diffusers computes it: α = 1 - β in float32,
// then torch.cumprod, which on the CPU accumulates in float64 and rounds each output to float32.
func AlphasCumprod(betas []float32) []float32 {
	out := make([]float32, len(betas))
	acc := 1.0
	for i, b := range betas {
		acc *= float64(1 - b)
		out[i] = float32(acc)
	}
	return out
}
