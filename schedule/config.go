package schedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
)

// Scheduler class names, as diffusers writes them in scheduler_config.json's "_class_name".
const (
	ClassDDPM      = "DDPMScheduler"
	ClassDDIM      = "DDIMScheduler"
	ClassPNDM      = "PNDMScheduler"
	ClassEuler     = "EulerDiscreteScheduler"
	ClassDPMSolver = "DPMSolverMultistepScheduler"
)

// Prediction types: what the model's output means.
const (
	PredictEpsilon = "epsilon"      // the noise ε
	PredictV       = "v_prediction" // v = √ᾱ·ε - √(1-ᾱ)·x₀ (Salimans & Ho, arXiv:2202.00512)
	PredictSample  = "sample"       // x₀ itself
)

// ErrUnsupported is wrapped by every error about a scheduler_config.json field whose value
// this package refuses: an unknown field, a value diffusers itself rejects, or a feature not
// implemented here. Use errors.As with *FieldError to learn which field.
var ErrUnsupported = errors.New("unsupported")

// FieldError names the scheduler_config.json field at fault and why.
type FieldError struct {
	Class  string // the scheduler class being configured
	Field  string // upstream JSON name, e.g. "timestep_spacing"
	Value  any
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("schedule: %s: %s = %v: %s", e.Class, e.Field, e.Value, e.Reason)
}

// Unwrap makes errors.Is(err, ErrUnsupported) true.
func (e *FieldError) Unwrap() error { return ErrUnsupported }

// Config is a diffusers scheduler_config.json: the union of the fields of the five scheduler
// classes this package implements, under their upstream names. Fields a class does not have
// are ignored for it (as diffusers ignores them). Start from Defaults(class) when building one
// by hand; FromConfig validates it.
type Config struct {
	ClassName string `json:"_class_name"`

	// The β schedule (all classes).
	NumTrainTimesteps int       `json:"num_train_timesteps"`
	BetaStart         float64   `json:"beta_start"`
	BetaEnd           float64   `json:"beta_end"`
	BetaSchedule      string    `json:"beta_schedule"`
	TrainedBetas      []float64 `json:"trained_betas"` // when set, replaces the three above
	// RescaleBetasZeroSNR must be false: the zero-terminal-SNR rescaling is not implemented.
	RescaleBetasZeroSNR bool `json:"rescale_betas_zero_snr"`

	// Sampling (all classes).
	PredictionType  string `json:"prediction_type"`  // PredictEpsilon, PredictV or PredictSample
	TimestepSpacing string `json:"timestep_spacing"` // SpacingLeading, SpacingTrailing or SpacingLinspace
	StepsOffset     int    `json:"steps_offset"`     // added to leading timesteps

	// DDPM and DDIM: clamp the predicted x₀ to ±ClipSampleRange. Thresholding must be false.
	ClipSample               bool    `json:"clip_sample"`
	ClipSampleRange          float64 `json:"clip_sample_range"`
	Thresholding             bool    `json:"thresholding"`
	DynamicThresholdingRatio float64 `json:"dynamic_thresholding_ratio"` // unused: thresholding is refused
	SampleMaxValue           float64 `json:"sample_max_value"`           // unused: thresholding is refused

	// DDIM and PNDM: ᾱ before the first training step is 1 (true) or ᾱ_0 (false).
	SetAlphaToOne bool `json:"set_alpha_to_one"`

	// DDPM: "fixed_small", "fixed_small_log" or "fixed_large". DPM-Solver: not "learned" or
	// "learned_range" (a model that also predicts its variance).
	VarianceType string `json:"variance_type"`

	// PNDM: must be true (PLMS only; the Runge-Kutta warm-up is not implemented).
	SkipPRKSteps bool `json:"skip_prk_steps"`

	// Euler.
	InterpolationType string `json:"interpolation_type"` // "linear" or "log_linear"
	TimestepType      string `json:"timestep_type"`      // "discrete" ("continuous" only without v_prediction)

	// Euler and DPM-Solver: the last σ is 0 ("zero") or σ at t=0 ("sigma_min").
	FinalSigmasType string `json:"final_sigmas_type"`
	// Euler and DPM-Solver: alternative σ spacings, all refused when true.
	UseKarrasSigmas      bool     `json:"use_karras_sigmas"`
	UseExponentialSigmas bool     `json:"use_exponential_sigmas"`
	UseBetaSigmas        bool     `json:"use_beta_sigmas"`
	SigmaMin             *float64 `json:"sigma_min"` // unused: only the refused σ spacings read it
	SigmaMax             *float64 `json:"sigma_max"`

	// DPM-Solver.
	AlgorithmType      string  `json:"algorithm_type"` // "dpmsolver++" or "dpmsolver" (SDE variants refused)
	SolverOrder        int     `json:"solver_order"`   // 1, 2 or 3
	SolverType         string  `json:"solver_type"`    // "midpoint" or "heun"
	LowerOrderFinal    bool    `json:"lower_order_final"`
	EulerAtFinal       bool    `json:"euler_at_final"`
	LambdaMinClipped   Float   `json:"lambda_min_clipped"` // -Inf by default
	UseLuLambdas       bool    `json:"use_lu_lambdas"`     // refused when true
	UseFlowSigmas      bool    `json:"use_flow_sigmas"`    // refused when true
	FlowShift          float64 `json:"flow_shift"`         // unused: flow sigmas are refused
	UseDynamicShifting bool    `json:"use_dynamic_shifting"`
	TimeShiftType      string  `json:"time_shift_type"`

	present map[string]bool // the fields the parsed file carried; nil when built by hand
}

// Defaults returns diffusers' defaults (0.40) for a scheduler class: the values its constructor
// takes when scheduler_config.json leaves a field out. This is the one place they live.
func Defaults(class string) (Config, error) {
	c := Config{
		ClassName:                class,
		NumTrainTimesteps:        1000,
		BetaStart:                0.0001,
		BetaEnd:                  0.02,
		BetaSchedule:             BetaLinear,
		PredictionType:           PredictEpsilon,
		TimestepSpacing:          SpacingLeading,
		ClipSampleRange:          1,
		DynamicThresholdingRatio: 0.995,
		SampleMaxValue:           1,
		InterpolationType:        "linear",
		TimestepType:             "discrete",
		FinalSigmasType:          "zero",
		AlgorithmType:            "dpmsolver++",
		SolverOrder:              2,
		SolverType:               "midpoint",
		LowerOrderFinal:          true,
		LambdaMinClipped:         Float(math.Inf(-1)),
		FlowShift:                1,
		TimeShiftType:            "exponential",
	}
	switch class {
	case ClassDDPM:
		c.VarianceType = "fixed_small"
		c.ClipSample = true
	case ClassDDIM:
		c.ClipSample = true
		c.SetAlphaToOne = true
	case ClassPNDM:
		// skip_prk_steps=false and set_alpha_to_one=false upstream.
	case ClassEuler, ClassDPMSolver:
		c.TimestepSpacing = SpacingLinspace
	default:
		return Config{}, &FieldError{Class: class, Field: "_class_name", Value: class,
			Reason: fmt.Sprintf("unknown scheduler class (want %s, %s, %s, %s or %s)",
				ClassDDPM, ClassDDIM, ClassPNDM, ClassEuler, ClassDPMSolver)}
	}
	return c, nil
}

// LoadConfig reads a diffusers scheduler_config.json. See ParseConfig.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("schedule: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig reads the contents of a scheduler_config.json: "_class_name" picks the class,
// its Defaults fill what the file leaves out, and the result is validated. Fields starting
// with "_" (such as "_diffusers_version") are metadata and ignored; any other field this
// package does not know is refused, as are values it does not implement.
func ParseConfig(data []byte) (Config, error) {
	// Python's json module writes -Infinity, Infinity and NaN (lambda_min_clipped's default);
	// encoding/json does not read them, so they become strings first.
	data = quoteNonFinite(data)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("schedule: scheduler config: %w", err)
	}
	var class string
	if v, ok := raw["_class_name"]; !ok {
		return Config{}, &FieldError{Field: "_class_name", Value: nil, Reason: "missing"}
	} else if err := json.Unmarshal(v, &class); err != nil {
		return Config{}, &FieldError{Field: "_class_name", Value: string(v), Reason: "not a string"}
	}
	c, err := Defaults(class)
	if err != nil {
		return Config{}, err
	}
	known := jsonFields()
	for key := range raw {
		if !known[key] && !strings.HasPrefix(key, "_") {
			return Config{}, &FieldError{Class: class, Field: key, Value: string(raw[key]), Reason: "unknown field"}
		}
	}
	if err := json.Unmarshal(data, &c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Config{}, &FieldError{Class: class, Field: te.Field, Value: te.Value,
				Reason: fmt.Sprintf("want a JSON value of Go type %s", te.Type)}
		}
		return Config{}, fmt.Errorf("schedule: %s: %w", class, err)
	}
	c.present = make(map[string]bool, len(raw))
	for key := range raw {
		c.present[key] = true
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// jsonFields is the set of JSON names of Config's fields.
func jsonFields() map[string]bool {
	t := reflect.TypeFor[Config]()
	m := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			m[name] = true
		}
	}
	return m
}

// quoteNonFinite turns the bare literals NaN, Infinity and -Infinity outside strings into
// JSON strings, which Float reads.
func quoteNonFinite(data []byte) []byte {
	if !bytes.Contains(data, []byte("Infinity")) && !bytes.Contains(data, []byte("NaN")) {
		return data
	}
	var out bytes.Buffer
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		ch := data[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
			out.WriteByte(ch)
			continue
		}
		if ch == '"' {
			inString = true
			out.WriteByte(ch)
			continue
		}
		matched := false
		for _, lit := range []string{"-Infinity", "Infinity", "NaN"} {
			if bytes.HasPrefix(data[i:], []byte(lit)) {
				out.WriteString(strconv.Quote(lit))
				i += len(lit) - 1
				matched = true
				break
			}
		}
		if !matched {
			out.WriteByte(ch)
		}
	}
	return out.Bytes()
}

// Float is a float64 that also reads the non-finite values Python writes into JSON
// ("-Infinity", "Infinity", "NaN").
type Float float64

// UnmarshalJSON reads a JSON number or one of the quoted non-finite literals.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch s {
		case "-Infinity":
			*f = Float(math.Inf(-1))
		case "Infinity":
			*f = Float(math.Inf(1))
		case "NaN":
			*f = Float(math.NaN())
		default:
			return &json.UnmarshalTypeError{Value: "string " + strconv.Quote(s), Type: reflect.TypeFor[Float]()}
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}
