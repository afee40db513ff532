package schedule

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Stable Diffusion 1.x's scheduler/scheduler_config.json (note clip_sample, which PNDM does
// not have: diffusers ignores it for PNDM but passes it on when the config is reused for DDIM).
const sd15Scheduler = `{
  "_class_name": "PNDMScheduler",
  "_diffusers_version": "0.6.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "num_train_timesteps": 1000,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null,
  "clip_sample": false
}`

// What DPMSolverMultistepScheduler.save_config writes: Python's json has -Infinity.
const dpmScheduler = `{
  "_class_name": "DPMSolverMultistepScheduler",
  "_diffusers_version": "0.40.0",
  "algorithm_type": "dpmsolver++",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "dynamic_thresholding_ratio": 0.995,
  "euler_at_final": false,
  "final_sigmas_type": "zero",
  "flow_shift": 1.0,
  "lambda_min_clipped": -Infinity,
  "lower_order_final": true,
  "num_train_timesteps": 1000,
  "prediction_type": "epsilon",
  "rescale_betas_zero_snr": false,
  "sample_max_value": 1.0,
  "solver_order": 2,
  "solver_type": "midpoint",
  "steps_offset": 1,
  "thresholding": false,
  "time_shift_type": "exponential",
  "timestep_spacing": "linspace",
  "trained_betas": null,
  "use_beta_sigmas": false,
  "use_dynamic_shifting": false,
  "use_exponential_sigmas": false,
  "use_flow_sigmas": false,
  "use_karras_sigmas": false,
  "use_lu_lambdas": false,
  "variance_type": null
}`

func TestLoadConfigSD15(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scheduler_config.json")
	if err := os.WriteFile(path, []byte(sd15Scheduler), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClassName != ClassPNDM || cfg.BetaSchedule != BetaScaledLinear || cfg.StepsOffset != 1 ||
		!cfg.SkipPRKSteps || cfg.TimestepSpacing != SpacingLeading || cfg.PredictionType != PredictEpsilon {
		t.Fatalf("config %+v", cfg)
	}
	s, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTimesteps(50); err != nil {
		t.Fatal(err)
	}
	ts := s.Timesteps()
	if len(ts) != 51 || ts[0] != 981 || ts[1] != 961 || ts[2] != 961 || ts[50] != 1 {
		t.Errorf("SD 1.5 PNDM, 50 steps: %v", ts)
	}
}

func TestParseConfigDPMWithInfinity(t *testing.T) {
	cfg, err := ParseConfig([]byte(dpmScheduler))
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(float64(cfg.LambdaMinClipped), -1) || cfg.SolverOrder != 2 || cfg.AlgorithmType != "dpmsolver++" {
		t.Fatalf("config %+v", cfg)
	}
	// A finite lambda_min_clipped cuts the noisiest timesteps (λ = log(α/σ) is about -2.68 at t = 999 for SD).
	clipped := strings.Replace(dpmScheduler, "-Infinity", "-2.5", 1)
	cfg2, err := ParseConfig([]byte(clipped))
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := NewDPMSolver(cfg)
	s2, _ := NewDPMSolver(cfg2)
	if err := s1.SetTimesteps(10); err != nil {
		t.Fatal(err)
	}
	if err := s2.SetTimesteps(10); err != nil {
		t.Fatal(err)
	}
	if s2.Timesteps()[0] >= s1.Timesteps()[0] {
		t.Errorf("lambda_min_clipped=-2.5 starts at %v, unclipped at %v", s2.Timesteps()[0], s1.Timesteps()[0])
	}
}

func TestDefaultsPerClass(t *testing.T) {
	for class, spacing := range map[string]string{
		ClassDDPM: SpacingLeading, ClassDDIM: SpacingLeading, ClassPNDM: SpacingLeading,
		ClassEuler: SpacingLinspace, ClassDPMSolver: SpacingLinspace,
	} {
		c, err := Defaults(class)
		if err != nil {
			t.Fatal(err)
		}
		if c.TimestepSpacing != spacing || c.NumTrainTimesteps != 1000 || c.BetaSchedule != BetaLinear {
			t.Errorf("%s defaults: %+v", class, c)
		}
	}
	ddim, _ := Defaults(ClassDDIM)
	if !ddim.ClipSample || !ddim.SetAlphaToOne {
		t.Errorf("DDIM defaults clip_sample=%v set_alpha_to_one=%v, want true, true", ddim.ClipSample, ddim.SetAlphaToOne)
	}
	pndm, _ := Defaults(ClassPNDM)
	if pndm.SkipPRKSteps || pndm.SetAlphaToOne {
		t.Errorf("PNDM defaults skip_prk_steps=%v set_alpha_to_one=%v, want false, false", pndm.SkipPRKSteps, pndm.SetAlphaToOne)
	}
}

// Refused configs name the field at fault.
func TestConfigRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, json, field string
	}{
		{"no class", `{"num_train_timesteps": 1000}`, "_class_name"},
		{"unknown class", `{"_class_name": "LMSDiscreteScheduler"}`, "_class_name"},
		{"unknown field", `{"_class_name": "DDIMScheduler", "karras_rho": 7}`, "karras_rho"},
		{"thresholding", `{"_class_name": "DDIMScheduler", "thresholding": true}`, "thresholding"},
		{"karras", `{"_class_name": "EulerDiscreteScheduler", "use_karras_sigmas": true}`, "use_karras_sigmas"},
		{"karras dpm", `{"_class_name": "DPMSolverMultistepScheduler", "use_karras_sigmas": true}`, "use_karras_sigmas"},
		{"beta schedule", `{"_class_name": "DDPMScheduler", "beta_schedule": "sigmoid"}`, "beta_schedule"},
		{"spacing", `{"_class_name": "DDIMScheduler", "timestep_spacing": "uniform"}`, "timestep_spacing"},
		{"prediction", `{"_class_name": "PNDMScheduler", "skip_prk_steps": true, "prediction_type": "sample"}`, "prediction_type"},
		{"prk steps", `{"_class_name": "PNDMScheduler"}`, "skip_prk_steps"},
		{"variance", `{"_class_name": "DDPMScheduler", "variance_type": "learned_range"}`, "variance_type"},
		{"sde", `{"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "sde-dpmsolver++"}`, "algorithm_type"},
		{"order", `{"_class_name": "DPMSolverMultistepScheduler", "solver_order": 4}`, "solver_order"},
		{"dpmsolver final", `{"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "dpmsolver"}`, "final_sigmas_type"},
		{"zero snr", `{"_class_name": "EulerDiscreteScheduler", "rescale_betas_zero_snr": true}`, "rescale_betas_zero_snr"},
		{"trained betas", `{"_class_name": "DDIMScheduler", "num_train_timesteps": 3, "trained_betas": [0.1, 0.2]}`, "trained_betas"},
		{"beta range", `{"_class_name": "DDIMScheduler", "beta_end": 1.5}`, "beta_end"},
		{"type", `{"_class_name": "DDIMScheduler", "steps_offset": "1"}`, "steps_offset"},
		{"offset", `{"_class_name": "DDIMScheduler", "steps_offset": -1}`, "steps_offset"},
		{"interpolation", `{"_class_name": "EulerDiscreteScheduler", "interpolation_type": "cubic"}`, "interpolation_type"},
	} {
		_, err := ParseConfig([]byte(tc.json))
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: err = %v, want a *FieldError wrapping ErrUnsupported", tc.name, err)
			continue
		}
		if fe.Field != tc.field || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %q names field %q, want %q", tc.name, err, fe.Field, tc.field)
		}
	}
}

func TestLoadConfigErrorsNameTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scheduler_config.json")
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"_class_name": "DDIMScheduler", "thresholding": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), path) ||
		!strings.Contains(err.Error(), "thresholding") {
		t.Errorf("refused field: %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"_class_name": `), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("corrupt file: %v", err)
	}
}

// Swapping samplers: SD 1.5's PNDM config read as DDIM keeps the file's fields (clip_sample
// false, set_alpha_to_one false, steps_offset 1), as DDIMScheduler.from_config does.
func TestConfigAs(t *testing.T) {
	cfg, err := ParseConfig([]byte(sd15Scheduler))
	if err != nil {
		t.Fatal(err)
	}
	ddim, err := cfg.As(ClassDDIM)
	if err != nil {
		t.Fatal(err)
	}
	if ddim.ClassName != ClassDDIM || ddim.ClipSample || ddim.SetAlphaToOne || ddim.StepsOffset != 1 ||
		ddim.BetaSchedule != BetaScaledLinear || ddim.TimestepSpacing != SpacingLeading {
		t.Errorf("as DDIM: %+v", ddim)
	}
	// Without clip_sample in the file, DDIM's own default (true) applies.
	noClip := strings.Replace(sd15Scheduler, `,
  "clip_sample": false`, "", 1)
	cfg2, err := ParseConfig([]byte(noClip))
	if err != nil {
		t.Fatal(err)
	}
	if ddim2, err := cfg2.As(ClassDDIM); err != nil || !ddim2.ClipSample {
		t.Errorf("as DDIM without clip_sample: clip_sample=%v, err %v; want true", ddim2.ClipSample, err)
	}
	// PNDM has timestep_spacing (leading), so Euler inherits it rather than its own linspace.
	euler, err := cfg.As(ClassEuler)
	if err != nil || euler.TimestepSpacing != SpacingLeading {
		t.Errorf("as Euler: spacing %q, err %v", euler.TimestepSpacing, err)
	}
	// Constructors convert too.
	s, err := NewDDIM(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTimesteps(10); err != nil {
		t.Fatal(err)
	}
	if got := s.Timesteps(); !slices.Equal(got, []float64{901, 801, 701, 601, 501, 401, 301, 201, 101, 1}) {
		t.Errorf("DDIM from the SD 1.5 config: %v", got)
	}
}

func TestQuoteNonFinite(t *testing.T) {
	in := `{"a": -Infinity, "b": "NaN and Infinity stay", "c": [Infinity, NaN], "d": "q\"-Infinity"}`
	want := `{"a": "-Infinity", "b": "NaN and Infinity stay", "c": ["Infinity", "NaN"], "d": "q\"-Infinity"}`
	if got := string(quoteNonFinite([]byte(in))); got != want {
		t.Errorf("quoteNonFinite:\n got %s\nwant %s", got, want)
	}
}
