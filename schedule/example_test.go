package schedule_test

import (
	"fmt"
	"math"

	"github.com/gorpo/gorpo/schedule"
)

// A sampler from a scheduler_config.json (Stable Diffusion 1.x's, read as DDIM), its
// timesteps for 10 steps, and a sampling loop with a stand-in for the U-Net.
func Example() {
	cfg, err := schedule.ParseConfig([]byte(`{
		"_class_name": "DDIMScheduler",
		"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
		"num_train_timesteps": 1000, "clip_sample": false, "set_alpha_to_one": false,
		"steps_offset": 1
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := schedule.FromConfig(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.SetTimesteps(10); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("timesteps:", s.Timesteps())

	// x_T: one 1×4×2×2 latent (NCHW, flattened) of start noise.
	x := []float32{1.2, -0.4, 0.3, -1.1, 0.8, 0.1, -0.6, 0.5, -0.2, 1.4, 0.0, -0.9, 0.7, -1.3, 0.2, 0.6}
	for _, t := range s.Timesteps() {
		xin, _ := s.ScaleModelInput(x, t)
		eps := make([]float32, len(xin)) // the U-Net's ε prediction would go here
		for i, v := range xin {
			eps[i] = float32(0.3*float64(v) + 0.1*math.Cos(3*float64(v)+t/100))
		}
		if x, err = s.Step(eps, t, x); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Printf("x_0[:4]: %.3f\n", x[:4])
	// Output:
	// timesteps: [901 801 701 601 501 401 301 201 101 1]
	// x_0[:4]: [4.516 -1.614 1.504 -4.408]
}

// A config value this package does not implement is refused with the field's name.
func ExampleParseConfig_refused() {
	_, err := schedule.ParseConfig([]byte(`{"_class_name": "EulerDiscreteScheduler", "use_karras_sigmas": true}`))
	fmt.Println(err)
	// Output:
	// schedule: EulerDiscreteScheduler: use_karras_sigmas = true: not implemented (Karras σ spacing)
}
