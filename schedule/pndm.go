package schedule

import (
	"fmt"
	"math"
	"slices"
)

// PNDM is diffusers' PNDMScheduler with skip_prk_steps=true (the Stable Diffusion 1.x default):
// the pseudo linear multistep (PLMS) sampler of Liu, Ren, Lin & Zhao, "Pseudo Numerical
// Methods for Diffusion Models on Manifolds" (arXiv:2202.09778). It combines up to four past
// ε outputs with the Adams-Bashforth weights (1), (3,-1)/2, (23,-16,5)/12, (55,-59,37,-9)/24
// and moves along the DDIM transfer φ. To get a second ε before the first multistep, its
// first timestep is visited twice: the second visit averages the two ε and redoes step one
// from the starting sample (so Timesteps has n+1 entries).
type PNDM struct {
	base
	finalAlpha float64
	ets        [][]float32 // past ε (model outputs), oldest first, at most 4
	counter    int         // steps taken since SetTimesteps
	curSample  []float32   // the starting sample, kept for the repeated first step
}

// NewPNDM builds a PNDM (PLMS) sampler from cfg (any class's config, read as PNDMScheduler's).
func NewPNDM(cfg Config) (*PNDM, error) {
	b, err := newBase(cfg, ClassPNDM)
	if err != nil {
		return nil, err
	}
	s := &PNDM{base: b, finalAlpha: 1}
	if !b.cfg.SetAlphaToOne {
		s.finalAlpha = b.sched.alpha(0)
	}
	return s, nil
}

// SetTimesteps implements Sampler: n+1 timesteps, the first repeated (for n ≥ 2).
func (s *PNDM) SetTimesteps(n int) error {
	if err := checkSteps(n, s.numTrain()); err != nil {
		return err
	}
	desc, err := discreteTimesteps(s.cfg.TimestepSpacing, n, s.numTrain(), s.cfg.StepsOffset)
	if err != nil {
		return err
	}
	asc := slices.Clone(desc)
	slices.Reverse(asc)
	// diffusers: concatenate(ts[:-1], ts[-2:-1], ts[-1:])[::-1] over the ascending ts.
	plms := append(slices.Clone(asc[:len(asc)-1]), asc[max(len(asc)-2, 0):len(asc)-1]...)
	plms = append(plms, asc[len(asc)-1])
	slices.Reverse(plms)
	s.setInts(n, plms)
	s.ets, s.counter, s.curSample = nil, 0, nil
	return nil
}

// InitNoiseSigma implements Sampler: 1.
func (s *PNDM) InitNoiseSigma() float64 { return 1 }

// ScaleModelInput implements Sampler: x unchanged.
func (s *PNDM) ScaleModelInput(x []float32, t float64) ([]float32, error) { return x, nil }

// Step implements Sampler. Steps must follow Timesteps in order: PNDM counts them.
func (s *PNDM) Step(modelOutput []float32, t float64, x []float32) ([]float32, error) {
	if err := s.checkStep(modelOutput, x); err != nil {
		return nil, err
	}
	ti, err := s.trainIndex(t)
	if err != nil {
		return nil, err
	}
	ratio := s.numTrain() / s.numSteps
	from, to := ti, ti-ratio
	if s.counter == 1 {
		// The repeated first timestep: redo the first step from the starting sample.
		from, to = ti+ratio, ti
	} else {
		s.ets = append(s.ets, slices.Clone(modelOutput))
		if len(s.ets) > 4 {
			s.ets = s.ets[len(s.ets)-4:]
		}
	}
	if from >= s.numTrain() {
		return nil, s.errOrder(t)
	}
	for _, past := range s.ets {
		if len(past) != len(x) {
			return nil, s.errOrder(t)
		}
	}
	eps := make([]float64, len(x))
	sample := x
	e := s.ets
	switch {
	case len(e) == 1 && s.counter == 0:
		s.curSample = slices.Clone(x)
		for i, v := range modelOutput {
			eps[i] = float64(v)
		}
	case len(e) == 1 && s.counter == 1:
		if s.curSample == nil || len(s.curSample) != len(x) {
			return nil, s.errOrder(t)
		}
		sample, s.curSample = s.curSample, nil
		for i, v := range modelOutput {
			eps[i] = (float64(v) + float64(e[0][i])) / 2
		}
	case len(e) == 2:
		for i := range eps {
			eps[i] = (3*float64(e[1][i]) - float64(e[0][i])) / 2
		}
	case len(e) == 3:
		for i := range eps {
			eps[i] = (23*float64(e[2][i]) - 16*float64(e[1][i]) + 5*float64(e[0][i])) / 12
		}
	default:
		for i := range eps {
			eps[i] = (55*float64(e[3][i]) - 59*float64(e[2][i]) + 37*float64(e[1][i]) - 9*float64(e[0][i])) / 24
		}
	}
	out := s.prevSample(sample, from, to, eps)
	s.counter++
	return out, nil
}

func (s *PNDM) errOrder(t float64) error {
	return fmt.Errorf("schedule: %s: step %d at timestep %v out of order (call Step once per "+
		"Timesteps() entry, in order, with same-size samples, after SetTimesteps)", ClassPNDM, s.counter, t)
}

// prevSample is the transfer φ(x_t, ε, t, t') of the PNDM paper (Eq. 11), diffusers'
// _get_prev_sample.
func (s *PNDM) prevSample(x []float32, t, prev int, eps []float64) []float32 {
	a, aPrev := s.sched.alpha(t), s.finalAlpha
	if prev >= 0 {
		aPrev = s.sched.alpha(prev)
	}
	b, bPrev := 1-a, 1-aPrev
	sampleCoeff := math.Sqrt(aPrev / a)
	denom := a*math.Sqrt(bPrev) + math.Sqrt(a*b*aPrev)
	v := s.cfg.PredictionType == PredictV
	out := make([]float32, len(x))
	for i := range x {
		xi, e := float64(x[i]), eps[i]
		if v {
			e = math.Sqrt(a)*e + math.Sqrt(b)*xi
		}
		out[i] = float32(sampleCoeff*xi - (aPrev-a)*e/denom)
	}
	return out
}
