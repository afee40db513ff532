package nn

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// BenchmarkAttention times forward + backward (gradients w.r.t. the input, the context and all
// projection weights) of a U-Net-sized attention block on the default backend: batch 32, a 16×16
// feature map (256 tokens) with 32 channels, self-attention and cross-attention to a 77×64 text
// context, 1 and 4 heads, for each implementation of attnSDPA (with Linear's hand-written
// gradient) and for plain GoMLX ("baseline": graph.Softmax and Dense, all through autodiff).
//
//	GOEXPERIMENT=simd go test ./internal/nn/ -run XXX -bench Attention -benchtime 10x
func BenchmarkAttention(b *testing.B) {
	const batch, tokens, channels, ctxLen, ctxDim = 32, 256, 32, 77, 64
	impls := []struct {
		name   string
		impl   attnImpl
		linear linearImplKind
	}{
		{"customvjp", attnCustomVJP, linearCustomVJP},
		{"autodiff-bhsd", attnAutodiffBHSD, linearCustomVJP},
		{"autodiff-bshd", attnAutodiffBSHD, linearCustomVJP},
		{"autodiff-graphsoftmax", attnAutodiffGraphSoftmax, linearCustomVJP},
		// Plain GoMLX: graph.Softmax and Dense, everything differentiated by autodiff.
		{"baseline", attnAutodiffGraphSoftmax, linearAutodiff},
	}
	for _, kind := range []string{"self", "cross"} {
		for _, heads := range []int{1, 4} {
			for _, im := range impls {
				if heads == 1 && im.impl == attnAutodiffBSHD {
					continue // one head takes the same path as autodiff-bhsd
				}
				b.Run(fmt.Sprintf("%s/heads=%d/%s", kind, heads, im.name), func(b *testing.B) {
					blkBenchAttention(b, kind == "cross", batch, tokens, channels, ctxLen, ctxDim, heads, im.impl, im.linear)
				})
			}
		}
	}
}

func blkBenchAttention(b *testing.B, cross bool, batch, tokens, channels, ctxLen, ctxDim, heads int, impl attnImpl, linear linearImplKind) {
	oldAttn, oldLinear := attnImplDefault, linearImplDefault
	attnImplDefault, linearImplDefault = impl, linear
	defer func() { attnImplDefault, linearImplDefault = oldAttn, oldLinear }()

	kvDim := channels
	if cross {
		kvDim = ctxDim
	}
	arrays := []graphtest.Array{
		graphtest.Random(1, batch, tokens, channels),
		graphtest.Random(2, batch, ctxLen, ctxDim),
		graphtest.Random(3, channels, channels), // to_q
		graphtest.Random(4, channels, kvDim),    // to_k
		graphtest.Random(5, channels, kvDim),    // to_v
		graphtest.Random(6, channels, channels), // to_out.0
		graphtest.Random(7, channels),
	}
	exec, err := NewExec(backend.MustDefault(), func(in []*Node) []*Node {
		weights := map[string]int{"/a/to_q": 2, "/a/to_k": 3, "/a/to_v": 4, "/a/to_out/0": 5}
		linear := func(scope *model.Scope, x *Node, _ int, bias bool) *Node {
			i := weights[scope.Scope()]
			var bNode *Node
			if bias {
				bNode = in[6]
			}
			return LinearWith(x, in[i], bNode)
		}
		var context *Node
		if cross {
			context = in[1]
		}
		y := MultiHeadAttention(model.NewStore().RootScope().In("a"), in[0], context, heads).Linear(linear).Done()
		loss := ReduceAllSum(Mul(y, in[0]))
		wrt := []*Node{in[0], in[2], in[3], in[4], in[5], in[6]}
		if cross {
			wrt = append(wrt, in[1])
		}
		return append([]*Node{loss}, Gradient(loss, wrt...)...)
	})
	if err != nil {
		b.Fatal(err)
	}
	defer exec.Finalize()
	args := make([]any, len(arrays))
	for i, a := range arrays {
		args[i] = a.Tensor()
	}
	run := func() {
		outs, err := exec.Call(args...)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			o.FinalizeAll()
		}
	}
	run() // compile
	b.ResetTimer()
	for range b.N {
		run()
	}
	b.StopTimer()
}
