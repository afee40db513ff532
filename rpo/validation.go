package rpo

import (
	"context"
	"fmt"
	"image"
	"path/filepath"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/reward"
)

// A validation, every Config.ValidateEvery steps (at steps K, 2K, …, as the official code does:
// not at step 0, so the base model is never a candidate, and not after a last step that is not a
// multiple of K): the pipeline generates ValidationImagesPerPrompt images for each validation
// prompt with the current weights, from the same fixed seeds every time; the Scorer rates them at
// λ_val against their prompts (the subject token removed, as the official code does); the mean
// over prompts of the per-prompt mean reward is the validation reward that early stopping ranks.

// validation is one validation's outcome.
type validation struct {
	step          int
	reward        float64
	promptRewards []float64
	images        []image.Image
}

// validationSeeds are the fixed seeds of the validation images, one per image.
func (t *Trainer) validationSeeds() []uint64 {
	return seedsFor(t.cfg.Seed, saltValidation, len(t.prompts.validation)*t.cfg.ValidationImagesPerPrompt)
}

// validate generates and scores the validation images of step with the weights the U-Net holds
// (or its attached adapters).
func (t *trainerRun) validate(ctx context.Context, scorer *reward.Scorer, step int) (*validation, error) {
	prompts := t.prompts.validation
	per := t.cfg.ValidationImagesPerPrompt
	t.rep.begin(PhaseValidate, "step", 0, 1)
	opts := append(t.gen.options(), diffusion.ImagesPerPrompt(per), diffusion.Seeds(t.validationSeeds()...),
		diffusion.Progress(func(done, total int) {
			t.rep.update(ProgressEvent{Phase: PhaseValidate, Done: done, Total: total, Step: step, Loss: t.lastLoss, Reward: t.lastReward})
		}))
	images, err := t.pipe.Generate(ctx, prompts, opts...)
	t.rep.finish()
	if err != nil {
		return nil, fmt.Errorf("rpo: validation at step %d: %w", step, err)
	}
	all := make([]string, 0, len(images))
	for _, p := range prompts {
		for range per {
			all = append(all, p)
		}
	}
	scores, err := scorer.Score(ctx, images, all, reward.Harmonic(t.cfg.LambdaVal))
	if err != nil {
		return nil, fmt.Errorf("rpo: validation at step %d: %w", step, err)
	}
	v := &validation{step: step, images: images, promptRewards: make([]float64, len(prompts))}
	for i := range prompts {
		var sum float64
		for j := range per {
			sum += scores[i*per+j].Reward
		}
		v.promptRewards[i] = sum / float64(per)
		v.reward += v.promptRewards[i]
	}
	v.reward /= float64(len(prompts))
	return v, nil
}

// validationGridPath is OutDir/validation/step-XXXX.png.
func validationGridPath(outDir string, step int) string {
	return filepath.Join(outDir, "validation", fmt.Sprintf("step-%04d.png", step))
}

// rewardCurvePath is OutDir/reward_curve.png.
func rewardCurvePath(outDir string) string { return filepath.Join(outDir, "reward_curve.png") }

// writeCurve redraws the reward curve with the PlotRewardCurve plotter, if any, when it has a
// finite point.
func (t *Trainer) writeCurve(points []RewardPoint) error {
	if t.opts.plotCurve == nil || BestPoint(points) < 0 {
		return nil
	}
	title := fmt.Sprintf("RPO %s: validation reward (λ_val = %g)", t.cfg.Objective, t.cfg.LambdaVal)
	return t.opts.plotCurve(rewardCurvePath(t.opts.outDir), points, title)
}
