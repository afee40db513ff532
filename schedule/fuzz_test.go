package schedule_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/schedule"
)

// Values that size memory or loops are bounded at load, naming the field (issue 12: 1e13
// timesteps used to panic in makeslice, 1e15 to run out of memory).
func TestConfigBounds(t *testing.T) {
	for _, c := range []struct{ json, field string }{
		{`{"_class_name": "DDIMScheduler", "num_train_timesteps": 10000000000000}`, "num_train_timesteps"},
		{`{"_class_name": "DDPMScheduler", "num_train_timesteps": 1000000000000000}`, "num_train_timesteps"},
		{`{"_class_name": "PNDMScheduler", "num_train_timesteps": 1000, "steps_offset": 5000}`, "steps_offset"},
	} {
		_, err := schedule.ParseConfig([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: err = %v, want one naming %s", c.json, err, c.field)
		}
	}
	// An offset that is valid on its own but pushes leading spacing's first timestep past the
	// end is an error at SetTimesteps, not an index out of range.
	cfg, err := schedule.ParseConfig([]byte(`{"_class_name": "DDIMScheduler", "num_train_timesteps": 10, "steps_offset": 9, "timestep_spacing": "leading"}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := schedule.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTimesteps(5); err == nil || !strings.Contains(err.Error(), "steps_offset") {
		t.Errorf("SetTimesteps: %v, want an error naming steps_offset", err)
	}
}

// FuzzParseConfig: any scheduler_config.json either fails to load with an error, or gives a
// schedule and a sampler whose timesteps lie inside the training range.
func FuzzParseConfig(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data, 10)
		}
	}
	f.Add([]byte(`{"_class_name": "DDIMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "num_train_timesteps": 1000, "steps_offset": 1}`), 50)
	f.Add([]byte(`{"_class_name": "EulerDiscreteScheduler", "timestep_spacing": "trailing", "prediction_type": "v_prediction"}`), 7)
	f.Add([]byte(`{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "solver_order": 2}`), 25)
	f.Add([]byte(`{"_class_name": "PNDMScheduler", "skip_prk_steps": true, "num_train_timesteps": 3}`), 3)
	f.Fuzz(func(t *testing.T, data []byte, steps int) {
		cfg, err := schedule.ParseConfig(data)
		if err != nil {
			return
		}
		if _, err := schedule.NewSchedule(cfg); err != nil {
			return
		}
		s, err := schedule.FromConfig(cfg)
		if err != nil {
			return
		}
		if steps < 1 || steps > 200 {
			steps = 1 + (steps%200+200)%200
		}
		if err := s.SetTimesteps(steps); err != nil {
			return
		}
		for _, ts := range s.Timesteps() {
			if !(ts >= 0 && ts <= float64(cfg.NumTrainTimesteps)) {
				t.Fatalf("timestep %v outside [0, %d]", ts, cfg.NumTrainTimesteps)
			}
		}
	})
}
