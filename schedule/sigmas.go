package schedule

import (
	"math"
	"sort"
)

// The σ parametrisation of Karras et al. (arXiv:2206.00364) used by Euler and DPM-Solver:
// x_t = x₀ + σ_t·ε up to the scale √ᾱ_t, with σ_t = √((1-ᾱ_t)/ᾱ_t).

// sigmaTable returns σ_t for every training timestep as diffusers computes it: float32
// torch ops ((1-ᾱ)/ᾱ)**0.5, each rounded to float32.
func sigmaTable(alphasCumprod []float32) []float32 {
	out := make([]float32, len(alphasCumprod))
	for i, a := range alphasCumprod {
		out[i] = sqrt32((1 - a) / a)
	}
	return out
}

// sqrt32 is the correctly rounded float32 square root.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// interpSigmas is np.interp(ts, arange(len(table)), table) in float64, rounded to float32 as
// diffusers stores its sigmas.
func interpSigmas(ts []float64, table []float32) []float32 {
	out := make([]float32, len(ts))
	last := len(table) - 1
	for i, x := range ts {
		switch {
		case x <= 0:
			out[i] = table[0]
		case x >= float64(last):
			out[i] = table[last]
		default:
			j := sort.Search(last+1, func(k int) bool { return float64(k) > x }) - 1
			if float64(j) == x {
				out[i] = table[j]
				continue
			}
			lo, hi := float64(table[j]), float64(table[j+1])
			out[i] = float32((hi-lo)*(x-float64(j)) + lo)
		}
	}
	return out
}

// sigmaToAlphaSigma is diffusers' _sigma_to_alpha_sigma_t: α_t = 1/√(σ²+1), σ_t = σ·α_t, the
// signal and noise scales of the variance-preserving x_t.
func sigmaToAlphaSigma(sigma float64) (alphaT, sigmaT float64) {
	alphaT = 1 / math.Sqrt(sigma*sigma+1)
	return alphaT, sigma * alphaT
}

// finalSigma is the σ after the last step: 0 ("zero") or σ at t = 0 ("sigma_min").
func finalSigma(kind string, alphasCumprod []float32) float32 {
	if kind == "sigma_min" {
		a := alphasCumprod[0]
		return sqrt32((1 - a) / a)
	}
	return 0
}
