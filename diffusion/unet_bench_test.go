package diffusion

import (
	"fmt"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/backend"
)

// benchUNet runs the fixture U-Net (parity/unet_sd1: its config, and its sample's image size and
// context length) at the fixture's batch size and at batch 8, channels last, on the default
// backend: the forward pass alone, or with the gradients of an ε-MSE loss with respect to every
// weight (what one training step costs before the optimiser's update), in the given compute
// dtype (the BF16 variants: float32 weights, bfloat16 activations).
//
//	GOEXPERIMENT=simd go test ./diffusion/ -run '^$' -bench UNet -benchtime 10x
//
// On the Go backend bfloat16 is slower than float32 (2 AMD EPYC cores, GOEXPERIMENT=simd,
// batch 2 / 8: forward 0.17 / 0.57 s in float32, 0.19 / 0.65 s in bfloat16; forward+backward
// 0.37 / 0.97 s against 0.49 / 1.46 s); it is meant for XLA GPU backends.
func benchUNet(b *testing.B, backward bool, dtype dtypes.DType) {
	f := loadUNetFixture(b, "unet_sd1")
	u, err := LoadUNet(f.dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := u.SetComputeDType(dtype); err != nil {
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

func BenchmarkUNetForward(b *testing.B)             { benchUNet(b, false, dtypes.Float32) }
func BenchmarkUNetForwardBackward(b *testing.B)     { benchUNet(b, true, dtypes.Float32) }
func BenchmarkUNetForwardBF16(b *testing.B)         { benchUNet(b, false, dtypes.BFloat16) }
func BenchmarkUNetForwardBackwardBF16(b *testing.B) { benchUNet(b, true, dtypes.BFloat16) }

// toyUNetConfig is the toy-world-sized pixel-space U-Net the foundation issue measured:
// channels 16/32/32 on 32×32 RGB, attention at 16×16 and 8×8, a 16-token 32-wide context.
func toyUNetConfig() UNetConfig {
	cfg := DefaultUNetConfig()
	size := Int(32)
	cfg.InChannels, cfg.OutChannels, cfg.SampleSize = 3, 3, &size
	cfg.BlockOutChannels = []int{16, 32, 32}
	cfg.DownBlockTypes = []string{"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}
	cfg.UpBlockTypes = []string{"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"}
	cfg.LayersPerBlock = Int(1)
	groups := 8
	cfg.NormNumGroups = &groups
	cfg.CrossAttentionDim = Int(32)
	cfg.AttentionHeadDim = Int(4)
	return cfg
}

// BenchmarkToyUNetTrainStep is one whole training step of the toy U-Net at batch 32: forward,
// ε-MSE loss, gradients of every weight, and an SGD update of the weights in place.
//
//	GOEXPERIMENT=simd go test ./diffusion/ -run '^$' -bench ToyUNetTrainStep -benchtime 5x
func BenchmarkToyUNetTrainStep(b *testing.B) {
	u, err := NewUNet(toyUNetConfig(), 1)
	if err != nil {
		b.Fatal(err)
	}
	const batch, hw, ch, ctxLen, ctxDim = 32, 32, 3, 16, 32
	exec, err := model.NewExec(backend.MustDefault(), u.Store(), func(scope *model.Scope, x, t, c, eps *Node) *Node {
		unet := scope.In("unet")
		loss := ReduceAllMean(Square(Sub(u.Forward(unet, x, t, c), eps)))
		var vars []*model.Variable
		for v := range unet.IterVariables() {
			if v.Trainable && v.InUseByGraph(x.Graph()) {
				vars = append(vars, v)
			}
		}
		nodes := make([]*Node, len(vars))
		for i, v := range vars {
			nodes[i] = v.NodeValue(x.Graph())
		}
		for i, g := range Gradient(loss, nodes...) {
			vars[i].SetNodeValue(Sub(nodes[i], MulScalar(g, 1e-3)))
		}
		return loss
	})
	if err != nil {
		b.Fatal(err)
	}
	defer exec.Finalize()
	ts := make([]float32, batch)
	for i := range ts {
		ts[i] = float32(31 * (i + 1))
	}
	args := []any{
		tensors.FromFlatDataAndDimensions(normalNoise(batch*hw*hw*ch, 1), batch, hw, hw, ch),
		tensors.FromFlatDataAndDimensions(ts, batch),
		tensors.FromFlatDataAndDimensions(normalNoise(batch*ctxLen*ctxDim, 2), batch, ctxLen, ctxDim),
		tensors.FromFlatDataAndDimensions(normalNoise(batch*hw*hw*ch, 3), batch, hw, hw, ch),
	}
	step := func() {
		outs, err := exec.Exec(args...)
		if err != nil {
			b.Fatal(err)
		}
		outs[0].MustFinalizeAll()
	}
	step() // compile
	b.ResetTimer()
	for b.Loop() {
		step()
	}
}
