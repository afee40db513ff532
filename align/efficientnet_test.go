package align

import (
	"fmt"
	"math"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/graphtest"
	"github.com/gorpo/gorpo/internal/nn"
)

// TestEfficientNetScaling checks round_filters and round_repeats on transformers' defaults, the
// EfficientNet-B7 scaling of kakaobrain/align-base (width 2.0, depth 3.1): its published stage
// widths 64 (stem), 32, 48, 80, 160, 224, 384, 640 and 55 blocks.
func TestEfficientNetScaling(t *testing.T) {
	c := NewAlignVisionConfig()
	var widths []int
	for _, ch := range append([]int{32}, c.OutChannels...) {
		widths = append(widths, c.RoundFilters(ch))
	}
	if got := fmt.Sprint(widths); got != "[64 32 48 80 160 224 384 640]" {
		t.Fatalf("B7 widths %s", got)
	}
	if got := len(c.blocks()); got != 55 {
		t.Fatalf("B7 has %d blocks, want 55", got)
	}
	if c.HiddenSize() != NewAlignConfig().ProjectionDim {
		t.Fatalf("default image features %d, projection_dim %d", c.HiddenSize(), NewAlignConfig().ProjectionDim)
	}
	// Rounding: 0.1·24 = 2.4 → at least the divisor, 8; 0.3·100 = 30 → int(30+4)/8·8 = 32;
	// the 10% rule: 20 with divisor 16 → int(28)/16·16 = 16 < 0.9·20, so 32.
	for _, tc := range []struct {
		width   float64
		divisor int
		in, out int
	}{{0.1, 8, 24, 8}, {0.5, 4, 14, 8}, {0.5, 4, 12, 8}, {0.3, 8, 100, 32}, {1.0, 8, 36, 40}, {1.0, 16, 20, 32}} {
		c := &AlignVisionConfig{WidthCoefficient: tc.width, DepthDivisor: tc.divisor}
		if got := c.RoundFilters(tc.in); got != tc.out {
			t.Errorf("RoundFilters(%d) with width %v divisor %d = %d, want %d", tc.in, tc.width, tc.divisor, got, tc.out)
		}
	}

	// Block layout: residual on all but a stage's first block, stride only on the first,
	// depthwise_padding by global index.
	c = &AlignVisionConfig{WidthCoefficient: 1, DepthCoefficient: 1, DepthDivisor: 8,
		InChannels: []int{16, 24}, OutChannels: []int{24, 40}, KernelSizes: []int{3, 5}, Strides: []int{2, 2},
		NumBlockRepeats: []int{2, 1}, ExpandRatios: []int{1, 6}, DepthwisePadding: []int{2}}
	got := fmt.Sprintf("%+v", c.blocks())
	want := "[{inDim:16 outDim:24 expandRatio:1 kernel:3 stride:2 residual:false adjustPadding:true} " +
		"{inDim:24 outDim:24 expandRatio:1 kernel:3 stride:1 residual:true adjustPadding:true} " +
		"{inDim:24 outDim:40 expandRatio:6 kernel:5 stride:2 residual:false adjustPadding:false}]"
	if got != want {
		t.Fatalf("blocks\n got %s\nwant %s", got, want)
	}
}

// TestEfficientNetPadding checks the depthwise paddings against transformers' correct_pad and
// PyTorch's padding="same".
func TestEfficientNetPadding(t *testing.T) {
	for _, tc := range []struct {
		got  nn.Padding2D
		want string
	}{
		{correctPad(3, true), "{Top:0 Bottom:1 Left:0 Right:1}"},
		{correctPad(5, true), "{Top:1 Bottom:2 Left:1 Right:2}"},
		{correctPad(5, false), "{Top:2 Bottom:2 Left:2 Right:2}"},
		{torchSamePadding(3), "{Top:1 Bottom:1 Left:1 Right:1}"},
		{torchSamePadding(5), "{Top:2 Bottom:2 Left:2 Right:2}"},
		{torchSamePadding(4), "{Top:1 Bottom:2 Left:1 Right:2}"},
	} {
		if got := fmt.Sprintf("%+v", tc.got); got != tc.want {
			t.Errorf("%s, want %s", got, tc.want)
		}
	}
}

// TestEfficientNetPooling checks both pooling types on a feature map larger than 1×1 (the
// fixture's 32×32 input pools a 1×1 map), and the refusal of a map larger than hidden_dim.
func TestEfficientNetPooling(t *testing.T) {
	m := loadFixtureALIGN(t)
	size := 2 * m.Config.VisionConfig.ImageSize
	pixels := graphtest.Random(7, 2, size, size, m.Config.VisionConfig.NumChannels)
	for _, pooling := range []string{"mean", "max"} {
		cfg := *m.Config.VisionConfig
		cfg.PoolingType = pooling
		exec, err := model.NewExec(m.Backend(), m.Store(), func(scope *model.Scope, x *Node) (*Node, *Node) {
			return AlignVisionModel(scope.In("vision_model"), &cfg, x)
		})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := exec.Exec(pixels.Tensor())
		exec.Finalize()
		if err != nil {
			t.Fatal(err)
		}
		last, pooled := graphtest.FromTensor(outs[0]), graphtest.FromTensor(outs[1])
		b, h, w, c := last.Shape[0], last.Shape[1], last.Shape[2], last.Shape[3]
		if h*w < 2 {
			t.Fatalf("last feature map %v, want more than one position", last.Shape)
		}
		want := make([]float32, b*c)
		for i := range b {
			for k := range c {
				acc := math.Inf(-1)
				if pooling == "mean" {
					acc = 0
				}
				for p := range h * w {
					v := float64(last.Data[(i*h*w+p)*c+k])
					if pooling == "mean" {
						acc += v / float64(h*w)
					} else {
						acc = math.Max(acc, v)
					}
				}
				want[i*c+k] = float32(acc)
			}
		}
		graphtest.AssertClose(t, pooling, pooled.Data, want, 1e-6)
	}

	cfg := *m.Config.VisionConfig
	cfg.HiddenDim = 1
	exec, err := model.NewExec(m.Backend(), m.Store(), func(scope *model.Scope, x *Node) *Node {
		_, pooled := AlignVisionModel(scope.In("vision_model"), &cfg, x)
		return pooled
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	if _, err := exec.Exec(pixels.Tensor()); err == nil || !strings.Contains(err.Error(), "hidden_dim") {
		t.Fatalf("error %v, want one about hidden_dim", err)
	}
}

// TestBatchNorm checks the inference-mode BatchNorm2d, and its folding into a convolution, against
// the textbook formula.
func TestBatchNorm(t *testing.T) {
	const c, eps = 5, 1e-3
	x := graphtest.Random(1, 2, 6, 7, 3)
	convW := graphtest.Random(6, c, 3, 3, 3)
	w, b, mean := graphtest.Random(2, c), graphtest.Random(3, c), graphtest.Random(4, c)
	variance := graphtest.Random(5, c)
	for i := range variance.Data {
		variance.Data[i] = 0.5 + variance.Data[i]*variance.Data[i]
	}
	store := model.NewStore()
	for path, a := range map[string]graphtest.Array{"/conv/weight": convW, "/bn/weight": w, "/bn/bias": b,
		"/bn/running_mean": mean, "/bn/running_var": variance} {
		scope, name := model.SplitPath(path)
		if _, err := store.Scope(scope).CreateVariable(name, a.Tensor()); err != nil {
			t.Fatal(err)
		}
	}
	cfg := nn.ConvConfig{StrideH: 2, StrideW: 2, Padding: nn.Padding2D{Top: 0, Bottom: 1, Left: 1, Right: 1}}
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, x *Node) (*Node, *Node) {
		conv := nn.Conv2DWeights(x, scope.In("conv").GetVariable("weight").NodeValue(x.Graph()), nil, cfg)
		folded := convBatchNorm(scope.At("conv"), scope.In("bn"), x, c, 3, cfg, eps)
		return batchNorm2D(scope.At("bn"), conv, eps), folded
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	outs, err := exec.Exec(x.Tensor())
	if err != nil {
		t.Fatal(err)
	}
	// The reference normalises the plain convolution's output.
	convOut, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, x *Node) *Node {
		return nn.Conv2DWeights(x, scope.In("conv").GetVariable("weight").NodeValue(x.Graph()), nil, cfg)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer convOut.Finalize()
	plain, err := convOut.Exec(x.Tensor())
	if err != nil {
		t.Fatal(err)
	}
	y := graphtest.FromTensor(plain[0])
	want := make([]float32, len(y.Data))
	for i, v := range y.Data {
		k := i % c
		want[i] = float32((float64(v)-float64(mean.Data[k]))/math.Sqrt(float64(variance.Data[k])+eps)*float64(w.Data[k]) +
			float64(b.Data[k]))
	}
	graphtest.AssertClose(t, "batchnorm", graphtest.FromTensor(outs[0]).Data, want, 1e-6)
	graphtest.AssertClose(t, "conv+batchnorm folded", graphtest.FromTensor(outs[1]).Data, want, 1e-5)
}
