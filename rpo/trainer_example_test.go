package rpo_test

import (
	"context"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/diffusion/diffusiontest"
	"github.com/gorpo/gorpo/reward/rewardtest"
	"github.com/gorpo/gorpo/rpo"
)

// A whole RPO fine-tune: generate I_gen, score and pair it, train, validate, keep the best
// weights. Here the model is a tiny random-weight Stable Diffusion (diffusiontest) and the judge
// a fake embedder (rewardtest), at a tiny size with 2 sampling steps, so it runs in seconds. A real run
// loads a diffusers folder (diffusion.LoadPipeline("stable-diffusion-v1-5")) and ALIGN
// (align.LoadALIGN), reads the subject's photos, and keeps DefaultConfig's and
// DefaultGeneration's settings: 400 steps, 32 generated images, 50 sampling steps.
func ExampleTrainer() {
	dir, err := os.MkdirTemp("", "rpo-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := diffusiontest.WriteTinySD(filepath.Join(dir, "sd"), 1); err != nil { // test support
		fmt.Println(err)
		return
	}
	pipe, err := diffusion.LoadPipeline(filepath.Join(dir, "sd"))
	if err != nil {
		fmt.Println(err)
		return
	}
	judge := rewardtest.NewFakeEmbedder() // test support: align.LoadALIGN(...) in a real run
	photos := rewardtest.References(3)    // test support: the subject's photos

	cfg := rpo.DefaultConfig()
	cfg.Class = "dog"
	cfg.TrainingTemplates = []string{"a {V} {class} on the moon", "a {V} {class} in the snow"}
	cfg.ImagesPerPrompt = 2
	cfg.Steps, cfg.ValidateEvery, cfg.ValidationImagesPerPrompt = 4, 2, 1

	trainer, err := rpo.NewTrainer(cfg, pipe, judge, photos,
		rpo.OutDir(filepath.Join(dir, "out")),
		rpo.WithGeneration(rpo.Generation{Steps: 2, Guidance: 7.5, Height: 16, Width: 16, BatchSize: 4}),
		rpo.Logger(io.Discard), // progress and log lines; os.Stderr by default
		rpo.WithHooks(rpo.Hooks{
			OnValidate: func(step int, reward float64, images []image.Image) (stop bool) {
				fmt.Printf("step %d: validated on %d images\n", step, len(images))
				return false
			},
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := trainer.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("trained %d steps, %d validations, stopped by %s\n", res.StepsTrained, len(res.Rewards), res.StopReason)
	fmt.Println("best weights:", filepath.Base(res.WeightsDir)+"/unet")
	// Output:
	// step 2: validated on 2 images
	// step 4: validated on 2 images
	// trained 4 steps, 2 validations, stopped by steps
	// best weights: best/unet
}
