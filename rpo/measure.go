package rpo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/schedule"
)

// StepMeasurement is what MeasureStep reports.
type StepMeasurement struct {
	// Steps is each step's wall time; the first includes compiling the step's graph.
	Steps []time.Duration
	// Losses are the last step's loss terms (meaningless values on random inputs, but finite
	// when the step is sound).
	Losses Losses
	// Images is the batch the step's U-Net forwards see: 2·BatchSize for the objectives that pair
	// each reference with another image, BatchSize for L_sim alone.
	Images int
}

// MeasureStep takes steps optimiser steps of cfg's objective on unet with synthetic inputs: the
// step the Trainer runs (noising, ε_θ and for RPO the frozen ε_base, the loss, the gradient and
// the AdamW update; a LoRA fine-tune with cfg.LoRARank > 0, else the whole U-Net; the compute
// dtype of cfg.Precision) without its data preparation (generation, reward labels, VAE
// encoding). The latents are random [C, side, side] samples, the prompt embeddings random
// [tokens, cross_attention_dim], the timesteps uniform and the labels alternate win and lose.
// What the step needs beside the U-Net (the frozen copy, the adapters, AdamW's state) is made
// before and removed after, so unet is as it was, apart from the updated weights of a full
// fine-tune. It is for sizing a machine (examples/sdscale runs it on Stable Diffusion's U-Net at
// 512 px); use Trainer for training.
func MeasureStep(ctx context.Context, cfg Config, unet *diffusion.UNet, sched schedule.Config, side, tokens, steps int) (*StepMeasurement, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if unet == nil {
		return nil, fmt.Errorf("rpo: MeasureStep: no U-Net")
	}
	if side < 1 || tokens < 1 || steps < 1 {
		return nil, fmt.Errorf("rpo: MeasureStep: side %d, tokens %d, steps %d, want each ≥ 1", side, tokens, steps)
	}
	prediction := sched.PredictionType
	if prediction == "" {
		prediction = schedule.PredictEpsilon
	}
	if err := CheckPrediction(prediction); err != nil {
		return nil, err
	}
	s, err := schedule.NewSchedule(sched)
	if err != nil {
		return nil, err
	}
	restore, err := useUNetPrecision(unet, cfg.Precision)
	if err != nil {
		return nil, err
	}
	defer restore()
	defer useGradientCheckpointing(unet, cfg.GradientCheckpointing)()

	m := &trainedModel{unet: unet}
	defer m.release()
	if cfg.LoRARank > 0 {
		if m.lora, err = NewLoRA(unet, cfg.LoRARank, cfg.LoRAAlpha, deriveSeed(cfg.Seed, saltLoRA)); err != nil {
			return nil, err
		}
		if err := m.lora.Attach(); err != nil {
			return nil, err
		}
		defer func() {
			m.lora.Detach()
			_ = unet.Store().DeleteVariablesInScope(LoRAScope)
		}()
	} else if cfg.Objective.Preference() {
		if err := m.copyBase(cfg.Precision); err != nil {
			return nil, err
		}
	}
	st, err := newStepper(cfg, m, s, prediction)
	if err != nil {
		return nil, err
	}
	defer st.finalize()

	ucfg := unet.Config()
	shape := [3]int{ucfg.InChannels, side, side}
	embShape := [2]int{tokens, ucfg.CrossAttentionDim.Value}
	n := cfg.BatchSize
	if st.withOthers {
		n *= 2
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6d656173757265)) // "measure"
	normal := func(k int) []float32 {
		v := make([]float32, k)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	out := &StepMeasurement{Images: n}
	for range steps {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		in := &batch{
			x0:    normal(n * shape[0] * side * side),
			noise: normal(n * shape[0] * side * side),
			t:     make([]int32, n),
			ctx:   normal(n * embShape[0] * embShape[1]),
		}
		for i := range in.t {
			in.t[i] = int32(rng.IntN(s.NumTrainTimesteps()))
		}
		if st.withLabels {
			in.labels = make([]float32, cfg.BatchSize)
			for i := range in.labels {
				in.labels[i] = float32(1 - i%2)
			}
		}
		start := time.Now()
		res, err := st.run(in, shape, embShape)
		if err != nil {
			return out, err
		}
		out.Steps = append(out.Steps, time.Since(start))
		out.Losses = res.losses
	}
	return out, nil
}
