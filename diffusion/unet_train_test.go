package diffusion

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/gorpo/gorpo/internal/backend"
)

// normalNoise returns n standard-normal float32 values from seed.
func normalNoise(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// trainInputs are the inputs of an ε-MSE training graph over the fixture, func(scope, x, ts,
// ctx, eps): its sample (NCHW), timesteps (float32) and context, and standard-normal noise eps
// from seed, [batch, height, width, channels].
func (f unetFixture) trainInputs(seed uint64) []any {
	b, c, h, w := f.shape[0], f.shape[1], f.shape[2], f.shape[3]
	ts := make([]float32, len(f.timesteps))
	for i, v := range f.timesteps {
		ts[i] = float32(v)
	}
	return []any{
		tensors.FromFlatDataAndDimensions(f.sample, f.shape[:]...),
		tensors.FromFlatDataAndDimensions(ts, len(ts)),
		tensors.FromFlatDataAndDimensions(f.context, f.ctxShape[:]...),
		tensors.FromFlatDataAndDimensions(normalNoise(b*h*w*c, seed), b, h, w, c),
	}
}

// A few Adam steps on the ε-prediction MSE of a fixed batch lower it, while a frozen copy of the
// U-Net in the same Store and graph (the RPO set-up: trained and base U-Nets side by side) keeps
// its weights.
func TestUNetTrains(t *testing.T) {
	f := loadUNetFixture(t, "unet_sd1")
	u, err := LoadUNet(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	store := u.Store()
	if err := u.CopyTo(store, "/base", false); err != nil {
		t.Fatal(err)
	}
	opt := optimizer.Adam().LearningRate(1e-3).Done()
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, x, ts, ctx, eps *Node) (*Node, *Node) {
		x = TransposeAllAxes(x, 0, 2, 3, 1) // NCHW fixture → channels last
		loss := ReduceAllMean(Square(Sub(u.Forward(scope.In("unet"), x, ts, ctx), eps)))
		baseLoss := ReduceAllMean(Square(Sub(u.Forward(scope.In("base"), x, ts, ctx), eps)))
		opt.UpdateGraph(scope, x.Graph(), loss)
		return loss, baseLoss
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	args := f.trainInputs(3)
	watch := "/unet/down_blocks/0/attentions/0/transformer_blocks/0/attn1/to_q/weight"
	before := tensors.MustCopyFlatData[float32](store.GetVariable(watch).MustValue())
	baseBefore := tensors.MustCopyFlatData[float32](store.GetVariable("/base" + watch[len("/unet"):]).MustValue())
	var losses, baseLosses []float64
	for range 6 {
		outs, err := exec.Exec(args...)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, float64(tensors.MustCopyFlatData[float32](outs[0])[0]))
		baseLosses = append(baseLosses, float64(tensors.MustCopyFlatData[float32](outs[1])[0]))
	}
	t.Logf("ε-MSE over 6 Adam steps: %.4f; frozen copy: %.4f", losses, baseLosses)
	if last := losses[len(losses)-1]; !(last < 0.9*losses[0]) {
		t.Fatalf("the loss did not fall by 10%%: %v", losses)
	}
	for i := range baseLosses {
		if baseLosses[i] != baseLosses[0] {
			t.Fatalf("the frozen copy changed: %v", baseLosses)
		}
	}
	if math.Abs(baseLosses[0]-losses[0]) > 1e-6*losses[0] {
		t.Fatalf("the copy starts at loss %v, the U-Net at %v", baseLosses[0], losses[0])
	}
	after := tensors.MustCopyFlatData[float32](store.GetVariable(watch).MustValue())
	baseAfter := tensors.MustCopyFlatData[float32](store.GetVariable("/base" + watch[len("/unet"):]).MustValue())
	if slices.Equal(before, after) || !slices.Equal(baseBefore, baseAfter) {
		t.Fatalf("trained weights changed: %v; frozen weights unchanged: %v", !slices.Equal(before, after), slices.Equal(baseBefore, baseAfter))
	}
}
