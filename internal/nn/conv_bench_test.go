package nn

import (
	"testing"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// Forward+backward (gradients w.r.t. the input and the weights) of convolutions on the default
// backend. Run with and without the SIMD matmul:
//
//	GOEXPERIMENT=simd go test ./internal/nn/ -run XXX -bench Conv -benchtime 10x -count 3
//	go test ./internal/nn/ -run XXX -bench Conv -benchtime 10x -count 3
//
// GFLOP/s counts 2·MACs of the forward convolution and twice that for the backward (input and
// weight gradients), whatever the formulation does. On the 2-core AMD EPYC this project is
// developed on (shared, so ±15%):
//
//	                     simd                  no simd
//	Conv3x3/im2col       46–51 ms  35–40 GF/s  284–344 ms  5.3–6.4 GF/s
//	Conv3x3/native       3.9–4.2 s 0.45 GF/s   3.9–4.2 s   0.45 GF/s
//	ConvResBlock         171–183 ms  ~20 GF/s  640–684 ms  ~5.5 GF/s

// BenchmarkConv3x3: 8×32×32×64 → 64 channels, 3×3, padding 1.
func BenchmarkConv3x3(b *testing.B) {
	for _, v := range convImpls {
		b.Run(v.name, func(b *testing.B) {
			cfg := ConvConfig{Padding: convPad(1), impl: v.impl}
			x := graphtest.Random(1, 8, 32, 32, 64)
			w := graphtest.Random(2, 64, 64, 3, 3)
			flops := 3 * 2 * float64(8*32*32) * float64(64*9) * 64
			convBench(b, flops, func(in []*Node) []*Node {
				loss := ReduceAllSum(Conv2DWeights(in[0], in[1], nil, cfg))
				return append([]*Node{loss}, Gradient(loss, in[0], in[1])...)
			}, x, w)
		})
	}
}

// BenchmarkConvResBlock is a ResNet block without norms or activations, to show the cost at
// block level: out = x + conv3×3(conv3×3(x)), 32×32×32×32, with biases, gradients w.r.t. x and
// all weights. Only the Go backend's choice (im2col) is run: the native one takes seconds.
func BenchmarkConvResBlock(b *testing.B) {
	x := graphtest.Random(1, 32, 32, 32, 32)
	w1, w2 := graphtest.Random(2, 32, 32, 3, 3), graphtest.Random(3, 32, 32, 3, 3)
	b1, b2 := graphtest.Random(4, 32), graphtest.Random(5, 32)
	cfg := ConvConfig{Padding: convPad(1)}
	flops := 2 * 3 * 2 * float64(32*32*32) * float64(32*9) * 32
	convBench(b, flops, func(in []*Node) []*Node {
		h := Conv2DWeights(in[0], in[1], in[2], cfg)
		h = Conv2DWeights(h, in[3], in[4], cfg)
		loss := ReduceAllSum(Add(in[0], h))
		return append([]*Node{loss}, Gradient(loss, in...)...)
	}, x, w1, b1, w2, b2)
}

// convBench compiles fn once, then times b.N executions and reports GFLOP/s.
func convBench(b *testing.B, flops float64, fn func([]*Node) []*Node, inputs ...graphtest.Array) {
	exec, err := NewExec(backend.MustDefault(), fn)
	if err != nil {
		b.Fatal(err)
	}
	defer exec.Finalize()
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in.Tensor()
	}
	run := func() {
		outs, err := exec.Call(args...)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			_ = o.FinalizeAll()
		}
	}
	run() // Compile.
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		run()
	}
	b.ReportMetric(flops*float64(b.N)/time.Since(start).Seconds()/1e9, "GFLOP/s")
}
