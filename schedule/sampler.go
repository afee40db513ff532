package schedule

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Sampler runs the reverse process: given the model's output at timestep t for the current
// sample x, it returns the sample at the next (smaller) timestep. It is diffusers' scheduler
// interface, host-side:
//
//	if err := s.SetTimesteps(n); err != nil { … }
//	x := noise scaled by s.InitNoiseSigma()
//	for _, t := range s.Timesteps() {
//		xin, _ := s.ScaleModelInput(x, t)
//		out := model(xin, t)          // ε, v or x₀, as cfg.prediction_type says
//		x, err = s.Step(out, t, x)
//	}
//
// Samples are []float32 of any layout (NCHW by convention), batches included: every update
// is element-wise. Timesteps are float64 because EulerDiscreteScheduler's can be fractional
// ("linspace" spacing); the other samplers' are whole numbers.
//
// A Sampler is stateful (multistep samplers keep past model outputs) and not safe for
// concurrent use: one run at a time, SetTimesteps starting a fresh one.
type Sampler interface {
	// SetTimesteps chooses n inference steps (diffusers' set_timesteps(n)) and resets the
	// sampler's state.
	SetTimesteps(n int) error
	// Timesteps returns a copy of the timesteps to visit, in order (after SetTimesteps).
	Timesteps() []float64
	// InitNoiseSigma is the standard deviation of the starting noise x_T.
	InitNoiseSigma() float64
	// ScaleModelInput returns the model's input for sample x at t: x itself for every sampler
	// but Euler, which divides by √(σ²+1). It may return x itself, never modified.
	ScaleModelInput(x []float32, t float64) ([]float32, error)
	// Step returns the previous sample x_{t-Δ} (diffusers' step(...).prev_sample). x and
	// modelOutput are not modified.
	Step(modelOutput []float32, t float64, x []float32) ([]float32, error)
	// Config returns the validated configuration the sampler was built from.
	Config() Config
	// Schedule returns the training noise schedule (for AddNoise, e.g. image-to-image).
	Schedule() *Schedule
}

// Stochastic is implemented by samplers that draw noise while stepping (DDPM; DDIM with
// η > 0). They start with a fixed seed (0), so runs repeat unless SetRand changes it.
type Stochastic interface {
	Sampler
	// SetRand makes the sampler draw its noise from r (normal deviates via r.NormFloat64).
	SetRand(r *rand.Rand)
}

// ErrNoTimesteps is returned by Step and ScaleModelInput before SetTimesteps.
var ErrNoTimesteps = errors.New("schedule: SetTimesteps was not called")

// FromConfig builds the sampler cfg.ClassName names. It is how a pipeline turns a model's
// scheduler/scheduler_config.json into a sampler:
//
//	cfg, err := schedule.LoadConfig(filepath.Join(dir, "scheduler", "scheduler_config.json"))
//	s, err := schedule.FromConfig(cfg)
func FromConfig(cfg Config) (Sampler, error) {
	switch cfg.ClassName {
	case ClassDDPM:
		return NewDDPM(cfg)
	case ClassDDIM:
		return NewDDIM(cfg)
	case ClassPNDM:
		return NewPNDM(cfg)
	case ClassEuler:
		return NewEuler(cfg)
	case ClassDPMSolver:
		return NewDPMSolver(cfg)
	}
	_, err := Defaults(cfg.ClassName)
	return nil, err
}

// newRand is the fixed-seed source stochastic samplers start with.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// base holds what every sampler shares: its configuration, schedule and timesteps.
type base struct {
	cfg       Config
	sched     *Schedule
	timesteps []float64 // empty until SetTimesteps
	numSteps  int       // n given to SetTimesteps
}

func newBase(cfg Config, class string) (base, error) {
	cfg, err := configFor(cfg, class)
	if err != nil {
		return base{}, err
	}
	sched, err := NewSchedule(cfg)
	if err != nil {
		return base{}, err
	}
	return base{cfg: cfg, sched: sched}, nil
}

// Timesteps implements Sampler.
func (b *base) Timesteps() []float64 { return append([]float64(nil), b.timesteps...) }

// Config implements Sampler.
func (b *base) Config() Config {
	c := b.cfg
	c.TrainedBetas = slices.Clone(b.cfg.TrainedBetas)
	return c
}

// Schedule implements Sampler.
func (b *base) Schedule() *Schedule { return b.sched }

// numTrain is T.
func (b *base) numTrain() int { return b.sched.NumTrainTimesteps() }

// setInts stores integer timesteps.
func (b *base) setInts(n int, ts []int) {
	b.numSteps = n
	b.timesteps = make([]float64, len(ts))
	for i, t := range ts {
		b.timesteps[i] = float64(t)
	}
}

// checkStep validates Step's arguments.
func (b *base) checkStep(modelOutput, x []float32) error {
	if len(b.timesteps) == 0 {
		return ErrNoTimesteps
	}
	if len(modelOutput) != len(x) {
		return fmt.Errorf("schedule: %s: model output has %d values, sample has %d",
			b.cfg.ClassName, len(modelOutput), len(x))
	}
	return nil
}

// trainIndex converts a whole-number timestep into an index of the ᾱ table.
func (b *base) trainIndex(t float64) (int, error) {
	if t != math.Trunc(t) || t < 0 || t >= float64(b.numTrain()) {
		return 0, fmt.Errorf("schedule: %s: timestep %v is not a whole number in [0, %d)",
			b.cfg.ClassName, t, b.numTrain())
	}
	return int(t), nil
}

// indexOf finds t among the timesteps as diffusers' index_for_timestep does: the second
// match when t occurs more than once (so that a run started mid-schedule does not skip a
// step), else the first.
func (b *base) indexOf(t float64) (int, error) {
	var found []int
	for i, v := range b.timesteps {
		if v == t {
			found = append(found, i)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("schedule: %s: timestep %v is not among the %d set by SetTimesteps",
			b.cfg.ClassName, t, len(b.timesteps))
	case 1:
		return found[0], nil
	}
	return found[1], nil
}

// checkOrder checks that step i of a counting sampler is at timestep t: samplers that keep
// a step index (Euler, DPM-Solver) find the first timestep of a run (which may start
// mid-schedule, as image-to-image does) and then expect Timesteps in order.
func (b *base) checkOrder(class string, i int, t float64) error {
	switch {
	case i >= len(b.timesteps):
		return fmt.Errorf("schedule: %s: Step at timestep %v after the last of %d steps", class, t, len(b.timesteps))
	case b.timesteps[i] != t:
		return fmt.Errorf("schedule: %s: Step at timestep %v, but step %d is at %v (call Step once per "+
			"Timesteps() entry, in order; SetTimesteps starts a new run)", class, t, i, b.timesteps[i])
	}
	return nil
}

// predictX0Eps turns a model output into (x̂₀, ε̂) for x at ᾱ = a, per prediction_type.
func predictX0Eps(prediction string, a, x, out float64) (x0, eps float64) {
	sa, sb := math.Sqrt(a), math.Sqrt(1-a)
	switch prediction {
	case PredictSample:
		return out, (x - sa*out) / sb
	case PredictV:
		return sa*x - sb*out, sa*out + sb*x
	}
	return (x - sb*out) / sa, out
}
