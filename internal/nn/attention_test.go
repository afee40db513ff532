package nn

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// blkSDPARef is softmax(scale·q·kᵀ + mask)·v for q [B, Lq, H, dk], k [B, Lk, H, dk],
// v [B, Lk, H, dv] and a mask (nil for none) of dims maskDims (rank 4, broadcastable to
// [B, H, Lq, Lk]).
func blkSDPARef(q, k, v, mask []float64, maskDims []int, b, lq, lk, h, dk, dv int, scale float64) []float64 {
	if scale <= 0 {
		scale = 1 / math.Sqrt(float64(dk))
	}
	maskAt := func(n, hh, i, j int) float64 {
		if mask == nil {
			return 0
		}
		idx := 0
		for a, pos := range []int{n, hh, i, j} {
			if maskDims[a] == 1 {
				pos = 0
			}
			idx = idx*maskDims[a] + pos
		}
		return mask[idx]
	}
	out := make([]float64, b*lq*h*dv)
	scores := make([]float64, lk)
	for n := range b {
		for hh := range h {
			for i := range lq {
				maxS := math.Inf(-1)
				for j := range lk {
					s := 0.0
					for d := range dk {
						s += q[((n*lq+i)*h+hh)*dk+d] * k[((n*lk+j)*h+hh)*dk+d]
					}
					scores[j] = s*scale + maskAt(n, hh, i, j)
					maxS = math.Max(maxS, scores[j])
				}
				sum := 0.0
				for j := range lk {
					scores[j] = math.Exp(scores[j] - maxS)
					sum += scores[j]
				}
				for d := range dv {
					o := 0.0
					for j := range lk {
						o += scores[j] / sum * v[((n*lk+j)*h+hh)*dv+d]
					}
					out[((n*lq+i)*h+hh)*dv+d] = o
				}
			}
		}
	}
	return out
}

// blkCausal is the additive causal mask [1, 1, l, l] as float64.
func blkCausal(l int) []float64 {
	m := make([]float64, l*l)
	for i := range l {
		for j := i + 1; j < l; j++ {
			m[i*l+j] = MaskMin
		}
	}
	return m
}

// blkPadding is the additive mask [b, 1, 1, lk] for keep (1 keep, 0 pad).
func blkPadding(keep []float32) []float64 {
	m := make([]float64, len(keep))
	for i, k := range keep {
		if k == 0 {
			m[i] = MaskMin
		}
	}
	return m
}

type blkSDPACase struct {
	name                 string
	b, lq, lk, h, dk, dv int
	scale                float64
	mask                 string // "", "causal", "padding", "bool", "input" or "input2d" (random additive, differentiated)
}

// blkSDPARun checks one case for one layout and softmax implementation.
func blkSDPARun(t *testing.T, tc blkSDPACase, impl attnImpl) {
	q := graphtest.Random(1, tc.b, tc.lq, tc.h, tc.dk)
	k := graphtest.Random(2, tc.b, tc.lk, tc.h, tc.dk)
	v := graphtest.Random(3, tc.b, tc.lk, tc.h, tc.dv)
	for i := range q.Data {
		q.Data[i] *= 2 // peakier softmax
	}
	inputs := []graphtest.Array{q, k, v}
	// keep: batch 0 attends to everything, the others lose their last two keys.
	keep := make([]float32, tc.b*tc.lk)
	for i := range keep {
		if i < tc.lk || i%tc.lk < tc.lk-2 {
			keep[i] = 1
		}
	}
	var refMask []float64
	var refMaskDims []int
	var mask func(in []*Node) *Node
	switch tc.mask {
	case "causal":
		refMask, refMaskDims = blkCausal(tc.lq), []int{1, 1, tc.lq, tc.lk}
		mask = func(in []*Node) *Node { return CausalMask(in[0].Graph(), tc.lq) }
	case "padding":
		refMask, refMaskDims = blkPadding(keep), []int{tc.b, 1, 1, tc.lk}
		mask = func(in []*Node) *Node { return PaddingMask(Reshape(Const(in[0].Graph(), keep), tc.b, tc.lk)) }
	case "bool":
		refMask, refMaskDims = blkPadding(keep), []int{tc.b, 1, 1, tc.lk}
		mask = func(in []*Node) *Node {
			am := Reshape(Const(in[0].Graph(), keep), tc.b, 1, 1, tc.lk)
			return GreaterThan(am, ZerosLike(am))
		}
	case "input":
		m := graphtest.Random(4, tc.b, tc.h, tc.lq, tc.lk)
		inputs = append(inputs, m)
		refMaskDims = m.Shape
		mask = func(in []*Node) *Node { return in[3] }
	case "input2d": // [Lq, Lk], broadcast over batch and heads
		inputs = append(inputs, graphtest.Random(4, tc.lq, tc.lk))
		refMaskDims = []int{1, 1, tc.lq, tc.lk}
		mask = func(in []*Node) *Node { return in[3] }
	}
	blkCheck(t, tc.name, func(in []*Node) *Node {
		var m *Node
		if mask != nil {
			m = mask(in)
		}
		return attnSDPA(in[0], in[1], in[2], m, tc.scale, impl)
	}, func(in [][]float64) []float64 {
		m := refMask
		if strings.HasPrefix(tc.mask, "input") {
			m = in[3]
		}
		return blkSDPARef(in[0], in[1], in[2], m, refMaskDims, tc.b, tc.lq, tc.lk, tc.h, tc.dk, tc.dv, tc.scale)
	}, 1e-5, 1e-4, inputs...)
}

func TestAttentionSDPA(t *testing.T) {
	impls := map[string]attnImpl{"customvjp": attnCustomVJP, "autodiff-bhsd": attnAutodiffBHSD,
		"autodiff-bshd": attnAutodiffBSHD, "autodiff-graphsoftmax": attnAutodiffGraphSoftmax}
	for implName, impl := range impls {
		for _, tc := range blkSDPACases {
			t.Run(tc.name+"/"+implName, func(t *testing.T) { blkSDPARun(t, tc, impl) })
		}
	}
}

// Large attention runs in chunks of queries (attnQueryChunks): with one query a chunk, every
// case (masks of each kind, broadcast or per query, differentiated or not) still matches the
// reference, forward and gradients.
func TestAttentionChunkedQueries(t *testing.T) {
	saved := attnChunkElements
	defer func() { attnChunkElements = saved }()
	attnChunkElements = 1
	for _, tc := range blkSDPACases {
		if len(attnQueryChunks(tc.b, tc.h, tc.lq, tc.lk)) != tc.lq {
			t.Fatalf("%s: not one query a chunk", tc.name)
		}
		t.Run(tc.name, func(t *testing.T) { blkSDPARun(t, tc, attnCustomVJP) })
	}
	attnChunkElements = 2 * 8 * 4096 * 512 // SD's self-attention at 512 px: 8 chunks of 512
	if c := attnQueryChunks(2, 8, 4096, 4096); len(c) != 8 || c[7] != [2]int{3584, 4096} {
		t.Fatalf("attnQueryChunks(2, 8, 4096, 4096) = %v, want 8 chunks of 512", c)
	}
}

// Large attention's backward recomputes the probabilities instead of keeping them: with every
// case recomputing, forward and gradients still match the reference.
func TestAttentionRecomputedBackward(t *testing.T) {
	saved := attnRecomputeElements
	defer func() { attnRecomputeElements = saved }()
	attnRecomputeElements = 1
	for _, tc := range blkSDPACases {
		t.Run(tc.name, func(t *testing.T) { blkSDPARun(t, tc, attnCustomVJP) })
	}
}

// blkSDPACases are the attention cases the tests above run.
var blkSDPACases = []blkSDPACase{
	{name: "self 1 head", b: 2, lq: 5, lk: 5, h: 1, dk: 4, dv: 4},
	{name: "self 2 heads", b: 2, lq: 5, lk: 5, h: 2, dk: 3, dv: 3},
	{name: "cross Lk≠Lq dv≠dk", b: 2, lq: 4, lk: 6, h: 2, dk: 3, dv: 5},
	{name: "cross 1 head", b: 2, lq: 4, lk: 6, h: 1, dk: 3, dv: 2},
	{name: "custom scale", b: 1, lq: 3, lk: 4, h: 3, dk: 2, dv: 2, scale: 0.9},
	{name: "causal", b: 2, lq: 5, lk: 5, h: 2, dk: 3, dv: 3, mask: "causal"},
	{name: "causal 1 head", b: 2, lq: 5, lk: 5, h: 1, dk: 3, dv: 3, mask: "causal"},
	{name: "padding cross", b: 3, lq: 4, lk: 6, h: 2, dk: 3, dv: 3, mask: "padding"},
	{name: "padding 1 head", b: 3, lq: 4, lk: 6, h: 1, dk: 3, dv: 3, mask: "padding"},
	{name: "boolean mask", b: 2, lq: 3, lk: 5, h: 2, dk: 2, dv: 2, mask: "bool"},
	{name: "additive mask input", b: 2, lq: 3, lk: 4, h: 2, dk: 3, dv: 3, mask: "input"},
	{name: "additive mask input 1 head", b: 2, lq: 3, lk: 4, h: 1, dk: 3, dv: 3, mask: "input"},
	{name: "additive mask input broadcast", b: 2, lq: 3, lk: 4, h: 2, dk: 3, dv: 3, mask: "input2d"},
}

// The public function uses the defaults; a fully masked row stays finite (uniform weights).
func TestAttentionFullyMaskedRow(t *testing.T) {
	q, k, v := graphtest.Random(1, 1, 2, 1, 2), graphtest.Random(2, 1, 3, 1, 2), graphtest.Random(3, 1, 3, 1, 2)
	out := graphtest.Run(t, func(in []*Node) []*Node {
		keep := Const(in[0].Graph(), [][]float32{{0, 0, 0}})
		return []*Node{ScaledDotProductAttention(in[0], in[1], in[2], PaddingMask(keep), 0)}
	}, q, k, v)[0]
	for d := range 2 {
		mean := (v.Data[d] + v.Data[2+d] + v.Data[4+d]) / 3
		for i := range 2 {
			if got := out.Data[i*2+d]; math.Abs(float64(got-mean)) > 1e-6 {
				t.Fatalf("fully masked row: out[%d,%d] = %g, want the mean of v %g", i, d, got, mean)
			}
		}
	}
}

func TestAttentionMasks(t *testing.T) {
	x := graphtest.Random(1, 1)
	outs := graphtest.Run(t, func(in []*Node) []*Node {
		g := in[0].Graph()
		return []*Node{CausalMask(g, 3), PaddingMask(Const(g, [][]int32{{1, 1, 0}, {1, 0, 0}}))}
	}, x)
	m := float32(MaskMin)
	graphtest.AssertClose(t, "causal", outs[0].Data, []float32{0, m, m, 0, 0, m, 0, 0, 0}, 0)
	if fmt.Sprint(outs[1].Shape) != "[2 1 1 3]" {
		t.Fatalf("padding mask shape %v, want [2 1 1 3]", outs[1].Shape)
	}
	graphtest.AssertClose(t, "padding", outs[1].Data, []float32{0, 0, m, 0, m, m}, 0)
}

// blkMHARef is diffusers' Attention forward with the given projection weights (biases may be nil).
func blkMHARef(x, ctx []float64, w map[string][]float64, b, lq, lk, qDim, cDim, heads, headDim, outDim int) []float64 {
	inner := heads * headDim
	if ctx == nil {
		ctx, cDim = x, qDim
	}
	q := blkLinearRef(x, w["to_q.weight"], w["to_q.bias"], qDim, inner)
	k := blkLinearRef(ctx, w["to_k.weight"], w["to_k.bias"], cDim, inner)
	v := blkLinearRef(ctx, w["to_v.weight"], w["to_v.bias"], cDim, inner)
	o := blkSDPARef(q, k, v, nil, nil, b, lq, lk, heads, headDim, headDim, 0)
	return blkLinearRef(o, w["to_out.0.weight"], w["to_out.0.bias"], inner, outDim)
}

// Scoped self-attention over a channels-last image: diffusers' names and shapes, torch's
// initial ranges, the reference's output.
func TestMultiHeadAttentionScoped(t *testing.T) {
	const b, hgt, wid, c, heads = 2, 2, 3, 8, 2
	x := graphtest.Random(1, b, hgt, wid, c)
	out, store := blkRunScoped(t, 0, func(scope *model.Scope, in []*Node) *Node {
		return MultiHeadAttention(scope.In("attn1"), in[0], nil, heads).Done()
	}, x)
	if fmt.Sprint(out.Shape) != fmt.Sprint(x.Shape) {
		t.Fatalf("output shape %v, want %v", out.Shape, x.Shape)
	}
	w := map[string][]float64{}
	for _, name := range []string{"to_q", "to_k", "to_v"} {
		w[name+".weight"] = graphtest.Float64s(blkVar(t, store, "/attn1/"+name+"/weight", c, c).Data)
		if store.GetVariable("/attn1/"+name+"/bias") != nil {
			t.Fatalf("%s has a bias; diffusers' default has none", name)
		}
	}
	w["to_out.0.weight"] = graphtest.Float64s(blkVar(t, store, "/attn1/to_out/0/weight", c, c).Data)
	w["to_out.0.bias"] = graphtest.Float64s(blkVar(t, store, "/attn1/to_out/0/bias", c).Data)
	for name, vals := range w {
		for _, v := range vals {
			if math.Abs(v) > 1/math.Sqrt(c) {
				t.Fatalf("%s: initial value %g outside ±1/√%d", name, v, c)
			}
		}
	}
	want := blkMHARef(graphtest.Float64s(x.Data), nil, w, b, hgt*wid, hgt*wid, c, c, heads, c/heads, c)
	graphtest.AssertClose(t, "self-attention", out.Data, blkFloat32s(want), 1e-5)
}

// Cross-attention with every option set, gradients w.r.t. x, context and all weights, with the
// weights fed through the Linear hook (as LoRA would).
func TestMultiHeadAttentionCross(t *testing.T) {
	const b, lq, lk, qDim, cDim, heads, headDim, outDim = 2, 3, 5, 4, 6, 2, 3, 5
	const inner = heads * headDim
	names := []string{"to_q.weight", "to_q.bias", "to_k.weight", "to_k.bias", "to_v.weight", "to_v.bias",
		"to_out.0.weight", "to_out.0.bias"}
	dims := map[string][]int{
		"to_q.weight": {inner, qDim}, "to_q.bias": {inner},
		"to_k.weight": {inner, cDim}, "to_k.bias": {inner},
		"to_v.weight": {inner, cDim}, "to_v.bias": {inner},
		"to_out.0.weight": {outDim, inner}, "to_out.0.bias": {outDim},
	}
	inputs := []graphtest.Array{graphtest.Random(1, b, lq, qDim), graphtest.Random(2, b, lk, cDim)}
	for i, n := range names {
		inputs = append(inputs, graphtest.Random(uint64(10+i), dims[n]...))
	}
	blkCheck(t, "cross-attention", func(in []*Node) *Node {
		hook := func(scope *model.Scope, x *Node, out int, bias bool) *Node {
			// scope "/attn2/to_out/0" → "to_out.0"
			name := strings.ReplaceAll(strings.TrimPrefix(scope.Scope(), "/attn2/"), "/", ".")
			i := 2 + slices.Index(names, name+".weight")
			if i < 2 || !bias {
				t.Fatalf("projection %q (bias %v) unexpected", name, bias)
			}
			return LinearWith(x, in[i], in[i+1])
		}
		scope := model.NewStore().RootScope().In("attn2")
		return MultiHeadAttention(scope, in[0], in[1], heads).HeadDim(headDim).OutDim(outDim).
			QKVBias(true).Linear(hook).Done()
	}, func(in [][]float64) []float64 {
		w := map[string][]float64{}
		for i, n := range names {
			w[n] = in[2+i]
		}
		return blkMHARef(in[0], in[1], w, b, lq, lk, qDim, cDim, heads, headDim, outDim)
	}, 1e-5, 1e-4, inputs...)
}

// Other float dtypes run: float64 matches the reference as float32 does, half precision stays
// close (scores and softmax in float32), and the output keeps the input dtype.
func TestAttentionDTypes(t *testing.T) {
	q, k, v := graphtest.Random(1, 2, 4, 2, 3), graphtest.Random(2, 2, 4, 2, 3), graphtest.Random(3, 2, 4, 2, 3)
	want := blkSDPARef(graphtest.Float64s(q.Data), graphtest.Float64s(k.Data), graphtest.Float64s(v.Data),
		blkCausal(4), []int{1, 1, 4, 4}, 2, 4, 4, 2, 3, 3, 0)
	for _, tc := range []struct {
		dtype dtypes.DType
		tol   float64
	}{{dtypes.Float64, 1e-6}, {dtypes.Float16, 5e-3}, {dtypes.BFloat16, 3e-2}} {
		t.Run(tc.dtype.String(), func(t *testing.T) {
			out := graphtest.Run(t, func(in []*Node) []*Node {
				c := func(n *Node) *Node { return ConvertDType(n, tc.dtype) }
				y := ScaledDotProductAttention(c(in[0]), c(in[1]), c(in[2]), CausalMask(in[0].Graph(), 4), 0)
				if y.DType() != tc.dtype {
					t.Errorf("output dtype %s, want %s", y.DType(), tc.dtype)
				}
				return []*Node{ConvertDType(y, dtypes.Float32)}
			}, q, k, v)[0]
			graphtest.AssertClose(t, "attention "+tc.dtype.String(), out.Data, blkFloat32s(want), tc.tol)
		})
	}
}

// Gradients w.r.t. the store's trainable variables, as a trainer asks for them, match finite
// differences of the reference.
func TestMultiHeadAttentionVariableGradients(t *testing.T) {
	const b, l, c, heads = 2, 3, 4, 2
	x := graphtest.Random(1, b, l, c)
	cot := graphtest.Random(2, b, l, c)
	var paths []string
	outs := func() []graphtest.Array {
		store := model.NewStore()
		exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, in []*Node) []*Node {
			y := MultiHeadAttention(scope.In("attn1"), in[0], nil, heads).Done()
			loss := ReduceAllSum(Mul(y, Const(y.Graph(), cot.Tensor())))
			var vars []*Node
			for v := range scope.IterVariables() {
				if v.Trainable && v.InUseByGraph(y.Graph()) {
					paths = append(paths, v.Path())
					vars = append(vars, v.NodeValue(y.Graph()))
				}
			}
			return append([]*Node{loss}, Gradient(loss, vars...)...)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer exec.Finalize()
		res, err := exec.Exec(x.Tensor())
		if err != nil {
			t.Fatal(err)
		}
		var arrays []graphtest.Array
		for _, p := range paths {
			arrays = append(arrays, graphtest.FromTensor(store.GetVariable(p).MustValue()))
		}
		for _, r := range res[1:] {
			arrays = append(arrays, graphtest.FromTensor(r))
		}
		return arrays
	}()
	n := len(paths)
	if n != 5 {
		t.Fatalf("trainable variables %v, want to_q, to_k, to_v weights and to_out.0 weight and bias", paths)
	}
	names := make([]string, n)
	for i, p := range paths {
		names[i] = strings.ReplaceAll(strings.TrimPrefix(p, "/attn1/"), "/", ".")
	}
	num := graphtest.NumericGrads(func(in [][]float64) float64 {
		w := map[string][]float64{}
		for i, name := range names {
			w[name] = in[i]
		}
		return graphtest.Dot64(blkMHARef(graphtest.Float64s(x.Data), nil, w, b, l, l, c, c, heads, c/heads, c), cot.Data)
	}, outs[:n], 1e-3)
	for i := range n {
		graphtest.AssertClose(t, "d/d "+names[i], outs[n+i].Data, num[i].Data, 1e-4)
	}
}
