package optim

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/gorpo/gorpo/internal/backend"
)

// The tiny quadratic: loss = ½·Σ a·(p − c)² over a [2, 3] weight and a [3] bias under /model,
// plus a frozen variable that must not move. Its gradient is a·(p − c).
var (
	quadW0 = []float64{0.5, -1, 2, 0.25, 1.5, -0.75}
	quadB0 = []float64{1, -2, 0.1}
	quadCW = []float64{0, 1, -1, 0.5, 0.5, 0}
	quadCB = []float64{-1, 0, 3}
	quadAW = []float64{1, 2, 0.5, 3, 1, 4}
	quadAB = []float64{2, 0.5, 1}
)

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// newQuadStore holds the quadratic's parameters and a frozen variable.
func newQuadStore(t *testing.T) *model.Store {
	t.Helper()
	store := model.NewStore()
	for _, v := range []struct {
		path  string
		value *tensors.Tensor
	}{
		{"/model/dense/weight", tensors.FromFlatDataAndDimensions(f32(quadW0), 2, 3)},
		{"/model/dense/bias", tensors.FromFlatDataAndDimensions(f32(quadB0), 3)},
		{"/frozen/scale", tensors.FromFlatDataAndDimensions([]float32{1.5}, 1)},
	} {
		if _, err := store.CreateVariable(v.path, v.value); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

// quadExec builds one optimiser step of opt on the quadratic; it returns loss, grad norm, lr, step.
func quadExec(t *testing.T, store *model.Store, opt AdamW) *model.Exec {
	t.Helper()
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, g *Graph) []*Node {
		w := store.GetVariable("/model/dense/weight").NodeValue(g)
		b := store.GetVariable("/model/dense/bias").NodeValue(g)
		frozen := store.GetVariable("/frozen/scale").NodeValue(g)
		term := func(p *Node, c, a []float64) *Node {
			dims := p.Shape().Dimensions
			d := Sub(p, Reshape(Const(g, f32(c)), dims...))
			return ReduceAllSum(Mul(Reshape(Const(g, f32(a)), dims...), Square(d)))
		}
		loss := MulScalar(Add(term(w, quadCW, quadAW), term(b, quadCB, quadAB)), 0.5)
		// The frozen variable takes part in the loss (as the base U-Net would) but is not trained.
		loss = Add(loss, MulScalar(ReduceAllSum(frozen), 0))
		stats := opt.Update(scope.In("model"), loss)
		return []*Node{loss, stats.GradNorm, stats.LearningRate, stats.Step}
	})
	if err != nil {
		t.Fatal(err)
	}
	return exec
}

// hostAdamW is torch.optim.AdamW with clip_grad_norm_ and diffusers' constant_with_warmup, in
// float64, written from torch's documented update rule.
type hostAdamW struct {
	opt     AdamW
	step    int
	m, v    [][]float64
	params  [][]float64
	lastLR  float64
	lastNrm float64
}

func newHostAdamW(opt AdamW, params ...[]float64) *hostAdamW {
	h := &hostAdamW{opt: opt}
	for _, p := range params {
		h.params = append(h.params, append([]float64(nil), p...))
		h.m = append(h.m, make([]float64, len(p)))
		h.v = append(h.v, make([]float64, len(p)))
	}
	return h
}

func (h *hostAdamW) update(grads [][]float64) {
	o := h.opt
	var sq float64
	for _, g := range grads {
		for _, x := range g {
			sq += x * x
		}
	}
	h.lastNrm = math.Sqrt(sq)
	if o.MaxGradNorm > 0 {
		coef := math.Min(1, o.MaxGradNorm/(h.lastNrm+1e-6))
		for _, g := range grads {
			for i := range g {
				g[i] *= coef
			}
		}
	}
	h.step++
	lr := o.LearningRate
	if o.WarmupSteps > 0 {
		lr *= math.Min(1, float64(h.step-1)/float64(o.WarmupSteps))
	}
	h.lastLR = lr
	bc1 := 1 - math.Pow(o.Beta1, float64(h.step))
	bc2 := 1 - math.Pow(o.Beta2, float64(h.step))
	for k, p := range h.params {
		for i := range p {
			g := grads[k][i]
			if !o.DecayMatricesOnly || k == 0 { // params: the weight [2, 3], then the bias [3]
				p[i] *= 1 - lr*o.WeightDecay
			}
			h.m[k][i] = o.Beta1*h.m[k][i] + (1-o.Beta1)*g
			h.v[k][i] = o.Beta2*h.v[k][i] + (1-o.Beta2)*g*g
			denom := math.Sqrt(h.v[k][i])/math.Sqrt(bc2) + o.Epsilon
			p[i] -= lr / bc1 * h.m[k][i] / denom
		}
	}
}

func quadGrads(w, b []float64) [][]float64 {
	gw, gb := make([]float64, len(w)), make([]float64, len(b))
	for i := range w {
		gw[i] = quadAW[i] * (w[i] - quadCW[i])
	}
	for i := range b {
		gb[i] = quadAB[i] * (b[i] - quadCB[i])
	}
	return [][]float64{gw, gb}
}

func values(t *testing.T, store *model.Store, path string) []float32 {
	t.Helper()
	v := store.GetVariable(path)
	if v == nil {
		t.Fatalf("no variable %s", path)
	}
	return tensors.MustCopyFlatData[float32](v.MustValue())
}

// Several steps of AdamW on the quadratic agree with the float64 reference, with and without
// clipping, weight decay and warm-up; only the trained scope moves.
func TestAdamWMatchesTorch(t *testing.T) {
	base := AdamW{LearningRate: 0.05, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}
	cases := map[string]AdamW{}
	cases["plain"] = base
	withDecay := base
	withDecay.WeightDecay = 0.1
	cases["weight decay"] = withDecay
	clipped := withDecay
	clipped.MaxGradNorm = 0.5 // the initial gradient norm is about 17, so every step clips
	cases["clip + weight decay"] = clipped
	loose := base
	loose.MaxGradNorm = 1e3 // never clips: torch still multiplies by min(1, …) = 1
	cases["clip inactive"] = loose
	warm := clipped
	warm.WarmupSteps = 3
	cases["warm-up"] = warm
	bigEps := clipped
	bigEps.Epsilon = 0.1 // tells ε outside the square root (torch) from ε inside
	cases["large epsilon"] = bigEps
	paper := AdamW{LearningRate: 5e-6, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.01, MaxGradNorm: 1, Scope: DefaultScope} // the RPO paper's settings
	cases["paper defaults"] = paper
	matrices := withDecay
	matrices.DecayMatricesOnly = true // the weight [2, 3] decays, the bias [3] does not
	cases["decay matrices only"] = matrices

	for name, opt := range cases {
		t.Run(name, func(t *testing.T) {
			store := newQuadStore(t)
			exec := quadExec(t, store, opt)
			defer exec.Finalize()
			host := newHostAdamW(opt, quadW0, quadB0)
			var maxErr float64
			for step := 1; step <= 6; step++ {
				outs, err := exec.Exec()
				if err != nil {
					t.Fatal(err)
				}
				host.update(quadGrads(host.params[0], host.params[1]))
				gotNorm := float64(tensors.ToScalar[float32](outs[1]))
				if math.Abs(gotNorm-host.lastNrm) > 1e-5*host.lastNrm {
					t.Errorf("step %d: grad norm %v, want %v", step, gotNorm, host.lastNrm)
				}
				if gotLR := float64(tensors.ToScalar[float32](outs[2])); math.Abs(gotLR-host.lastLR) > 1e-6*opt.LearningRate {
					t.Errorf("step %d: lr %v, want %v", step, gotLR, host.lastLR)
				}
				if gotStep := tensors.ToScalar[int64](outs[3]); gotStep != int64(step) {
					t.Errorf("step %d: step count %d", step, gotStep)
				}
				for k, path := range []string{"/model/dense/weight", "/model/dense/bias"} {
					got := values(t, store, path)
					for i, want := range host.params[k] {
						// Float32 rounding: half an ulp (≤ 1.2e-7 for |p| < 4) per step at most.
						err := math.Abs(float64(got[i]) - want)
						maxErr = math.Max(maxErr, err)
						if err > 1.2e-7*float64(step) {
							t.Fatalf("step %d: %s[%d] = %.9f, want %.9f", step, path, i, got[i], want)
						}
					}
				}
			}
			t.Logf("max |float32 − float64 reference| after 6 steps: %.3g", maxErr)
			if got := values(t, store, "/frozen/scale"); got[0] != 1.5 {
				t.Errorf("the frozen variable moved to %v", got[0])
			}
			for v := range store.IterVariables() {
				if under(v.Path(), DefaultScope) && v.Trainable {
					t.Errorf("optimizer state %s is trainable", v.Path())
				}
			}
			for _, p := range []string{"/optimizer/step", "/optimizer/exp_avg/model/dense/weight", "/optimizer/exp_avg_sq/model/dense/bias"} {
				if store.GetVariable(p) == nil {
					t.Errorf("no optimizer state variable %s", p)
				}
			}
			if store.GetVariable("/optimizer/exp_avg/frozen/scale") != nil {
				t.Error("the frozen variable got optimizer state")
			}
		})
	}
}

// Saving the optimiser state after 3 steps and loading it, with the parameters, into a fresh
// store gives after 2 more steps exactly what 5 uninterrupted steps give.
func TestAdamWStateResume(t *testing.T) {
	opt := AdamW{LearningRate: 0.05, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.01, MaxGradNorm: 1, WarmupSteps: 2}
	run := func(store *model.Store, steps int) {
		exec := quadExec(t, store, opt)
		defer exec.Finalize()
		for range steps {
			if _, err := exec.Exec(); err != nil {
				t.Fatal(err)
			}
		}
	}
	straight := newQuadStore(t)
	run(straight, 5)

	first := newQuadStore(t)
	run(first, 3)
	path := filepath.Join(t.TempDir(), "optimizer.safetensors")
	if err := SaveState(first, opt.StateScope(), path); err != nil {
		t.Fatal(err)
	}
	resumed := newQuadStore(t)
	for _, p := range []string{"/model/dense/weight", "/model/dense/bias"} {
		if err := resumed.GetVariable(p).SetValue(first.GetVariable(p).MustValue()); err != nil {
			t.Fatal(err)
		}
	}
	if err := LoadState(resumed, opt.StateScope(), path); err != nil {
		t.Fatal(err)
	}
	if got := tensors.ToScalar[int64](resumed.GetVariable("/optimizer/step").MustValue()); got != 3 {
		t.Fatalf("loaded step %d, want 3", got)
	}
	run(resumed, 2)
	for _, p := range []string{"/model/dense/weight", "/model/dense/bias", "/optimizer/exp_avg_sq/model/dense/weight"} {
		a, b := values(t, straight, p), values(t, resumed, p)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", p, i, b[i], a[i])
			}
		}
	}
}

// Loading refuses a file whose shapes disagree with existing variables, and changes nothing.
func TestLoadStateMismatch(t *testing.T) {
	opt := AdamW{LearningRate: 0.05, Beta1: 0.9, Beta2: 0.999}
	store := newQuadStore(t)
	exec := quadExec(t, store, opt)
	if _, err := exec.Exec(); err != nil {
		t.Fatal(err)
	}
	exec.Finalize()
	path := filepath.Join(t.TempDir(), "optimizer.safetensors")
	if err := SaveState(store, "", path); err != nil {
		t.Fatal(err)
	}
	other := model.NewStore()
	if _, err := other.CreateVariable("/optimizer/exp_avg/model/dense/bias", tensors.FromFlatDataAndDimensions([]float32{9, 9}, 2)); err != nil {
		t.Fatal(err)
	}
	if err := LoadState(other, "/optimizer", path); err == nil {
		t.Fatal("mismatched shapes accepted")
	} else {
		t.Log(err)
	}
	if other.GetVariable("/optimizer/step") != nil {
		t.Error("a failed load created variables")
	}
	if err := SaveState(model.NewStore(), "/optimizer", path); err == nil {
		t.Error("saving an empty optimizer state succeeded")
	}
}

// A learning rate fed as a node gives the same step as the same constant learning rate.
func TestUpdateWithLearningRate(t *testing.T) {
	run := func(fed bool) []float32 {
		store := model.NewStore()
		opt := AdamW{LearningRate: 0.05, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.01, MaxGradNorm: 1, Scope: DefaultScope}
		exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, lr *Node) *Node {
			w := scope.In("w").VariableWithValue("v", []float32{1, -2, 3}).NodeValue(lr.Graph())
			loss := ReduceAllSum(Square(AddScalar(w, -0.5)))
			if fed {
				opt.UpdateWithLearningRate(scope, loss, lr)
			} else {
				opt.Update(scope, loss)
			}
			return loss
		})
		if err != nil {
			t.Fatal(err)
		}
		defer exec.Finalize()
		for range 3 {
			if _, err := exec.Exec(float32(0.05)); err != nil {
				t.Fatal(err)
			}
		}
		return tensors.MustCopyFlatData[float32](store.GetVariable("/w/v").MustValue())
	}
	a, b := run(false), run(true)
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-7 {
			t.Fatalf("constant lr %v, fed lr %v", a, b)
		}
	}
}
