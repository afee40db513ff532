package diffusion

import (
	"context"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/fixtures"
)

// bf16ParityTol bounds max|a-b|/max|b| of a bfloat16 run against the float32 reference: bfloat16
// keeps 8 significant bits (a relative rounding of up to 2^-9 ≈ 2e-3 per value), and a network
// of a few dozen layers accumulates several of those roundings. Measured on the shipped
// fixtures: unet_sd1 2.5e-2, unet_sd2 1.2e-2 (float16: 3.3e-3, 2.3e-3), vae 2.2e-2, CLIP text
// 8e-3; gradients 1.4e-2.
const bf16ParityTol = 5e-2

// Under SetComputeDType(BFloat16) the fixture U-Net agrees with the float32 reference within
// bfloat16's precision, its output is float32 and its float32 weights are left as they are.
func TestUNetPrecisionBF16Parity(t *testing.T) {
	for _, name := range []string{"unet_sd1", "unet_sd2"} {
		t.Run(name, func(t *testing.T) { testUNetPrecisionBF16Parity(t, name) })
	}
}

func testUNetPrecisionBF16Parity(t *testing.T, name string) {
	f := loadUNetFixture(t, name)
	u, err := LoadUNet(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if u.ComputeDType() != dtypes.Float32 {
		t.Fatalf("default compute dtype %s, want Float32", u.ComputeDType())
	}
	if err := u.SetComputeDType(dtypes.Int32); err == nil {
		t.Fatal("SetComputeDType(Int32) accepted")
	}
	if err := u.SetComputeDType(dtypes.BFloat16); err != nil {
		t.Fatal(err)
	}
	got, err := u.Predict(context.Background(), f.sample, f.shape, f.timesteps, f.context, f.ctxShape)
	if err != nil {
		t.Fatal(err)
	}
	e := fixtures.RelErr(got, f.want)
	t.Logf("%s out %v in bfloat16: max|a-b|/max|b| = %.3g", name, f.wantShape, e)
	if e > bf16ParityTol || math.IsNaN(e) {
		t.Fatalf("bfloat16: relative error %.3g > %g", e, bf16ParityTol)
	}
	for v := range u.Store().IterVariables() {
		if v.Shape().DType != dtypes.Float32 {
			t.Fatalf("variable %s is %s, want float32", v.Path(), v.Shape().DType)
		}
	}

	// Back to float32: the float32 parity holds again (the compiled bfloat16 graph was dropped).
	if err := u.SetComputeDType(dtypes.Float32); err != nil {
		t.Fatal(err)
	}
	got, err = u.Predict(context.Background(), f.sample, f.shape, f.timesteps, f.context, f.ctxShape)
	if err != nil {
		t.Fatal(err)
	}
	if e := fixtures.RelErr(got, f.want); e > 1e-4 {
		t.Fatalf("float32 again: relative error %.3g > 1e-4", e)
	}
}

// unetLossGrads builds the ε-MSE of the fixture U-Net in the given compute dtype and returns the
// loss and the gradients of every trainable variable (by path); it fails the test unless the
// output and every gradient are float32.
func unetLossGrads(t *testing.T, u *UNet, f unetFixture, dtype dtypes.DType) (float32, map[string][]float32) {
	t.Helper()
	if err := u.SetComputeDType(dtype); err != nil {
		t.Fatal(err)
	}
	var paths []string
	exec, err := model.NewExec(backend.MustDefault(), u.Store(), func(scope *model.Scope, x, ts, ctx, eps *Node) []*Node {
		pred := u.Forward(scope.In("unet"), TransposeAllAxes(x, 0, 2, 3, 1), ts, ctx)
		if pred.DType() != dtypes.Float32 {
			t.Errorf("%s: Forward returns %s, want float32", dtype, pred.DType())
		}
		loss := ReduceAllMean(Square(Sub(pred, eps)))
		grads := scope.BuildTrainableVariablesGradientsGraph(loss)
		paths = paths[:0]
		for v := range scope.IterVariables() {
			if v.Trainable && v.InUseByGraph(loss.Graph()) {
				paths = append(paths, v.Path())
			}
		}
		if len(grads) != len(paths) {
			t.Fatalf("%d gradients for %d trainable variables", len(grads), len(paths))
		}
		for i, g := range grads {
			if g.DType() != dtypes.Float32 {
				t.Errorf("%s: gradient of %s is %s, want float32", dtype, paths[i], g.DType())
			}
		}
		return append([]*Node{loss}, grads...)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	outs, err := exec.Exec(f.trainInputs(3)...)
	if err != nil {
		t.Fatal(err)
	}
	grads := map[string][]float32{}
	for i, p := range paths {
		grads[p] = tensors.MustCopyFlatData[float32](outs[1+i])
	}
	return tensors.MustCopyFlatData[float32](outs[0])[0], grads
}

// One training step under bfloat16: the loss and the gradients of the float32 weights are
// float32 and close to those of the float32 graph.
func TestUNetPrecisionBF16Gradients(t *testing.T) {
	f := loadUNetFixture(t, "unet_sd1")
	u, err := LoadUNet(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	loss32, grads32 := unetLossGrads(t, u, f, dtypes.Float32)
	loss16, grads16 := unetLossGrads(t, u, f, dtypes.BFloat16)
	t.Logf("ε-MSE: float32 %.6f, bfloat16 %.6f", loss32, loss16)
	if e := math.Abs(float64(loss16-loss32)) / float64(loss32); e > 1e-2 {
		t.Errorf("bfloat16 loss %.6f, float32 %.6f: relative error %.3g", loss16, loss32, e)
	}
	// All gradients as one vector: its relative error, and the worst single tensor's.
	var all32, all16 []float32
	worst, worstName := 0.0, ""
	for p, g32 := range grads32 {
		g16, ok := grads16[p]
		if !ok {
			t.Fatalf("no bfloat16 gradient for %s", p)
		}
		all32, all16 = append(all32, g32...), append(all16, g16...)
		if e := fixtures.RelErr(g16, g32); e > worst || math.IsNaN(e) {
			worst, worstName = e, p
		}
	}
	e := fixtures.RelErr(all16, all32)
	t.Logf("gradients of %d variables in bfloat16: max|a-b|/max|b| = %.3g overall, worst tensor %s %.3g",
		len(grads32), e, worstName, worst)
	if e > bf16ParityTol || math.IsNaN(e) {
		t.Errorf("gradients: relative error %.3g > %g", e, bf16ParityTol)
	}
	// Single small tensors (a norm's bias: a sum of many terms that nearly cancel) fare worse.
	if worst > 0.25 || math.IsNaN(worst) {
		t.Errorf("gradient of %s: relative error %.3g > 0.25", worstName, worst)
	}
}

func TestVAEPrecisionBF16Parity(t *testing.T) {
	io := fixtures.IO(t, "vae")
	v, err := LoadVAE(fixtures.Path(t, "parity", "vae"))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.SetComputeDType(dtypes.BFloat16); err != nil {
		t.Fatal(err)
	}
	image, imageShape := fixtures.Float32(t, io, "image")
	latent, latentShape := fixtures.Float32(t, io, "latent")
	wantMean, _ := fixtures.Float32(t, io, "latent_mean")
	wantDecoded, _ := fixtures.Float32(t, io, "decoded")
	mean, _, _, err := v.Encode(context.Background(), image, vaeShape4(t, "image", imageShape))
	if err != nil {
		t.Fatal(err)
	}
	decoded, _, err := v.Decode(context.Background(), latent, vaeShape4(t, "latent", latentShape))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want []float32
	}{{"latent_mean", mean, wantMean}, {"decoded", decoded, wantDecoded}} {
		e := fixtures.RelErr(c.got, c.want)
		t.Logf("vae %s in bfloat16: max|a-b|/max|b| = %.3g", c.name, e)
		if e > bf16ParityTol || math.IsNaN(e) {
			t.Errorf("vae %s: relative error %.3g > %g", c.name, e, bf16ParityTol)
		}
	}
}

func TestTextEncoderPrecisionBF16Parity(t *testing.T) {
	te, io, ids := teFixture(t, "clip_text_quickgelu")
	if err := te.SetComputeDType(dtypes.BFloat16); err != nil {
		t.Fatal(err)
	}
	got, _, err := te.Encode(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := fixtures.Float32(t, io, "last_hidden_state")
	e := fixtures.RelErr(got, want)
	t.Logf("text encoder last_hidden_state in bfloat16: max|a-b|/max|b| = %.3g", e)
	if e > bf16ParityTol || math.IsNaN(e) {
		t.Errorf("relative error %.3g > %g", e, bf16ParityTol)
	}
}

// Adam steps through a bfloat16 graph train the float32 weights as the float32 graph does
// (TestUNetTrains): the loss falls, and the variables, Adam's moments included, stay float32.
func TestUNetPrecisionBF16Trains(t *testing.T) {
	f := loadUNetFixture(t, "unet_sd1")
	u, err := LoadUNet(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.SetComputeDType(dtypes.BFloat16); err != nil {
		t.Fatal(err)
	}
	opt := optimizer.Adam().LearningRate(1e-3).Done()
	exec, err := model.NewExec(backend.MustDefault(), u.Store(), func(scope *model.Scope, x, ts, ctx, eps *Node) *Node {
		pred := u.Forward(scope.In("unet"), TransposeAllAxes(x, 0, 2, 3, 1), ts, ctx)
		loss := ReduceAllMean(Square(Sub(pred, eps)))
		opt.UpdateGraph(scope, x.Graph(), loss)
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	args := f.trainInputs(3)
	var losses []float32
	for range 6 {
		outs, err := exec.Exec(args...)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, tensors.MustCopyFlatData[float32](outs[0])[0])
	}
	t.Logf("ε-MSE over 6 Adam steps in bfloat16: %.4f", losses)
	if last := losses[len(losses)-1]; !(last < 0.9*losses[0]) {
		t.Fatalf("the loss did not fall by 10%%: %v", losses)
	}
	for v := range u.Store().IterVariables() {
		if v.Shape().DType.IsFloat() && v.Shape().DType != dtypes.Float32 {
			t.Fatalf("variable %s is %s, want float32", v.Path(), v.Shape().DType)
		}
	}
}
