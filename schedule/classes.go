package schedule

import (
	"fmt"
	"reflect"
	"strings"
)

// commonParams are the constructor arguments every implemented class has.
var commonParams = []string{
	"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
	"prediction_type", "timestep_spacing", "steps_offset",
}

// classParams lists, per class, its other constructor arguments in diffusers 0.40: what a
// scheduler's config holds beside the fields its file happened to carry.
var classParams = map[string][]string{
	ClassDDPM: {"variance_type", "clip_sample", "clip_sample_range", "thresholding",
		"dynamic_thresholding_ratio", "sample_max_value", "rescale_betas_zero_snr"},
	ClassDDIM: {"clip_sample", "clip_sample_range", "set_alpha_to_one", "thresholding",
		"dynamic_thresholding_ratio", "sample_max_value", "rescale_betas_zero_snr"},
	ClassPNDM: {"skip_prk_steps", "set_alpha_to_one"},
	ClassEuler: {"interpolation_type", "use_karras_sigmas", "use_exponential_sigmas",
		"use_beta_sigmas", "sigma_min", "sigma_max", "timestep_type", "rescale_betas_zero_snr",
		"final_sigmas_type"},
	ClassDPMSolver: {"solver_order", "thresholding", "dynamic_thresholding_ratio",
		"sample_max_value", "algorithm_type", "solver_type", "lower_order_final", "euler_at_final",
		"use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas",
		"use_flow_sigmas", "flow_shift", "final_sigmas_type", "lambda_min_clipped",
		"variance_type", "rescale_betas_zero_snr", "use_dynamic_shifting", "time_shift_type"},
}

// As returns the configuration diffusers' <class>.from_config(c.config) builds: the new
// class's Defaults, overridden by every field c's own class has and by every field c's file
// carried. This is how a pipeline swaps samplers (say DDIM for a model shipped with PNDM).
// The result is validated.
func (c Config) As(class string) (Config, error) {
	out, err := Defaults(class)
	if err != nil {
		return Config{}, err
	}
	carry := make(map[string]bool)
	for _, name := range commonParams {
		carry[name] = true
	}
	for _, name := range classParams[c.ClassName] {
		carry[name] = true
	}
	for name := range c.present {
		carry[name] = true
	}
	src, dst := reflect.ValueOf(c), reflect.ValueOf(&out).Elem()
	t := src.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if carry[name] && name != "_class_name" {
			dst.Field(i).Set(src.Field(i))
		}
	}
	out.present = c.present
	if err := out.Validate(); err != nil {
		return Config{}, fmt.Errorf("schedule: %s as %s: %w", c.ClassName, class, err)
	}
	return out, nil
}

// configFor is the constructors' common start: cfg as class (converted when cfg is another
// class's), validated.
func configFor(cfg Config, class string) (Config, error) {
	if cfg.ClassName != class {
		return cfg.As(class)
	}
	return cfg, cfg.Validate()
}
