package diffusion

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/backend"
)

// benchUNet runs the fixture U-Net (parity/unet_sd1: its config, and its sample's image size and
// context length) at the fixture's batch size and at batch 8, channels last, on the default
// backend: the forward pass alone, or with the gradients of an ε-MSE loss with respect to every
// weight (what one training step costs before the optimiser's update).
//
//	GOEXPERIMENT=simd go test ./diffusion/ -run '^$' -bench UNet -benchtime 10x
func benchUNet(b *testing.B, backward bool) {
	f := loadUNetFixture(b, "unet_sd1")
	u, err := LoadUNet(f.dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{f.shape[0], 8} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			exec, err := model.NewExec(backend.MustDefault(), u.Store(), func(scope *model.Scope, x, t, c, eps *Node) []*Node {
				pred := u.Forward(scope.In("unet"), x, t, c)
				if !backward {
					return []*Node{pred}
				}
				loss := ReduceAllMean(Square(Sub(pred, eps)))
				return append([]*Node{loss}, scope.BuildTrainableVariablesGradientsGraph(loss)...)
			})
			if err != nil {
				b.Fatal(err)
			}
			defer exec.Finalize()
			h, w, c := f.shape[2], f.shape[3], f.shape[1]
			ts := make([]float32, batch)
			for i := range ts {
				ts[i] = float32(100 * (i + 1))
			}
			args := []any{
				tensors.FromFlatDataAndDimensions(normalNoise(batch*h*w*c, 1), batch, h, w, c),
				tensors.FromFlatDataAndDimensions(ts, batch),
				tensors.FromFlatDataAndDimensions(normalNoise(batch*f.ctxShape[1]*f.ctxShape[2], 2), batch, f.ctxShape[1], f.ctxShape[2]),
				tensors.FromFlatDataAndDimensions(normalNoise(batch*h*w*c, 3), batch, h, w, c),
			}
			run := func() {
				outs, err := exec.Exec(args...)
				if err != nil {
					b.Fatal(err)
				}
				for _, o := range outs {
					o.MustFinalizeAll()
				}
			}
			run() // compile
			b.ResetTimer()
			for b.Loop() {
				run()
			}
		})
	}
}

func BenchmarkUNetForward(b *testing.B)         { benchUNet(b, false) }
func BenchmarkUNetForwardBackward(b *testing.B) { benchUNet(b, true) }
