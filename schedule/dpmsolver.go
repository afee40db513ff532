package schedule

import (
	"fmt"
	"math"
)

// DPMSolver is diffusers' DPMSolverMultistepScheduler with its defaults: the multistep
// DPM-Solver++ of Lu et al., "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
// Probabilistic Models" (arXiv:2211.01095), order 2 ("2M"), which integrates the diffusion
// ODE exactly in its linear part, in λ = log(α_t/σ_t), and extrapolates the model's x̂₀
// linearly from the last two steps (Algorithm 2). algorithm_type "dpmsolver" is the original
// DPM-Solver (Lu et al., arXiv:2206.00927) on ε̂; solver_order 1 is DDIM, 3 adds a quadratic
// term. Lower orders start the run (and, by default, end it: lower_order_final).
type DPMSolver struct {
	base
	sigmas     []float32   // one per timestep, plus the final σ
	outputs    [][]float64 // converted model outputs of the last solver_order steps, oldest first
	lowerOrder int         // steps taken so far, up to solver_order
	stepIndex  int         // -1 until the first Step
}

// NewDPMSolver builds a DPM-Solver multistep sampler from cfg (any class's config, read as
// DPMSolverMultistepScheduler's; "deis" and the "logrho"/"bh" solver types become
// "dpmsolver++" and "midpoint", as diffusers does).
func NewDPMSolver(cfg Config) (*DPMSolver, error) {
	b, err := newBase(cfg, ClassDPMSolver)
	if err != nil {
		return nil, err
	}
	if b.cfg.AlgorithmType == "deis" {
		b.cfg.AlgorithmType = "dpmsolver++"
	}
	switch b.cfg.SolverType {
	case "logrho", "bh1", "bh2":
		b.cfg.SolverType = "midpoint"
	}
	return &DPMSolver{base: b, stepIndex: -1}, nil
}

// SetTimesteps implements Sampler. The spacings differ from DDIM's: n+1 points of which the
// last (t = 0 side) is dropped, and timesteps whose λ falls below lambda_min_clipped are cut.
func (s *DPMSolver) SetTimesteps(n int) error {
	if err := checkSteps(n, s.numTrain()); err != nil {
		return err
	}
	T := s.numTrain()
	last := T - s.clippedIndex()
	var ts []int
	switch s.cfg.TimestepSpacing {
	case SpacingLinspace:
		lin := numpyLinspace(0, float64(last-1), n+1)
		for i := n; i >= 1; i-- {
			ts = append(ts, int(math.RoundToEven(lin[i])))
		}
	case SpacingLeading:
		ratio := last / (n + 1)
		for i := n; i >= 1; i-- {
			ts = append(ts, i*ratio+s.cfg.StepsOffset)
		}
	case SpacingTrailing:
		ts = trailing(float64(last), T, n)
	default:
		return checkSpacing(s.cfg.TimestepSpacing)
	}
	if len(ts) == 0 {
		return fmt.Errorf("schedule: %s: no timesteps for %d steps (lambda_min_clipped = %v)",
			ClassDPMSolver, n, s.cfg.LambdaMinClipped)
	}
	for _, t := range ts {
		if t < 0 || t >= T {
			return fmt.Errorf("schedule: %s: timestep %d outside [0, %d) for %d steps", ClassDPMSolver, t, T, n)
		}
	}
	s.setInts(n, ts)
	s.sigmas = append(interpSigmas(s.timesteps, sigmaTable(s.sched.alphasCumprod)),
		finalSigma(s.cfg.FinalSigmasType, s.sched.alphasCumprod))
	s.outputs, s.lowerOrder, s.stepIndex = nil, 0, -1
	return nil
}

// clippedIndex is how many of the largest timesteps lambda_min_clipped removes:
// searchsorted(flip(λ_t), lambda_min_clipped) with λ_t = log √ᾱ_t - log √(1-ᾱ_t) in float32.
func (s *DPMSolver) clippedIndex() int {
	limit := float64(float32(s.cfg.LambdaMinClipped))
	ac := s.sched.alphasCumprod
	n := 0
	for i := len(ac) - 1; i >= 0; i-- { // λ decreases with t: walk from t = T-1 upwards in λ
		lambda := float32(math.Log(float64(sqrt32(ac[i])))) - float32(math.Log(float64(sqrt32(1-ac[i]))))
		if float64(lambda) >= limit {
			break
		}
		n++
	}
	return n
}

// InitNoiseSigma implements Sampler: 1.
func (s *DPMSolver) InitNoiseSigma() float64 { return 1 }

// ScaleModelInput implements Sampler: x unchanged.
func (s *DPMSolver) ScaleModelInput(x []float32, t float64) ([]float32, error) { return x, nil }

// Step implements Sampler. Steps must follow Timesteps in order: the sampler counts them.
func (s *DPMSolver) Step(modelOutput []float32, t float64, x []float32) ([]float32, error) {
	if err := s.checkStep(modelOutput, x); err != nil {
		return nil, err
	}
	if s.stepIndex < 0 {
		i, err := s.indexOf(t)
		if err != nil {
			return nil, err
		}
		s.stepIndex = i
	}
	n, i, order := len(s.timesteps), s.stepIndex, s.cfg.SolverOrder
	if err := s.checkOrder(ClassDPMSolver, i, t); err != nil {
		return nil, err
	}
	for _, past := range s.outputs {
		if len(past) != len(x) {
			return nil, fmt.Errorf("schedule: %s: sample has %d values, earlier steps had %d",
				ClassDPMSolver, len(x), len(past))
		}
	}
	lowerFinal := i == n-1 && (s.cfg.EulerAtFinal || (s.cfg.LowerOrderFinal && n < 15) || s.cfg.FinalSigmasType == "zero")
	lowerSecond := i == n-2 && s.cfg.LowerOrderFinal && n < 15

	s.outputs = append(s.outputs, s.convert(modelOutput, x, float64(s.sigmas[i])))
	if len(s.outputs) > order {
		s.outputs = s.outputs[len(s.outputs)-order:]
	}
	var out []float32
	switch {
	case order == 1 || s.lowerOrder < 1 || lowerFinal:
		out = s.update(x, 1)
	case order == 2 || s.lowerOrder < 2 || lowerSecond:
		out = s.update(x, 2)
	default:
		out = s.update(x, 3)
	}
	if s.lowerOrder < order {
		s.lowerOrder++
	}
	s.stepIndex++
	return out, nil
}

// convert turns the model output into what the solver extrapolates: x̂₀ for DPM-Solver++,
// ε̂ for DPM-Solver (diffusers' convert_model_output).
func (s *DPMSolver) convert(modelOutput, x []float32, sigma float64) []float64 {
	alphaT, sigmaT := sigmaToAlphaSigma(sigma)
	plus := s.cfg.AlgorithmType == "dpmsolver++"
	out := make([]float64, len(x))
	for i := range x {
		m, xi := float64(modelOutput[i]), float64(x[i])
		var x0, eps float64
		switch s.cfg.PredictionType {
		case PredictSample:
			x0 = m
			if !plus {
				eps = (xi - alphaT*m) / sigmaT
			}
		case PredictV:
			x0, eps = alphaT*xi-sigmaT*m, alphaT*m+sigmaT*xi
		default:
			x0, eps = (xi-sigmaT*m)/alphaT, m
		}
		if plus {
			out[i] = x0
		} else {
			out[i] = eps
		}
	}
	return out
}

// update is the order-k multistep update from step i to i+1 over the stored outputs
// (diffusers' dpm_solver_first_order_update and multistep_dpm_solver_{second,third}_order_update).
func (s *DPMSolver) update(x []float32, k int) []float32 {
	i := s.stepIndex
	lam := func(j int) (alpha, sigma, lambda float64) {
		alpha, sigma = sigmaToAlphaSigma(float64(s.sigmas[j]))
		return alpha, sigma, math.Log(alpha) - math.Log(sigma)
	}
	alphaT, sigmaT, lambdaT := lam(i + 1)
	alphaS0, sigmaS0, lambdaS0 := lam(i)
	h := lambdaT - lambdaS0
	plus := s.cfg.AlgorithmType == "dpmsolver++"
	heun := s.cfg.SolverType == "heun"
	m := s.outputs
	m0 := m[len(m)-1]

	// x_t = cx·x + c0·D0 + c1·D1 + c2·D2.
	var cx, c0, c1, c2 float64
	if plus {
		cx, c0 = sigmaT/sigmaS0, -alphaT*math.Expm1(-h)
	} else {
		cx, c0 = alphaT/alphaS0, -sigmaT*math.Expm1(h)
	}
	var r0, r1 float64
	if k >= 2 {
		_, _, lambdaS1 := lam(i - 1)
		r0 = (lambdaS0 - lambdaS1) / h
		switch {
		case k == 3 && plus:
			c1 = alphaT * (math.Expm1(-h)/h + 1)
			c2 = -alphaT * ((math.Expm1(-h)+h)/(h*h) - 0.5)
		case k == 3:
			c1 = -sigmaT * (math.Expm1(h)/h - 1)
			c2 = -sigmaT * ((math.Expm1(h)-h)/(h*h) - 0.5)
		case heun && plus:
			c1 = alphaT * (math.Expm1(-h)/h + 1)
		case heun:
			c1 = -sigmaT * (math.Expm1(h)/h - 1)
		default: // midpoint
			c1 = 0.5 * c0
		}
		if k == 3 {
			_, _, lambdaS2 := lam(i - 2)
			r1 = (lambdaS1 - lambdaS2) / h
		}
	}
	out := make([]float32, len(x))
	for j := range x {
		v := cx*float64(x[j]) + c0*m0[j]
		switch k {
		case 2:
			v += c1 * (m0[j] - m[len(m)-2][j]) / r0
		case 3:
			d10 := (m0[j] - m[len(m)-2][j]) / r0
			d11 := (m[len(m)-2][j] - m[len(m)-3][j]) / r1
			v += c1*(d10+r0/(r0+r1)*(d10-d11)) + c2*(d10-d11)/(r0+r1)
		}
		out[j] = float32(v)
	}
	return out
}
