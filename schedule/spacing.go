package schedule

import (
	"fmt"
	"math"
)

// Timestep spacings, as diffusers spells them (see Table 2 of Lin et al., "Common Diffusion
// Noise Schedules and Sample Steps are Flawed", arXiv:2305.08891).
const (
	SpacingLeading  = "leading"  // 0, k, 2k, … (+ steps_offset), k = T // n: never reaches T-1
	SpacingTrailing = "trailing" // T-1, T-1-T/n, …: always starts at T-1
	SpacingLinspace = "linspace" // n points evenly spread over [0, T-1]
)

func checkSpacing(spacing string) error {
	switch spacing {
	case SpacingLeading, SpacingTrailing, SpacingLinspace:
		return nil
	}
	return fmt.Errorf("timestep_spacing %q is not supported (want %q, %q or %q)",
		spacing, SpacingLeading, SpacingTrailing, SpacingLinspace)
}

// checkSteps is the common check of SetTimesteps' n.
func checkSteps(n, numTrain int) error {
	if n < 1 {
		return fmt.Errorf("schedule: num_inference_steps %d, want ≥ 1", n)
	}
	if n > numTrain {
		return fmt.Errorf("schedule: num_inference_steps %d exceeds num_train_timesteps %d", n, numTrain)
	}
	return nil
}

// discreteTimesteps is the descending integer schedule DDPM and DDIM use for n inference
// steps out of numTrain (PNDM uses the same values in ascending order):
//
//	leading:  (i · (T // n))[::-1] + steps_offset
//	trailing: round(arange(T, 0, -T/n)) - 1, at most n of them (see trailing)
//	linspace: round(linspace(0, T-1, n))[::-1]
func discreteTimesteps(spacing string, n, numTrain, offset int) ([]int, error) {
	var ts []int
	switch spacing {
	case SpacingLeading:
		ratio := numTrain / n
		for i := n - 1; i >= 0; i-- {
			ts = append(ts, i*ratio+offset)
		}
	case SpacingTrailing:
		ts = trailing(float64(numTrain), numTrain, n)
	case SpacingLinspace:
		lin := numpyLinspace(0, float64(numTrain-1), n)
		for i := n - 1; i >= 0; i-- {
			ts = append(ts, int(math.RoundToEven(lin[i])))
		}
	default:
		return nil, checkSpacing(spacing)
	}
	if len(ts) > 0 && ts[0] >= numTrain {
		return nil, fmt.Errorf("schedule: steps_offset %d puts timestep %d past num_train_timesteps %d at %d inference steps",
			offset, ts[0], numTrain, n)
	}
	return ts, nil
}

// trailing is round(arange(from, 0, -T/n)) - 1 cut to its first n values.
//
// NumPy's arange sizes its result as ceil(from / (T/n)), which rounding makes n+1 for some n
// (T = 1000: n = 61, 103, 121, …); diffusers then schedules an extra timestep -1, which indexes
// ᾱ from the end. The cut drops that value and keeps every other one.
func trailing(from float64, numTrain, n int) []int {
	var ts []int
	for _, v := range numpyArange(from, 0, -float64(numTrain)/float64(n)) {
		if len(ts) == n {
			break
		}
		ts = append(ts, int(math.RoundToEven(v))-1)
	}
	return ts
}

// numpyLinspace reproduces np.linspace(start, stop, num) in float64: start + i·step with
// step = (stop-start)/(num-1), and the last point set to stop exactly.
func numpyLinspace(start, stop float64, num int) []float64 {
	out := make([]float64, num)
	if num == 1 {
		out[0] = start
		return out
	}
	step := (stop - start) / float64(num-1)
	for i := range out {
		out[i] = float64(i)*step + start
	}
	out[num-1] = stop
	return out
}

// numpyArange reproduces np.arange(start, stop, step) in float64: ceil((stop-start)/step)
// values start + i·δ, where δ = (start+step) - start as NumPy's fill computes it.
func numpyArange(start, stop, step float64) []float64 {
	n := int(math.Ceil((stop - start) / step))
	if n <= 0 {
		return nil
	}
	out := make([]float64, n)
	out[0] = start
	if n > 1 {
		next := start + step
		out[1] = next
		delta := next - start
		for i := 2; i < n; i++ {
			out[i] = start + float64(i)*delta
		}
	}
	return out
}
