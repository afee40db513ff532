package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// convCase is one convolution configuration tested against the host reference.
type convCase struct {
	name               string
	n, cin, h, w, cout int
	kh, kw             int
	cfg                ConvConfig
	bias               bool
}

var convCases = []convCase{
	{name: "3x3 pad1", n: 2, cin: 3, h: 6, w: 5, cout: 4, kh: 3, kw: 3, cfg: ConvConfig{Padding: convPad(1)}, bias: true},
	{name: "3x3 stride2 pad1", n: 2, cin: 3, h: 7, w: 6, cout: 4, kh: 3, kw: 3,
		cfg: ConvConfig{StrideH: 2, StrideW: 2, Padding: convPad(1)}, bias: true},
	{name: "3x3 stride2 asymmetric pad", n: 1, cin: 3, h: 6, w: 5, cout: 2, kh: 3, kw: 3,
		cfg: ConvConfig{StrideH: 2, StrideW: 2, Padding: Padding2D{Top: 0, Bottom: 1, Left: 0, Right: 1}}},
	{name: "5x5 stride2 same", n: 1, cin: 2, h: 7, w: 6, cout: 3, kh: 5, kw: 5,
		cfg: ConvConfig{StrideH: 2, StrideW: 2, Same: true}, bias: true},
	{name: "3x3 valid odd sizes", n: 1, cin: 2, h: 5, w: 7, cout: 3, kh: 3, kw: 3, bias: true},
	{name: "2x3 stride(1,2) mixed pad", n: 2, cin: 2, h: 5, w: 6, cout: 3, kh: 2, kw: 3,
		cfg: ConvConfig{StrideH: 1, StrideW: 2, Padding: Padding2D{Top: 1, Bottom: 0, Left: 1, Right: 1}}},
	{name: "1x1", n: 2, cin: 5, h: 4, w: 3, cout: 3, kh: 1, kw: 1, bias: true},
	{name: "1x1 pad1", n: 1, cin: 3, h: 3, w: 4, cout: 2, kh: 1, kw: 1, cfg: ConvConfig{Padding: convPad(1)}, bias: true},
	{name: "2x2 stride2 valid", n: 2, cin: 3, h: 5, w: 4, cout: 2, kh: 2, kw: 2, cfg: ConvConfig{StrideH: 2, StrideW: 2}},
	{name: "1x1 stride2", n: 1, cin: 4, h: 5, w: 5, cout: 3, kh: 1, kw: 1, cfg: ConvConfig{StrideH: 2, StrideW: 2}},
	{name: "depthwise 3x3 pad1", n: 2, cin: 4, h: 5, w: 4, cout: 4, kh: 3, kw: 3,
		cfg: ConvConfig{Groups: 4, Padding: convPad(1)}, bias: true},
	{name: "depthwise x2 stride2 same", n: 1, cin: 3, h: 6, w: 5, cout: 6, kh: 3, kw: 3,
		cfg: ConvConfig{Groups: 3, StrideH: 2, StrideW: 2, Same: true}},
	{name: "groups2 3x3 pad1", n: 2, cin: 4, h: 5, w: 4, cout: 6, kh: 3, kw: 3,
		cfg: ConvConfig{Groups: 2, Padding: convPad(1)}, bias: true},
}

func convPad(p int) Padding2D { return Padding2D{Top: p, Bottom: p, Left: p, Right: p} }

var convImpls = []struct {
	name string
	impl convImpl
}{{"im2col", convIm2col}, {"native", convNative}}

// TestConv2DWeights compares forward values and gradients (w.r.t. x, weight and bias) of both
// formulations with a float64 nested-loop PyTorch conv2d.
func TestConv2DWeights(t *testing.T) {
	for ci, c := range convCases {
		x := graphtest.Random(uint64(100+ci), c.n, c.h, c.w, c.cin)
		wt := graphtest.Random(uint64(200+ci), c.cout, c.cin/c.cfg.groups(), c.kh, c.kw)
		bs := graphtest.Random(uint64(300+ci), c.cout)
		inputs := []graphtest.Array{x, wt}
		if c.bias {
			inputs = append(inputs, bs)
		}
		ref := func(in [][]float64) ([]float64, []int) {
			var b []float64
			if c.bias {
				b = in[2]
			}
			return convRef(in[0], x.Shape, in[1], wt.Shape, b, c.cfg)
		}
		want, outShape := ref([][]float64{graphtest.Float64s(x.Data), graphtest.Float64s(wt.Data), graphtest.Float64s(bs.Data)})
		cot := graphtest.Random(uint64(400+ci), outShape...)
		numGrads := graphtest.NumericGrads(func(in [][]float64) float64 {
			out, _ := ref(in)
			return graphtest.Dot64(out, cot.Data)
		}, inputs, 1e-2)

		for _, im := range convImpls {
			t.Run(fmt.Sprintf("%s/%s", c.name, im.name), func(t *testing.T) {
				cfg := c.cfg
				cfg.impl = im.impl
				conv := func(in []*Node) *Node {
					var b *Node
					if c.bias {
						b = in[2]
					}
					return Conv2DWeights(in[0], in[1], b, cfg)
				}
				got := graphtest.Run(t, func(in []*Node) []*Node { return []*Node{conv(in)} }, inputs...)[0]
				if fmt.Sprint(got.Shape) != fmt.Sprint(outShape) {
					t.Fatalf("output shape %v, want %v", got.Shape, outShape)
				}
				graphtest.AssertClose(t, "forward", got.Data, convFloat32s(want), 1e-4)

				_, grads := graphtest.Grads(t, func(in []*Node) *Node {
					return ReduceAllSum(Mul(conv(in), Const(in[0].Graph(), cot.Tensor())))
				}, inputs...)
				for i, name := range []string{"d/dx", "d/dweight", "d/dbias"}[:len(inputs)] {
					graphtest.AssertClose(t, name, grads[i].Data, numGrads[i].Data, 1e-3)
				}
			})
		}
	}
}

// TestConv2DLayer checks the layer's variables (names, PyTorch layouts, default-init bounds,
// determinism) and that it computes Conv2DWeights with them.
func TestConv2DLayer(t *testing.T) {
	x := graphtest.Random(7, 2, 6, 6, 4)
	run := func(seed int64) (out, weight, bias graphtest.Array) {
		store := model.NewStore()
		store.SetParam(model.ParamInitialSeed, seed)
		exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, x *Node) *Node {
			return Conv2D(scope.In("conv"), x, 6).Kernel(3).Stride(2).Padding(1).Groups(2).Done()
		})
		if err != nil {
			t.Fatal(err)
		}
		defer exec.Finalize()
		outs, err := exec.Exec(x.Tensor())
		if err != nil {
			t.Fatal(err)
		}
		w := store.GetVariable("/conv/weight")
		b := store.GetVariable("/conv/bias")
		if w == nil || b == nil {
			t.Fatalf("variables /conv/weight and /conv/bias not created")
		}
		return graphtest.FromTensor(outs[0]), graphtest.FromTensor(w.MustValue()), graphtest.FromTensor(b.MustValue())
	}
	out, w, b := run(42)
	if fmt.Sprint(w.Shape) != "[6 2 3 3]" || fmt.Sprint(b.Shape) != "[6]" {
		t.Fatalf("weight %v, bias %v; want [6 2 3 3] and [6]", w.Shape, b.Shape)
	}
	bound := 1 / math.Sqrt(2*3*3)
	for _, v := range append(append([]float32(nil), w.Data...), b.Data...) {
		if math.Abs(float64(v)) > bound {
			t.Fatalf("initial value %g outside ±%g", v, bound)
		}
	}
	if convStd(w.Data) < bound/3 {
		t.Fatalf("weight std %g, want about %g (uniform ±%g)", convStd(w.Data), bound/math.Sqrt(3), bound)
	}
	out2, w2, _ := run(42)
	graphtest.AssertClose(t, "same seed, same weights", w2.Data, w.Data, 0)
	graphtest.AssertClose(t, "same seed, same output", out2.Data, out.Data, 0)

	cfg := ConvConfig{StrideH: 2, StrideW: 2, Padding: convPad(1), Groups: 2}
	want := graphtest.Run(t, func(in []*Node) []*Node {
		return []*Node{Conv2DWeights(in[0], in[1], in[2], cfg)}
	}, x, w, b)[0]
	graphtest.AssertClose(t, "layer = Conv2DWeights", out.Data, want.Data, 1e-6)
}

// TestConv2DAutoAndSame: with no forced formulation, the Go backend takes im2col, and Same/strides
// resolve as TensorFlow does.
func TestConv2DAutoAndSame(t *testing.T) {
	cfg := ConvConfig{StrideH: 2, StrideW: 2, Same: true}
	if p := cfg.ResolvePadding(7, 6, 3, 3); p != (Padding2D{Top: 1, Bottom: 1, Left: 0, Right: 1}) {
		t.Fatalf("same padding for 7x6, k3, s2: %+v", p)
	}
	if ho, wo := (ConvConfig{StrideH: 2, StrideW: 2}).OutputSize(2, 2, 3, 3); ho >= 1 || wo >= 1 {
		t.Errorf("3x3 stride 2 on 2x2: output %dx%d, want an empty (invalid) size", ho, wo)
	}
	if ho, wo := cfg.OutputSize(7, 6, 3, 3); ho != 4 || wo != 3 {
		t.Fatalf("same output for 7x6, s2: %dx%d, want 4x3", ho, wo)
	}
	x := graphtest.Random(1, 1, 7, 6, 3)
	w := graphtest.Random(2, 4, 3, 3, 3)
	var names []string
	out := graphtest.Run(t, func(in []*Node) []*Node {
		out := Conv2DWeights(in[0], in[1], nil, cfg)
		for _, n := range in[0].Graph().Nodes() {
			names = append(names, n.Type().String())
		}
		return []*Node{out}
	}, x, w)[0]
	for _, n := range names {
		if n == NodeTypeConvGeneral.String() {
			t.Fatalf("the Go backend used ConvGeneral; want the im2col formulation")
		}
	}
	want, _ := convRef(graphtest.Float64s(x.Data), x.Shape, graphtest.Float64s(w.Data), w.Shape, nil, cfg)
	graphtest.AssertClose(t, "auto", out.Data, convFloat32s(want), 1e-4)
}

// TestConv2DBadShapes: wrong shapes fail while building the graph, naming what was expected.
func TestConv2DBadShapes(t *testing.T) {
	g := NewGraph(backend.MustDefault(), "bad")
	defer g.Finalize()
	x := Parameter(g, "x", shapes.Make(dtypes.Float32, 1, 5, 5, 4))
	for name, fn := range map[string]func(){
		"weight in-channels": func() { Conv2DWeights(x, Zeros(g, shapes.Make(dtypes.Float32, 3, 3, 3, 3)), nil, ConvConfig{}) },
		"groups": func() {
			Conv2DWeights(x, Zeros(g, shapes.Make(dtypes.Float32, 3, 4, 3, 3)), nil, ConvConfig{Groups: 3})
		},
		"bias": func() {
			Conv2DWeights(x, Zeros(g, shapes.Make(dtypes.Float32, 3, 4, 3, 3)), Zeros(g, shapes.Make(dtypes.Float32, 4)), ConvConfig{})
		},
		"too small": func() { Conv2DWeights(x, Zeros(g, shapes.Make(dtypes.Float32, 3, 4, 7, 7)), nil, ConvConfig{}) },
		"rank": func() {
			Conv2DWeights(Reshape(x, 1, 25, 4), Zeros(g, shapes.Make(dtypes.Float32, 3, 4, 1, 1)), nil, ConvConfig{})
		},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no error", name)
				} else if msg := fmt.Sprint(r); len(msg) == 0 {
					t.Errorf("%s: empty error", name)
				}
			}()
			fn()
		}()
	}
}

// convRef is PyTorch's conv2d in float64 nested loops. x is channels-last [n, h, w, cin] (the
// graph's layout) and is read through an NCHW copy, weight is OIHW, bias [cout] or nil; the
// result is returned channels-last with its shape.
func convRef(xNHWC []float64, xShape []int, weight []float64, wShape []int, bias []float64, cfg ConvConfig) ([]float64, []int) {
	n, h, w, cin := xShape[0], xShape[1], xShape[2], xShape[3]
	x := convToNCHW(xNHWC, n, h, w, cin)
	cout, cinG, kh, kw := wShape[0], wShape[1], wShape[2], wShape[3]
	groups := cfg.groups()
	coutG := cout / groups
	sh, sw := cfg.strides()
	p := cfg.ResolvePadding(h, w, kh, kw)
	ho, wo := (h+p.Top+p.Bottom-kh)/sh+1, (w+p.Left+p.Right-kw)/sw+1
	out := make([]float64, n*cout*ho*wo) // NCHW
	for b := range n {
		for o := range cout {
			grp := o / coutG
			for oi := range ho {
				for oj := range wo {
					s := 0.0
					if bias != nil {
						s = bias[o]
					}
					for c := range cinG {
						ic := grp*cinG + c
						for ki := range kh {
							ii := oi*sh - p.Top + ki
							if ii < 0 || ii >= h {
								continue
							}
							for kj := range kw {
								jj := oj*sw - p.Left + kj
								if jj < 0 || jj >= w {
									continue
								}
								s += x[((b*cin+ic)*h+ii)*w+jj] * weight[((o*cinG+c)*kh+ki)*kw+kj]
							}
						}
					}
					out[((b*cout+o)*ho+oi)*wo+oj] = s
				}
			}
		}
	}
	return convToNHWC(out, n, cout, ho, wo), []int{n, ho, wo, cout}
}

// convToNCHW converts channels-last data [n, h, w, c] to [n, c, h, w].
func convToNCHW(x []float64, n, h, w, c int) []float64 {
	out := make([]float64, len(x))
	for b := range n {
		for i := range h {
			for j := range w {
				for k := range c {
					out[((b*c+k)*h+i)*w+j] = x[((b*h+i)*w+j)*c+k]
				}
			}
		}
	}
	return out
}

// convToNHWC converts [n, c, h, w] data to channels-last [n, h, w, c].
func convToNHWC(x []float64, n, c, h, w int) []float64 {
	out := make([]float64, len(x))
	for b := range n {
		for k := range c {
			for i := range h {
				for j := range w {
					out[((b*h+i)*w+j)*c+k] = x[((b*c+k)*h+i)*w+j]
				}
			}
		}
	}
	return out
}

func convFloat32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func convStd(v []float32) float64 {
	var s, s2 float64
	for _, x := range v {
		s += float64(x)
		s2 += float64(x) * float64(x)
	}
	m := s / float64(len(v))
	return math.Sqrt(s2/float64(len(v)) - m*m)
}

// TestConv2DGradientComposition: the im2col path's hand-written backward inside larger graphs
// (chained convolutions sharing a weight, an output used twice, gradients with respect to
// some inputs only, two Gradient calls in one graph) agrees with autodiff of the native path.
func TestConv2DGradientComposition(t *testing.T) {
	x := graphtest.Random(31, 2, 7, 6, 4)
	w := graphtest.Random(32, 4, 4, 3, 3)
	w2 := graphtest.Random(33, 3, 4, 3, 3)
	b := graphtest.Random(34, 4)
	cot := graphtest.Random(35, 2, 4, 3, 3)
	graph := func(impl convImpl) func(in []*Node) []*Node {
		return func(in []*Node) []*Node {
			same := ConvConfig{Padding: convPad(1), impl: impl}
			down := ConvConfig{StrideH: 2, StrideW: 2, Padding: convPad(1), impl: impl}
			h := Conv2DWeights(in[0], in[1], in[3], same)
			h = Conv2DWeights(Mul(h, h), in[1], nil, same) // Shared weight, h used twice.
			out := Conv2DWeights(h, in[2], nil, down)
			loss1 := ReduceAllSum(Mul(out, Const(out.Graph(), cot.Tensor())))
			loss2 := ReduceAllSum(Square(out))
			outs := Gradient(loss1, in[0], in[1], in[2], in[3])
			outs = append(outs, Gradient(loss2, in[1])...) // Weight only, second pass.
			return append(outs, Gradient(loss2, in[0])...) // Input only, third pass.
		}
	}
	want := graphtest.Run(t, graph(convNative), x, w, w2, b)
	got := graphtest.Run(t, graph(convIm2col), x, w, w2, b)
	for i, name := range []string{"dx", "dw", "dw2", "db", "dw (loss2)", "dx (loss2)"} {
		graphtest.AssertClose(t, name, got[i].Data, want[i].Data, 1e-4)
	}
}

// Banded im2col (a band of output rows at a time, for large convolutions) computes what one band
// does, forward and backward, for every case: strides, paddings, bias, groups.
func TestConv2DBands(t *testing.T) {
	for ci, c := range convCases {
		x := graphtest.Random(uint64(100+ci), c.n, c.h, c.w, c.cin)
		wt := graphtest.Random(uint64(200+ci), c.cout, c.cin/c.cfg.groups(), c.kh, c.kw)
		cfg := c.cfg
		cfg.impl = convIm2col
		build := func(in []*Node) []*Node {
			y := Conv2DWeights(in[0], in[1], nil, cfg)
			loss := ReduceAllSum(Mul(y, y))
			return append([]*Node{y}, Gradient(loss, in[0], in[1])...)
		}
		whole := graphtest.Run(t, build, x, wt)
		saved := convBandElements
		convBandElements = 1 // one output row a band
		banded := graphtest.Run(t, build, x, wt)
		convBandElements = saved
		for i, name := range []string{"forward", "d/dx", "d/dweight"} {
			graphtest.AssertClose(t, c.name+" "+name, banded[i].Data, whole[i].Data, 1e-5)
		}
	}
	g := convGeom{batch: 2, ho: 7, wo: 5, kh: 3, kw: 3, cin: 4}
	saved := convBandElements
	defer func() { convBandElements = saved }()
	convBandElements = 2 * 5 * 9 * 4 * 3 // three rows
	bands := convBands(g)
	if fmt.Sprint(bands) != "[[0 3] [3 6] [6 7]]" {
		t.Fatalf("convBands = %v, want [[0 3] [3 6] [6 7]]", bands)
	}
}
