package basemodel

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/graphtest"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/schedule"
)

// Training and sampling agree: the same (noisy latents, timestep, prompt) through the training
// step's forward pass and through what the exported pipeline computes at each denoising call
// (its VAE's scaled latents, its tokenizer and text encoder, its U-Net, its scheduler's
// prediction type) give the same prediction, so that no compute is spent on a model the sampler
// then uses differently.
func TestTrainingMatchesPipeline(t *testing.T) {
	ctx := context.Background()
	m, d := newTiny(t, 4, "v_prediction")
	dir := filepath.Join(t.TempDir(), "model")
	if err := m.Export(dir, false, nil); err != nil {
		t.Fatal(err)
	}
	p, err := diffusion.LoadPipeline(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Scheduler.PredictionType, m.Config.Scheduler.PredictionType; got != want {
		t.Fatalf("pipeline predicts %q, training %q", got, want)
	}
	if got := float32(p.VAE.ScalingFactor()); got != d.Scale || got == 1 {
		t.Fatalf("pipeline scaling_factor %v, training %v", got, d.Scale)
	}

	// Latents: the data set's (the posterior mean, channels last) against the pipeline VAE's.
	const n, side, px = 4, toyworld.Size, toyworld.Size * toyworld.Size
	h, w, c := d.LatentShape[0], d.LatentShape[1], d.LatentShape[2]
	x := make([]float32, n*3*px)
	for i := range n {
		for k := range px {
			for ch := range 3 {
				x[(i*3+ch)*px+k] = float32(d.Pixels[(i*px+k)*3+ch])/127.5 - 1
			}
		}
	}
	mean, _, ls, err := p.VAE.Encode(ctx, x, [4]int{n, 3, side, side})
	if err != nil {
		t.Fatal(err)
	}
	if ls != [4]int{n, c, h, w} {
		t.Fatalf("pipeline latents %v, data set's %v", ls, d.LatentShape)
	}
	toNHWC := func(v []float32) []float32 {
		out := make([]float32, len(v))
		for i := range n {
			for ch := range c {
				for k := range h * w {
					out[(i*h*w+k)*c+ch] = v[(i*c+ch)*h*w+k]
				}
			}
		}
		return out
	}
	graphtest.AssertClose(t, "latent means", toNHWC(mean), d.Mean[:n*h*w*c], 1e-5)

	// Token ids: the data set's against the pipeline tokenizer's.
	ids, _ := p.Tokenizer.BatchEncode(d.Captions[:n])
	for i := range n {
		row := make([]int32, len(ids[i]))
		for j, id := range ids[i] {
			row[j] = int32(id)
		}
		if got := d.IDs[i*MaxLength : (i+1)*MaxLength]; !slices.Equal(got, row) {
			t.Fatalf("caption %q: data set ids %v, pipeline's %v", d.Captions[i], got, row)
		}
	}

	// One prediction each way, at timesteps spread over the schedule.
	x0 := make([]float32, n*h*w*c)
	for i, v := range d.Mean[:len(x0)] {
		x0[i] = v * d.Scale
	}
	noise := graphtest.Random(7, n, h, w, c).Data
	ts := []int32{3, 250, 600, 999}
	sched, err := schedule.NewSchedule(m.Config.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(m.backend, m.store, func(scope *model.Scope, in []*Node) []*Node {
		pred, _ := m.forward(scope, sched, in[0], in[1], in[2], in[3])
		return []*Node{pred}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(x0, n, h, w, c),
		tensors.FromFlatDataAndDimensions(d.IDs[:n*MaxLength], n, MaxLength),
		tensors.FromFlatDataAndDimensions(noise, n, h, w, c), tensors.FromFlatDataAndDimensions(ts, n))
	if err != nil {
		t.Fatal(err)
	}
	trained := tensors.MustCopyFlatData[float32](outs[0])

	toNCHW := func(v []float32) []float32 {
		out := make([]float32, len(v))
		for i := range n {
			for ch := range c {
				for k := range h * w {
					out[(i*c+ch)*h*w+k] = v[(i*h*w+k)*c+ch]
				}
			}
		}
		return out
	}
	its, tf := make([]int, n), make([]float64, n)
	for i, v := range ts {
		its[i], tf[i] = int(v), float64(v)
	}
	ps, err := schedule.NewSchedule(p.Scheduler) // the pipeline's own noise schedule
	if err != nil {
		t.Fatal(err)
	}
	xt, err := ps.AddNoise(toNCHW(x0), toNCHW(noise), its)
	if err != nil {
		t.Fatal(err)
	}
	states, stShape, err := p.EncodePrompts(ctx, d.Captions[:n], 0)
	if err != nil {
		t.Fatal(err)
	}
	sampled, err := p.UNet.Predict(ctx, xt, [4]int{n, c, h, w}, tf, states, stShape)
	if err != nil {
		t.Fatal(err)
	}
	graphtest.AssertClose(t, "training vs pipeline prediction", toNCHW(trained), sampled, 1e-4)
}
