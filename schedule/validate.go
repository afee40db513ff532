package schedule

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// MaxTrainTimesteps bounds num_train_timesteps: the schedule holds a few arrays of that length
// and loops over it. Published models use 1000 (a few 2000 or 4000).
const MaxTrainTimesteps = 1_000_000

// Validate checks the fields c.ClassName reads, refusing values diffusers rejects and values
// this package does not implement. Fields the class does not have are not looked at. Every
// problem found is reported (errors.Join of *FieldError, each wrapping ErrUnsupported).
func (c Config) Validate() error {
	if _, err := Defaults(c.ClassName); err != nil {
		return err
	}
	bad := func(field string, value any, reason string, args ...any) error {
		return &FieldError{Class: c.ClassName, Field: field, Value: value, Reason: fmt.Sprintf(reason, args...)}
	}
	oneOf := func(field, value string, allowed ...string) error {
		if slices.Contains(allowed, value) {
			return nil
		}
		return bad(field, fmt.Sprintf("%q", value), "want one of %q", allowed)
	}
	mustBeFalse := func(field string, value bool, why string) error {
		if value {
			return bad(field, true, "not implemented (%s)", why)
		}
		return nil
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	// Common to all classes.
	if c.NumTrainTimesteps < 1 || c.NumTrainTimesteps > MaxTrainTimesteps {
		add(bad("num_train_timesteps", c.NumTrainTimesteps, "want 1 to %d (MaxTrainTimesteps; Stable Diffusion's is 1000)", MaxTrainTimesteps))
	}
	add(c.validateBetas(bad))
	add(oneOf("timestep_spacing", c.TimestepSpacing, SpacingLeading, SpacingTrailing, SpacingLinspace))
	if c.StepsOffset < 0 || c.StepsOffset >= max(c.NumTrainTimesteps, 1) {
		add(bad("steps_offset", c.StepsOffset, "want 0 to num_train_timesteps - 1"))
	}

	switch c.ClassName {
	case ClassDDPM:
		add(oneOf("prediction_type", c.PredictionType, PredictEpsilon, PredictSample, PredictV))
		add(oneOf("variance_type", c.VarianceType, "fixed_small", "fixed_small_log", "fixed_large"))
		add(c.validateClipping(bad))
		add(mustBeFalse("rescale_betas_zero_snr", c.RescaleBetasZeroSNR, "zero-terminal-SNR rescaling"))
	case ClassDDIM:
		add(oneOf("prediction_type", c.PredictionType, PredictEpsilon, PredictSample, PredictV))
		add(c.validateClipping(bad))
		add(mustBeFalse("rescale_betas_zero_snr", c.RescaleBetasZeroSNR, "zero-terminal-SNR rescaling"))
	case ClassPNDM:
		add(oneOf("prediction_type", c.PredictionType, PredictEpsilon, PredictV))
		if !c.SkipPRKSteps {
			add(bad("skip_prk_steps", false, "not implemented (only PLMS steps, skip_prk_steps=true)"))
		}
	case ClassEuler:
		add(oneOf("prediction_type", c.PredictionType, PredictEpsilon, PredictSample, "original_sample", PredictV))
		add(oneOf("interpolation_type", c.InterpolationType, "linear", "log_linear"))
		add(oneOf("timestep_type", c.TimestepType, "discrete", "continuous"))
		if c.TimestepType == "continuous" && c.PredictionType == PredictV {
			add(bad("timestep_type", `"continuous"`, "not implemented with prediction_type v_prediction"))
		}
		add(oneOf("final_sigmas_type", c.FinalSigmasType, "zero", "sigma_min"))
		add(c.validateSigmaSpacing(mustBeFalse))
		add(mustBeFalse("rescale_betas_zero_snr", c.RescaleBetasZeroSNR, "zero-terminal-SNR rescaling"))
	case ClassDPMSolver:
		add(oneOf("prediction_type", c.PredictionType, PredictEpsilon, PredictSample, PredictV))
		add(oneOf("algorithm_type", c.AlgorithmType, "dpmsolver++", "dpmsolver", "deis"))
		add(oneOf("solver_type", c.SolverType, "midpoint", "heun", "logrho", "bh1", "bh2"))
		if c.SolverOrder < 1 || c.SolverOrder > 3 {
			add(bad("solver_order", c.SolverOrder, "want 1, 2 or 3"))
		}
		add(oneOf("final_sigmas_type", c.FinalSigmasType, "zero", "sigma_min"))
		if c.AlgorithmType == "dpmsolver" && c.FinalSigmasType == "zero" {
			add(bad("final_sigmas_type", `"zero"`, `needs algorithm_type "dpmsolver++"; use "sigma_min"`))
		}
		if c.VarianceType == "learned" || c.VarianceType == "learned_range" {
			add(bad("variance_type", fmt.Sprintf("%q", c.VarianceType), "not implemented (learned variance)"))
		}
		if math.IsNaN(float64(c.LambdaMinClipped)) {
			add(bad("lambda_min_clipped", "NaN", "want a number"))
		}
		add(mustBeFalse("thresholding", c.Thresholding, "dynamic thresholding"))
		add(c.validateSigmaSpacing(mustBeFalse))
		add(mustBeFalse("use_lu_lambdas", c.UseLuLambdas, "Lu lambdas"))
		add(mustBeFalse("use_flow_sigmas", c.UseFlowSigmas, "flow-matching sigmas"))
		add(mustBeFalse("use_dynamic_shifting", c.UseDynamicShifting, "flow-matching shift"))
		add(mustBeFalse("rescale_betas_zero_snr", c.RescaleBetasZeroSNR, "zero-terminal-SNR rescaling"))
	}
	return errors.Join(errs...)
}

func (c Config) validateBetas(bad func(string, any, string, ...any) error) error {
	if c.TrainedBetas != nil {
		if len(c.TrainedBetas) != c.NumTrainTimesteps {
			return bad("trained_betas", fmt.Sprintf("[%d values]", len(c.TrainedBetas)),
				"want num_train_timesteps = %d values", c.NumTrainTimesteps)
		}
		for i, b := range c.TrainedBetas {
			if !(b >= 0 && b < 1) {
				return bad("trained_betas", b, "value %d outside [0, 1)", i)
			}
		}
		return nil
	}
	switch c.BetaSchedule {
	case BetaLinear, BetaScaledLinear:
		for _, f := range []struct {
			name string
			v    float64
		}{{"beta_start", c.BetaStart}, {"beta_end", c.BetaEnd}} {
			if !(f.v >= 0 && f.v < 1) {
				return bad(f.name, f.v, "want a value in [0, 1)")
			}
		}
	case BetaSquaredCosCapV2:
	default:
		return bad("beta_schedule", fmt.Sprintf("%q", c.BetaSchedule), "want one of %q",
			[]string{BetaLinear, BetaScaledLinear, BetaSquaredCosCapV2})
	}
	return nil
}

func (c Config) validateClipping(bad func(string, any, string, ...any) error) error {
	if c.Thresholding {
		return bad("thresholding", true, "not implemented (dynamic thresholding)")
	}
	if c.ClipSample && !(c.ClipSampleRange > 0) {
		return bad("clip_sample_range", c.ClipSampleRange, "want > 0 when clip_sample is true")
	}
	return nil
}

func (c Config) validateSigmaSpacing(mustBeFalse func(string, bool, string) error) error {
	if err := mustBeFalse("use_karras_sigmas", c.UseKarrasSigmas, "Karras σ spacing"); err != nil {
		return err
	}
	if err := mustBeFalse("use_exponential_sigmas", c.UseExponentialSigmas, "exponential σ spacing"); err != nil {
		return err
	}
	return mustBeFalse("use_beta_sigmas", c.UseBetaSigmas, "beta σ spacing")
}
