package rpo_test

import (
	"fmt"

	"github.com/gorpo/gorpo/rpo"
)

// The paper's settings for a DreamBench dog, and the prompts it trains on.
func ExampleConfig() {
	cfg := rpo.DefaultConfig()
	cfg.Class, cfg.Live = "dog", rpo.IsLiveSubject("dog")
	if err := cfg.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("objective %s: %d steps, batch %d, lr %g, β = %g\n", cfg.Objective, cfg.Steps, cfg.BatchSize, cfg.LearningRate, cfg.Beta)
	fmt.Printf("AdamW β₁ %g β₂ %g ε %g, weight decay %g, clip %g\n", cfg.Beta1, cfg.Beta2, cfg.Epsilon, cfg.WeightDecay, cfg.MaxGradNorm)
	fmt.Printf("λ_train %g, λ_val %g, validate every %d steps\n", cfg.LambdaTrain, cfg.LambdaVal, cfg.ValidateEvery)

	subject, _ := rpo.SubjectPrompt(cfg)
	fmt.Printf("reference photos: %q\n", subject)
	prompts, _ := rpo.TrainingPrompts(cfg)
	fmt.Printf("%d training prompts, %d images each:\n", len(prompts), cfg.ImagesPerPrompt)
	for _, p := range prompts {
		fmt.Println(" ", p)
	}
	// Output:
	// objective rpo: 400 steps, batch 1, lr 5e-06, β = 1
	// AdamW β₁ 0.9 β₂ 0.999 ε 1e-08, weight decay 0.01, clip 1
	// λ_train 0, λ_val 0.3, validate every 40 steps
	// reference photos: "a photo of [V] dog"
	// 8 training prompts, 4 images each:
	//   a [V] dog wearing a green outfit
	//   a [V] dog in Vincent Van Gogh rendition
	//   a [V] dog with a China Great Wall in the background
	//   a [V] dog is swimming in a pool
	//   a [V] dog on a subway platform
	//   a [V] dog with the Statue of Liberty in the background
	//   a [V] dog on the Moon
	//   a green [V] dog
}
