package diffusion

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/fixtures"
)

// With gradient checkpointing the fixture U-Nets give the loss and the gradients of every
// trainable variable that they give without it: of all of them (a full fine-tune), and of the
// attention projections alone with the rest frozen (as under LoRA, where the frozen weights get
// no gradient and the blocks' inputs carry it through).
func TestUNetGradientCheckpointing(t *testing.T) {
	for _, name := range []string{"unet_sd1", "unet_sd2"} {
		t.Run(name, func(t *testing.T) {
			f := loadUNetFixture(t, name)
			u, err := LoadUNet(f.dir)
			if err != nil {
				t.Fatal(err)
			}
			compare := func(what string) {
				t.Helper()
				u.SetGradientCheckpointing(false)
				loss, grads := unetLossGrads(t, u, f, dtypes.Float32)
				u.SetGradientCheckpointing(true)
				if !u.GradientCheckpointing() {
					t.Fatal("GradientCheckpointing() false after SetGradientCheckpointing(true)")
				}
				lossC, gradsC := unetLossGrads(t, u, f, dtypes.Float32)
				u.SetGradientCheckpointing(false)
				if math.Abs(float64(lossC-loss)) > 1e-6*math.Abs(float64(loss)) {
					t.Fatalf("%s: loss %.7f with checkpointing, %.7f without", what, lossC, loss)
				}
				if len(gradsC) != len(grads) || len(grads) == 0 {
					t.Fatalf("%s: %d gradients with checkpointing, %d without", what, len(gradsC), len(grads))
				}
				worst, worstName := 0.0, ""
				for p, g := range grads {
					if e := fixtures.RelErr(gradsC[p], g); e > worst || math.IsNaN(e) {
						worst, worstName = e, p
					}
				}
				t.Logf("%s: %d gradients, worst %s %.3g", what, len(grads), worstName, worst)
				if worst > 1e-5 || math.IsNaN(worst) {
					t.Fatalf("%s: gradient of %s differs by %.3g with checkpointing", what, worstName, worst)
				}
			}
			compare("every variable")
			for v := range u.Store().IterVariables() {
				v.SetTrainable(strings.Contains(v.Path(), "/attn"))
			}
			compare("attention only")
		})
	}
}

// SetGradientCheckpointing(true) makes the training graph recompute the blocks: their inputs are
// held back for the backward pass (SchedulingBarrier), which never happens without it.
func TestUNetGradientCheckpointingBuildsRecomputation(t *testing.T) {
	f := loadUNetFixture(t, "unet_sd1")
	u, err := LoadUNet(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	barriers := func() int {
		n := 0
		exec, err := model.NewExec(backend.MustDefault(), u.Store(), func(scope *model.Scope, x, ts, ctx, eps *Node) *Node {
			pred := u.Forward(scope.In("unet"), TransposeAllAxes(x, 0, 2, 3, 1), ts, ctx)
			loss := ReduceAllMean(Square(Sub(pred, eps)))
			scope.BuildTrainableVariablesGradientsGraph(loss)
			for _, node := range loss.Graph().Nodes() {
				if node.Type() == NodeTypeSchedulingBarrier {
					n++
				}
			}
			return loss
		})
		if err != nil {
			t.Fatal(err)
		}
		defer exec.Finalize()
		if _, err := exec.Exec(f.trainInputs(3)...); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := barriers(); n != 0 {
		t.Fatalf("%d recomputed block inputs without checkpointing", n)
	}
	u.SetGradientCheckpointing(true)
	// unet_sd1: 2 down blocks, mid block, 2 up blocks; each ResNet holds back 2 inputs (3 in the
	// up blocks: h, skip, temb), each Transformer2D 2, each resampler and the output layers 1.
	want := 1 // the output layers
	count := func(b unetBlock, resnetInputs int) {
		want += resnetInputs * b.layers
		if b.crossAttention {
			want += 2 * b.layers
		}
		if b.resample {
			want++
		}
	}
	for _, b := range u.plan.down {
		count(b, 2)
	}
	if m := u.plan.mid; m != nil {
		want += 2*(1+m.layers) + 2*m.layers
	}
	for _, b := range u.plan.up {
		count(b, 3)
	}
	if n := barriers(); n != want {
		t.Fatalf("%d recomputed block inputs with checkpointing, want %d", n, want)
	}
}
