package schedule

import (
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/fixtures"
)

// The graph-side forward process agrees with the host-side one on the fixture inputs.
func TestGraphAddNoiseVelocity(t *testing.T) {
	f := fixtures.IO(t, "schedulers")
	ac, _ := fixtures.Float32(t, f, "alphas_cumprod")
	s, err := NewSchedule(sdConfig(t, ClassDDPM, len(ac), nil))
	if err != nil {
		t.Fatal(err)
	}
	x0, shape := fixtures.Float32(t, f, "x0")
	noise, _ := fixtures.Float32(t, f, "noise")
	ts, _ := fixtures.Int64(t, f, "t")

	exec, err := NewExec(backend.MustDefault(), func(x0, noise, t *Node) (*Node, *Node) {
		acNode := AlphasCumprodConst(x0.Graph(), s)
		return AddNoiseGraph(acNode, x0, noise, t), VelocityGraph(acNode, x0, noise, t)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	outs, err := exec.Call(
		tensors.FromFlatDataAndDimensions(x0, shape...),
		tensors.FromFlatDataAndDimensions(noise, shape...),
		tensors.FromFlatDataAndDimensions(ts, len(ts)))
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"add_noise", "velocity"} {
		got, err := tensors.CopyFlatData[float32](outs[i])
		if err != nil {
			t.Fatal(err)
		}
		want, _ := fixtures.Float32(t, f, name)
		rel := fixtures.RelErr(got, want)
		t.Logf("graph %s: max rel err %.3g vs fixture", name, rel)
		if rel > 1e-6 {
			t.Errorf("graph %s: max rel err %.3g", name, rel)
		}
	}
}

// NoisyBatch draws t in [0, T) and standard normal noise, repeatably for a seed, and its x_t
// is AddNoise(x0, noise, t).
func TestGraphNoisyBatch(t *testing.T) {
	s, err := NewSchedule(sdConfig(t, ClassDDPM, 1000, nil))
	if err != nil {
		t.Fatal(err)
	}
	const batch, per = 64, 3 * 8 * 8
	x0 := startSample(batch * per)
	exec, err := NewExec(backend.MustDefault(), func(rng, x0 *Node) []*Node {
		rng, xt, noise, t := NoisyBatch(rng, AlphasCumprodConst(x0.Graph(), s), x0)
		return []*Node{rng, xt, noise, t}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	draw := func(seed int64) (xt, noise []float32, ts []int32) {
		rng, err := RNGStateFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		outs, err := exec.Call(rng, tensors.FromFlatDataAndDimensions(x0, batch, 3, 8, 8))
		if err != nil {
			t.Fatal(err)
		}
		xt = tensors.MustCopyFlatData[float32](outs[1])
		noise = tensors.MustCopyFlatData[float32](outs[2])
		ts = tensors.MustCopyFlatData[int32](outs[3])
		return
	}
	xt, noise, ts := draw(42)
	xt2, _, ts2 := draw(42)
	if fixtures.RelErr(xt, xt2) != 0 || ts[0] != ts2[0] {
		t.Error("two draws with seed 42 differ")
	}
	distinct := map[int32]bool{}
	tInts := make([]int, batch)
	for i, v := range ts {
		if v < 0 || v >= 1000 {
			t.Fatalf("t[%d] = %d outside [0, 1000)", i, v)
		}
		distinct[v] = true
		tInts[i] = int(v)
	}
	if len(distinct) < batch/2 {
		t.Errorf("only %d distinct timesteps in %d draws", len(distinct), batch)
	}
	var sum, sq float64
	for _, v := range noise {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(noise))
	if mean, variance := sum/n, sq/n-(sum/n)*(sum/n); mean*mean > 0.003 || variance < 0.9 || variance > 1.1 {
		t.Errorf("noise mean %.3f variance %.3f, want about 0 and 1", mean, variance)
	}
	want, err := s.AddNoise(x0, noise, tInts)
	if err != nil {
		t.Fatal(err)
	}
	if rel := fixtures.RelErr(xt, want); rel > 1e-6 {
		t.Errorf("x_t differs from host AddNoise by %.3g", rel)
	}
}
