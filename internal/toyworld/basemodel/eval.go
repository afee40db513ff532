package basemodel

import (
	"context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/schedule"
)

// HeldOutSeed is the first GenericScene seed of the held-out scenes Denoise uses: far above any
// training set's GenericScene(0 … Scenes-1).
const HeldOutSeed = 1 << 40

// DenoiseResult is how well a pipeline's U-Net denoises held-out renders at fixed timesteps.
type DenoiseResult struct {
	Timesteps []int
	// MSE per timestep, over the images, of the one-step estimate x̂0, decoded, against the
	// render (pixels in [-1, 1]): the same yardstick for ε- and v-prediction.
	MSE []float64
	// Rows are NCHW image rows in [-1, 1]: the renders, then for each timestep the noisy latents
	// x_t and the one-step estimate x̂0 (from ε̂: (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t; from v̂:
	// √ᾱ_t·x_t − √(1−ᾱ_t)·v̂), both decoded.
	Rows [][]float32
	N    int
}

// Denoise encodes n held-out renders (GenericScene(HeldOutSeed+i), with their captions) with
// the pipeline's VAE (the posterior mean, scaled), noises them to each timestep with noise from
// seed and runs the U-Net once: the error of its one-step estimate, decoded, tells per noise level
// how far training has got, and the x̂0 rows show it.
func Denoise(ctx context.Context, p *diffusion.Pipeline, n int, timesteps []int, seed uint64) (DenoiseResult, error) {
	sched, err := schedule.NewSchedule(p.Scheduler)
	if err != nil {
		return DenoiseResult{}, err
	}
	velocity := p.Scheduler.PredictionType == "v_prediction"
	if !velocity && p.Scheduler.PredictionType != "epsilon" {
		return DenoiseResult{}, fmt.Errorf("basemodel: denoise: prediction_type %q, want epsilon or v_prediction", p.Scheduler.PredictionType)
	}
	const side, px = toyworld.Size, toyworld.Size * toyworld.Size
	x0 := make([]float32, n*3*px)
	caps := make([]string, n)
	for i := range n {
		s := toyworld.GenericScene(HeldOutSeed + uint64(i))
		img, _, err := toyworld.Render(s)
		if err != nil {
			return DenoiseResult{}, err
		}
		if caps[i], err = toyworld.Caption(s); err != nil {
			return DenoiseResult{}, err
		}
		for k := range px {
			for c := range 3 {
				x0[(i*3+c)*px+k] = float32(img.Pix[k*3+c])/127.5 - 1
			}
		}
	}
	ids, _ := p.Tokenizer.BatchEncode(caps)
	emb, eshape, err := p.TextEncoder.Encode(ctx, ids)
	if err != nil {
		return DenoiseResult{}, err
	}
	if p.VAE == nil {
		return DenoiseResult{}, fmt.Errorf("basemodel: denoise: the pipeline has no VAE")
	}
	mean, _, ls, err := p.VAE.Encode(ctx, x0, [4]int{n, 3, side, side})
	if err != nil {
		return DenoiseResult{}, err
	}
	scale := float32(p.VAE.ScalingFactor())
	z0 := make([]float32, len(mean))
	for i, v := range mean {
		z0[i] = v * scale
	}
	ac := sched.AlphasCumprod()
	r := rand.New(rand.NewPCG(seed, 0x64656e6f))
	res := DenoiseResult{Timesteps: timesteps, Rows: [][]float32{x0}, N: n}
	for _, t := range timesteps {
		if t < 0 || t >= len(ac) {
			return DenoiseResult{}, fmt.Errorf("basemodel: denoise: timestep %d, want [0, %d)", t, len(ac))
		}
		noise := make([]float32, len(z0))
		for i := range noise {
			noise[i] = float32(r.NormFloat64())
		}
		ts, tf := make([]int, n), make([]float64, n)
		for i := range ts {
			ts[i], tf[i] = t, float64(t)
		}
		zt, err := sched.AddNoise(z0, noise, ts)
		if err != nil {
			return DenoiseResult{}, err
		}
		out, err := p.UNet.Predict(ctx, zt, ls, tf, emb, [3]int{eshape[0], eshape[1], eshape[2]})
		if err != nil {
			return DenoiseResult{}, err
		}
		a := float64(ac[t])
		hat := make([]float32, len(zt))
		for i := range hat {
			x, y := float64(zt[i]), float64(out[i])
			if velocity {
				hat[i] = float32(math.Sqrt(a)*x - math.Sqrt(1-a)*y)
			} else {
				hat[i] = float32((x - math.Sqrt(1-a)*y) / math.Sqrt(a))
			}
		}
		xtImg, _, err := p.DecodeLatents(ctx, zt, ls)
		if err != nil {
			return DenoiseResult{}, err
		}
		hatImg, _, err := p.DecodeLatents(ctx, hat, ls)
		if err != nil {
			return DenoiseResult{}, err
		}
		var mse float64
		for i := range hatImg {
			d := float64(hatImg[i] - x0[i])
			mse += d * d
		}
		res.MSE = append(res.MSE, mse/float64(len(hatImg)))
		res.Rows = append(res.Rows, xtImg, hatImg)
	}
	return res, nil
}

// Images returns the rows as images, row by row.
func (r DenoiseResult) Images() ([][]image.Image, error) {
	var out [][]image.Image
	for _, row := range r.Rows {
		imgs, err := diffusion.ImagesFromNCHW(row, [4]int{r.N, 3, toyworld.Size, toyworld.Size})
		if err != nil {
			return nil, err
		}
		out = append(out, imgs)
	}
	return out, nil
}
