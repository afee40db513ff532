package rpo

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/gorpo/gorpo/internal/graphtest"
	"github.com/gorpo/gorpo/schedule"
)

// The hand-made pair: one image each, shape [1, 1, 2, 2] (4 values, so mse = sum of squares / 4).
var (
	handTargetRef = []float32{1, 0, -1, 2}
	handRef       = []float32{1.5, 0, -1, 2} // off by 0.5 in one value: mse_θ_ref    = 0.25/4 = 0.0625
	handBaseRef   = []float32{1, 1, -1, 2}   // off by 1 in one value:   mse_base_ref = 1/4    = 0.25
	handTargetGen = []float32{0, 0, 0, 0}
	handGen       = []float32{1, 1, 0, 0} // off by 1 in two values: mse_θ_gen    = 2/4 = 0.5
	handBaseGen   = []float32{1, 0, 0, 0} // off by 1 in one value:  mse_base_gen = 1/4 = 0.25
)

func handArrays() []graphtest.Array {
	a := func(v []float32) graphtest.Array { return graphtest.Array{Shape: []int{1, 1, 2, 2}, Data: v} }
	return []graphtest.Array{a(handRef), a(handGen), a(handBaseRef), a(handBaseGen), a(handTargetRef), a(handTargetGen)}
}

func pairFrom(in []*Node) PairPredictions {
	return PairPredictions{Ref: in[0], Gen: in[1], BaseRef: in[2], BaseGen: in[3], TargetRef: in[4], TargetGen: in[5]}
}

// runRPO evaluates RPOLoss on inputs (the six arrays above, then the labels) and returns its
// terms by name.
func runRPO(t *testing.T, beta float64, inputs ...graphtest.Array) map[string]float64 {
	t.Helper()
	var names []string
	outs := graphtest.Run(t, func(in []*Node) []*Node {
		l := RPOLoss(pairFrom(in), in[6], beta)
		var nodes []*Node
		names, nodes = l.Named()
		return nodes
	}, inputs...)
	got := map[string]float64{}
	for i, n := range names {
		got[n] = float64(outs[i].Data[0])
	}
	return got
}

// L_sim and L_pre of the hand-made pair, against the numbers worked out by hand:
//
//	L_sim = mse_θ_ref = 0.0625
//	ℓ     = (0.25 − 0.0625) − (0.25 − 0.5) = 0.1875 + 0.25 = 0.4375
//	β·ℓ   = 2 · 0.4375 = 0.875
//	y = 1: L_pre = −log σ(0.875)  = log(1 + e^−0.875) = log(1.4168620196785084) = 0.3484445810050557
//	y = 0: L_pre = −log σ(−0.875) = 0.875 + 0.3484445810050557                 = 1.2234445810050558
//	L = L_sim + L_pre: 0.4109445810050557 (y = 1), 1.2859445810050558 (y = 0)
func TestRPOLossByHand(t *testing.T) {
	for _, tc := range []struct {
		y         float32
		pre, loss float64
	}{
		{1, 0.3484445810050557, 0.4109445810050557},
		{0, 1.2234445810050558, 1.2859445810050558},
	} {
		got := runRPO(t, 2, append(handArrays(), graphtest.Array{Shape: []int{1}, Data: []float32{tc.y}})...)
		want := map[string]float64{
			LossSim: 0.0625, LossPre: tc.pre, LossTotal: tc.loss, LossLogit: 0.875,
			LossMSEGen: 0.5, LossMSEBaseRef: 0.25, LossMSEBaseGen: 0.25,
		}
		for name, w := range want {
			if math.Abs(got[name]-w) > 1e-6 {
				t.Errorf("y=%v: %s = %.9f, want %.9f", tc.y, name, got[name], w)
			}
		}
	}
}

// With a batch of two pairs (the hand-made one under both labels) both terms are batch means.
func TestRPOLossBatchMean(t *testing.T) {
	two := func(v []float32) graphtest.Array {
		return graphtest.Array{Shape: []int{2, 1, 2, 2}, Data: append(append([]float32(nil), v...), v...)}
	}
	got := runRPO(t, 2, two(handRef), two(handGen), two(handBaseRef), two(handBaseGen), two(handTargetRef), two(handTargetGen),
		graphtest.Array{Shape: []int{2}, Data: []float32{1, 0}})
	if want := (0.3484445810050557 + 1.2234445810050558) / 2; math.Abs(got[LossPre]-want) > 1e-6 {
		t.Errorf("L_pre = %.9f, want the mean %.9f", got[LossPre], want)
	}
	if math.Abs(got[LossSim]-0.0625) > 1e-7 {
		t.Errorf("L_sim = %v, want 0.0625", got[LossSim])
	}
}

// The gradient of L_pre with respect to ε_θ on the hand-made pair, by hand:
// dL_pre/dz = σ(z) − y with σ(0.875) = 0.7057850278370112; dz/dmse_θ_ref = −β = −2;
// dmse_θ_ref/dε_θ_ref = 2(ε_θ − ε)/4 = (0.25, 0, 0, 0). For y = 1: (0.70578… − 1)·(−2)·0.25 in
// the first value.
func TestRPOLossGradientByHand(t *testing.T) {
	in := append(handArrays(), graphtest.Array{Shape: []int{1}, Data: []float32{1}})
	_, grads := graphtest.Grads(t, func(in []*Node) *Node { return RPOLoss(pairFrom(in), in[6], 2).Pre }, in...)
	want := (0.7057850278370112 - 1) * -2 * 0.25
	if g := float64(grads[0].Data[0]); math.Abs(g-want) > 1e-6 {
		t.Errorf("dL_pre/dε_θ_ref[0] = %.9f, want %.9f", g, want)
	}
	for i := 1; i < 4; i++ {
		if grads[0].Data[i] != 0 {
			t.Errorf("dL_pre/dε_θ_ref[%d] = %v, want 0 (that value is exact)", i, grads[0].Data[i])
		}
	}
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func sub(a, b []float32) []float32 {
	out := make([]float32, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// mse is the host-side mean squared error.
func mse(pred, target []float32) float64 {
	var s float64
	for i := range pred {
		d := float64(pred[i]) - float64(target[i])
		s += d * d
	}
	return s / float64(len(pred))
}

// Sign check on random tensors: a gradient-descent step on L_pre moves ε_θ toward ε on the
// reference image and away from it on the generated image when the reference is preferred
// (y = 1), and the reverse when the generated image is (y = 0). The base predictions get no
// gradient. It holds at ℓ = 0 too (trained model = base model, the first step of a fine-tune),
// where dL_pre/dz = σ(0) − y = ∓½.
func TestRPOLossGradientSigns(t *testing.T) {
	shape := []int{1, 4, 4, 4}
	for _, atStart := range []bool{false, true} {
		ref, gen := graphtest.Random(1, shape...), graphtest.Random(2, shape...)
		baseRef, baseGen := graphtest.Random(3, shape...), graphtest.Random(4, shape...)
		if atStart {
			baseRef, baseGen = ref, gen
		}
		targetRef, targetGen := graphtest.Random(5, shape...), graphtest.Random(6, shape...)
		for _, y := range []float32{1, 0} {
			labels := graphtest.Array{Shape: []int{1}, Data: []float32{y}}
			_, g := graphtest.Grads(t, func(in []*Node) *Node { return RPOLoss(pairFrom(in), in[6], 1).Pre },
				ref, gen, baseRef, baseGen, targetRef, targetGen, labels)

			// Directional: −∇ points toward the target iff ⟨∇, ε_θ − ε⟩ > 0.
			towardRef := dot(g[0].Data, sub(ref.Data, targetRef.Data)) > 0
			towardGen := dot(g[1].Data, sub(gen.Data, targetGen.Data)) > 0
			if towardRef != (y == 1) {
				t.Errorf("start=%v y=%v: descent on L_pre moves ε_θ(x_ref) toward ε: %v, want %v", atStart, y, towardRef, y == 1)
			}
			if towardGen != (y == 0) {
				t.Errorf("start=%v y=%v: descent on L_pre moves ε_θ(x_gen) toward ε: %v, want %v", atStart, y, towardGen, y == 0)
			}
			// And a small step does change the squared errors that way.
			const eta = 1e-2
			step := func(x, grad []float32) []float32 {
				out := make([]float32, len(x))
				for i := range x {
					out[i] = x[i] - eta*grad[i]
				}
				return out
			}
			if d := mse(step(ref.Data, g[0].Data), targetRef.Data) - mse(ref.Data, targetRef.Data); (d < 0) != (y == 1) {
				t.Errorf("start=%v y=%v: mse_θ_ref changes by %.3g after a descent step", atStart, y, d)
			}
			if d := mse(step(gen.Data, g[1].Data), targetGen.Data) - mse(gen.Data, targetGen.Data); (d < 0) != (y == 0) {
				t.Errorf("start=%v y=%v: mse_θ_gen changes by %.3g after a descent step", atStart, y, d)
			}
			for i := 2; i <= 3; i++ {
				for _, v := range g[i].Data {
					if v != 0 {
						t.Fatalf("start=%v y=%v: gradient reaches the frozen base prediction %d", atStart, y, i)
					}
				}
			}
			if atStart {
				// dL_pre/dε_θ_ref = (σ(0) − y)·(−β)·2(ε_θ − ε)/N.
				n := float32(len(ref.Data))
				want := make([]float32, len(ref.Data))
				for i := range want {
					want[i] = (0.5 - y) * -1 * 2 * (ref.Data[i] - targetRef.Data[i]) / n
				}
				graphtest.AssertClose(t, "gradient at ℓ = 0", g[0].Data, want, 1e-5)
			}
		}
	}
}

// The logit stays finite and the loss exact for large |β·ℓ|.
func TestBinaryCrossEntropyWithLogitStable(t *testing.T) {
	z := []float32{-200, -30, -1, 0, 1, 30, 200}
	for _, y := range []float32{0, 1} {
		labels := make([]float32, len(z))
		for i := range labels {
			labels[i] = y
		}
		outs := graphtest.Run(t, func(in []*Node) []*Node {
			l := BinaryCrossEntropyWithLogit(in[0], in[1])
			return []*Node{l, Gradient(ReduceAllSum(l), in[0])[0]}
		}, graphtest.Array{Shape: []int{len(z)}, Data: z}, graphtest.Array{Shape: []int{len(z)}, Data: labels})
		for i, zi := range z {
			x := float64(zi)
			want := math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) - float64(y)*x
			if got := float64(outs[0].Data[i]); math.Abs(got-want) > 1e-5*math.Max(1, want) {
				t.Errorf("y=%v z=%v: BCE %v, want %v", y, zi, got, want)
			}
			wantGrad := 1/(1+math.Exp(-x)) - float64(y)
			if got := float64(outs[1].Data[i]); math.Abs(got-wantGrad) > 1e-6 {
				t.Errorf("y=%v z=%v: dBCE/dz %v, want %v", y, zi, got, wantGrad)
			}
		}
	}
}

// Pure L_sim and DreamBooth's prior preservation on the hand-made tensors:
// L_sim = 0.0625; DreamBooth with the generated image as the class image and weight 0.5:
// 0.0625 + 0.5·0.5 = 0.3125, its prior term 0.5.
func TestOtherObjectives(t *testing.T) {
	for _, tc := range []struct {
		obj  Objective
		want map[string]float64
	}{
		{ObjectiveSim, map[string]float64{LossTotal: 0.0625, LossSim: 0.0625}},
		{ObjectiveSimEarlyStopping, map[string]float64{LossTotal: 0.0625, LossSim: 0.0625}},
		{ObjectiveDreamBooth, map[string]float64{LossTotal: 0.3125, LossSim: 0.0625, LossPrior: 0.5}},
		{ObjectiveRPONoEarlyStopping, map[string]float64{LossTotal: 0.4109445810050557, LossSim: 0.0625, LossPre: 0.3484445810050557}},
	} {
		cfg := DefaultConfig()
		cfg.Objective, cfg.Beta, cfg.PriorLossWeight = tc.obj, 2, 0.5
		var names []string
		outs := graphtest.Run(t, func(in []*Node) []*Node {
			p := pairFrom(in)
			if !tc.obj.Preference() {
				p.BaseRef, p.BaseGen = nil, nil
			}
			var nodes []*Node
			names, nodes = ObjectiveLoss(cfg, p, in[6]).Named()
			return nodes
		}, append(handArrays(), graphtest.Array{Shape: []int{1}, Data: []float32{1}})...)
		got := map[string]float64{}
		for i, n := range names {
			got[n] = float64(outs[i].Data[0])
		}
		for name, w := range tc.want {
			if math.Abs(got[name]-w) > 1e-6 {
				t.Errorf("%s: %s = %v, want %v", tc.obj, name, got[name], w)
			}
		}
		if tc.obj.Preference() != (got[LossPre] != 0) {
			t.Errorf("%s: terms %v", tc.obj, names)
		}
	}
}

// Target is the noise for ε-prediction and the velocity for v-prediction.
func TestTarget(t *testing.T) {
	sched, err := schedule.NewSchedule(mustScheduleConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	x0, noise := graphtest.Random(7, 2, 3, 4, 4), graphtest.Random(8, 2, 3, 4, 4)
	ts := []int{10, 900}
	outs := graphtest.Run(t, func(in []*Node) []*Node {
		ac := schedule.AlphasCumprodConst(in[0].Graph(), sched)
		t := Const(in[0].Graph(), []int32{int32(ts[0]), int32(ts[1])})
		return []*Node{Target(schedule.PredictEpsilon, ac, in[0], in[1], t), Target(schedule.PredictV, ac, in[0], in[1], t)}
	}, x0, noise)
	graphtest.AssertClose(t, "ε target", outs[0].Data, noise.Data, 0)
	v, err := sched.Velocity(x0.Data, noise.Data, ts)
	if err != nil {
		t.Fatal(err)
	}
	graphtest.AssertClose(t, "v target", outs[1].Data, v, 1e-6)
	if CheckPrediction(schedule.PredictSample) == nil {
		t.Error("sample prediction accepted for training")
	}
}

func mustScheduleConfig(t *testing.T) schedule.Config {
	t.Helper()
	cfg, err := schedule.Defaults(schedule.ClassDDPM)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
