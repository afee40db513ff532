// Command quickstart shows RPO's labelling arithmetic and a diffusion sampler in a few lines:
// the λ-Harmonic reward on the paper's example pair, Bradley-Terry preference labels drawn from a
// seeded sampler, and the timesteps a Stable Diffusion sampler visits.
//
//	go run ./examples/quickstart [-seed 1] [-steps 10] [-sampler ddim|euler|dpm|pndm|ddpm]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gorpo/gorpo/preference"
	"github.com/gorpo/gorpo/reward"
	"github.com/gorpo/gorpo/schedule"
)

// sdScheduler is Stable Diffusion 1.x's scheduler_config.json, read as the chosen class.
const sdScheduler = `{"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
	"num_train_timesteps": 1000, "clip_sample": false, "set_alpha_to_one": false,
	"skip_prk_steps": true, "steps_offset": 1}`

var classes = map[string]string{
	"ddim": schedule.ClassDDIM, "euler": schedule.ClassEuler, "dpm": schedule.ClassDPMSolver,
	"pndm": schedule.ClassPNDM, "ddpm": schedule.ClassDDPM,
}

func main() {
	seed := flag.Uint64("seed", 1, "seed of the preference-label draws")
	steps := flag.Int("steps", 10, "number of sampling steps")
	sampler := flag.String("sampler", "ddim", "sampler: ddim, euler, dpm, pndm or ddpm")
	flag.Parse()
	if err := run(*seed, *steps, *sampler); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(seed uint64, steps int, sampler string) error {
	fmt.Println("1. The λ-Harmonic reward (Eq. 5) on the paper's example, λ = 0.5")
	fmt.Println("   ALIGN-I  ALIGN-T  arithmetic mean  harmonic reward")
	for _, s := range [][2]float64{{0.9, 0.01}, {0.7, 0.21}} {
		r, err := reward.Harmonic(0.5).Reward(s[0], s[1])
		if err != nil {
			return err
		}
		fmt.Printf("   %7.2f  %7.2f  %15.3f  %15.3f\n", s[0], s[1], (s[0]+s[1])/2, r)
	}
	fmt.Println("   The harmonic mean exposes the image that copies the reference and ignores the prompt.")

	fmt.Printf("\n2. Bradley-Terry labels (Eq. 6), seed %d: y = 1 when the reference photo is preferred\n", seed)
	labels := preference.NewSampler(seed)
	fmt.Println("   r_ref  r_gen  σ(r_ref−r_gen)  first 16 labels      share of 1s in 10,000 draws")
	for _, gap := range []float64{0.4, 0.1, 0, -0.3} {
		pair := preference.Pair{Prompt: "a [V] dog on the Moon", RewardReference: 0.5 + gap/2, RewardGenerated: 0.5 - gap/2}
		first := ""
		ones := 0
		for i := range 10000 {
			y, err := labels.Label(pair)
			if err != nil {
				return err
			}
			ones += int(y)
			if i < 16 {
				first += fmt.Sprint(int(y))
			}
		}
		fmt.Printf("   %5.2f  %5.2f  %14.3f  %s     %.3f\n", pair.RewardReference, pair.RewardGenerated,
			pair.Probability(), first, float64(ones)/10000)
	}

	class, ok := classes[sampler]
	if !ok {
		return fmt.Errorf("-sampler %q: want one of ddim, euler, dpm, pndm, ddpm", sampler)
	}
	cfg, err := schedule.ParseConfig([]byte(sdScheduler))
	if err != nil {
		return err
	}
	if cfg, err = cfg.As(class); err != nil {
		return err
	}
	s, err := schedule.FromConfig(cfg)
	if err != nil {
		return err
	}
	if err := s.SetTimesteps(steps); err != nil {
		return err
	}
	fmt.Printf("\n3. %s with Stable Diffusion's schedule, %d steps\n", class, steps)
	fmt.Printf("   timesteps: %v\n", s.Timesteps())
	fmt.Printf("   initial noise σ: %.4g\n", s.InitNoiseSigma())
	return nil
}
