package nn

import (
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Padding2D is explicit zero padding of the spatial axes: rows added at the top and bottom,
// columns added at the left and right.
type Padding2D struct {
	Top, Bottom, Left, Right int
}

// ConvConfig configures a 2-D convolution (Conv2DWeights, and Conv2D through its builder).
// The zero value is a stride-1, unpadded ("valid"), ungrouped convolution.
type ConvConfig struct {
	// StrideH and StrideW are the strides along height and width; zero means 1.
	StrideH, StrideW int

	// Padding is the explicit zero padding; ignored when Same is set.
	Padding Padding2D

	// Same selects TensorFlow-style "same" padding, computed from the input size: the output is
	// ceil(in/stride) and, when the total padding is odd, the extra row (column) goes to the
	// bottom (right). This is what EfficientNet ports use for their stride-2 convolutions.
	Same bool

	// Groups splits the channels into independent groups (PyTorch's groups); zero means 1.
	// Groups == input channels is a depthwise convolution.
	Groups int

	// impl forces a formulation (tests and benchmarks); convAuto chooses per backend.
	impl convImpl
}

// convImpl selects how a convolution is computed.
type convImpl int

const (
	convAuto   convImpl = iota // im2col on the Go backend, native elsewhere.
	convIm2col                 // slicing + one matmul (depthwise: shifted slices; groups: split).
	convNative                 // graph.Convolve (the backend's ConvGeneral).
)

// ResolvePadding returns the padding the convolution will use for an input of height h and
// width w and a kernel of kh×kw: Padding, or the TensorFlow "same" padding when Same is set.
func (c ConvConfig) ResolvePadding(h, w, kh, kw int) Padding2D {
	if !c.Same {
		return c.Padding
	}
	sh, sw := c.strides()
	top, bottom := samePadding(h, kh, sh)
	left, right := samePadding(w, kw, sw)
	return Padding2D{Top: top, Bottom: bottom, Left: left, Right: right}
}

// OutputSize returns the output height and width for an input of h×w and a kernel of kh×kw
// (PyTorch's floor((in + pads - k) / stride) + 1).
func (c ConvConfig) OutputSize(h, w, kh, kw int) (ho, wo int) {
	p := c.ResolvePadding(h, w, kh, kw)
	sh, sw := c.strides()
	return floorDiv(h+p.Top+p.Bottom-kh, sh) + 1, floorDiv(w+p.Left+p.Right-kw, sw) + 1
}

// floorDiv rounds toward -∞, so a kernel larger than the padded input gives an output size
// below 1 (an error) rather than Go's truncation toward zero giving 1.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func (c ConvConfig) strides() (sh, sw int) {
	return max(c.StrideH, 1), max(c.StrideW, 1)
}

func (c ConvConfig) groups() int { return max(c.Groups, 1) }

// samePadding is TensorFlow's "same" padding along one axis.
func samePadding(in, k, stride int) (before, after int) {
	out := (in + stride - 1) / stride
	total := max((out-1)*stride+k-in, 0)
	return total / 2, total - total/2
}

// convGeom is a convolution's resolved geometry.
type convGeom struct {
	batch, h, w, cin     int
	cout, kh, kw, groups int
	sh, sw               int
	pad                  Padding2D
	ho, wo               int
}

// Conv2DWeights is a 2-D convolution with the given weights, for callers that hold them
// (tests, LoRA merges, frozen copies); Conv2D creates and uses them from a scope.
//
//   - x: [batch, height, width, inChannels] (channels last).
//   - weight: [outChannels, inChannels/groups, kh, kw] (PyTorch's OIHW layout, as checkpoints store it).
//   - bias: [outChannels], or nil.
//   - returns [batch, outHeight, outWidth, outChannels], with the sizes of cfg.OutputSize.
//
// It is differentiable with respect to x, weight and bias, and picks its formulation by backend.
// It computes in x's dtype: weights of another float dtype (float32 master weights under
// bfloat16 activations) are converted, and their gradients come back in their own dtype.
//
// On the Go backend it uses im2col: the kh·kw shifted (strided) windows of the padded input
// are sliced out, concatenated along the channels axis, and multiplied with the weight
// reshaped to [outChannels, kh·kw·inChannels] in one matmul contracting the last axis of both
// (so no activation-sized transpose); a 1×1 stride-1 convolution is just that matmul. Its
// backward pass is written by hand (conv_vjp.go) rather than left to autodiff. Depthwise
// convolutions are a sum of shifted slices times per-channel weights; other groups are split
// into separate convolutions. The reason is speed: the Go backend's native convolution is a
// direct loop nest. For 8×32×32×64 → 64, 3×3, forward+backward on this project's 2-core
// AMD EPYC (conv_bench_test.go): native 0.45 GFLOP/s (4 s), im2col about 36 GFLOP/s (50 ms)
// with GOEXPERIMENT=simd and 6 GFLOP/s (300 ms) without; a 3×3 depthwise forward on the same
// input takes 22 ms against 234 ms. On other backends (XLA) it uses graph.Convolve, which is
// as fast or faster there.
func Conv2DWeights(x, weight, bias *Node, cfg ConvConfig) *Node {
	weight, bias = castParam(weight, x.DType()), castParam(bias, x.DType())
	geom := convGeometry(x, weight, bias, cfg)
	impl := cfg.impl
	if impl == convAuto {
		impl = convNative
		if isGoBackend(x.Graph()) {
			impl = convIm2col
		}
	}
	var out *Node
	switch impl {
	case convNative:
		out = convNative2D(x, weight, geom)
	default:
		out = convIm2col2D(x, weight, geom)
	}
	if bias != nil {
		out = Add(out, Reshape(bias, 1, 1, 1, geom.cout))
	}
	return out
}

// convGeometry checks the shapes and resolves the configuration.
func convGeometry(x, weight, bias *Node, cfg ConvConfig) convGeom {
	if x.Rank() != 4 {
		exceptions.Panicf("nn.Conv2D: x must be [batch, height, width, channels], got shape %s", x.Shape())
	}
	if weight.Rank() != 4 {
		exceptions.Panicf("nn.Conv2D: weight must be [outChannels, inChannels/groups, kh, kw], got shape %s", weight.Shape())
	}
	if weight.DType() != x.DType() {
		exceptions.Panicf("nn.Conv2D: weight dtype %s differs from x dtype %s", weight.DType(), x.DType())
	}
	var g convGeom
	xd, wd := x.Shape().Dimensions, weight.Shape().Dimensions
	g.batch, g.h, g.w, g.cin = xd[0], xd[1], xd[2], xd[3]
	g.cout, g.kh, g.kw = wd[0], wd[2], wd[3]
	g.groups = cfg.groups()
	if g.cin%g.groups != 0 || g.cout%g.groups != 0 {
		exceptions.Panicf("nn.Conv2D: %d input and %d output channels are not divisible by groups=%d", g.cin, g.cout, g.groups)
	}
	if wd[1] != g.cin/g.groups {
		exceptions.Panicf("nn.Conv2D: weight shape %s, want [%d, %d, kh, kw] for x shape %s and groups=%d",
			weight.Shape(), g.cout, g.cin/g.groups, x.Shape(), g.groups)
	}
	if bias != nil && (bias.Rank() != 1 || bias.Shape().Dimensions[0] != g.cout || bias.DType() != x.DType()) {
		exceptions.Panicf("nn.Conv2D: bias shape %s, want [%d] of %s", bias.Shape(), g.cout, x.DType())
	}
	g.sh, g.sw = cfg.strides()
	g.pad = cfg.ResolvePadding(g.h, g.w, g.kh, g.kw)
	if p := g.pad; p.Top < 0 || p.Bottom < 0 || p.Left < 0 || p.Right < 0 {
		exceptions.Panicf("nn.Conv2D: negative padding %+v", p)
	}
	g.ho, g.wo = cfg.OutputSize(g.h, g.w, g.kh, g.kw)
	if g.ho < 1 || g.wo < 1 {
		exceptions.Panicf("nn.Conv2D: kernel %dx%d with padding %+v does not fit input %dx%d", g.kh, g.kw, g.pad, g.h, g.w)
	}
	return g
}

// isGoBackend reports whether g runs on GoMLX's pure-Go backend (whose Name is "Go Backend"
// and String its GOMLX_BACKEND name, "go").
func isGoBackend(g *Graph) bool {
	return g.Backend().String() == gobackend.BackendName
}

// convNative2D uses graph.Convolve; its gradient handles groups by splitting channels.
//
// GoMLX v0.28's gradient of Convolve with respect to the input is shifted by one for even
// kernel sizes, so an even kernel gets a trailing zero tap (and the input one more column of
// padding), which gives the same output. The gradient also cannot express some paddings (a
// large one at the start): those axes are padded beforehand with ZeroPad.
func convNative2D(x, weight *Node, g convGeom) *Node {
	pads := [][2]int{{g.pad.Top, g.pad.Bottom}, {g.pad.Left, g.pad.Right}}
	ins, ks, ss, outs := [2]int{g.h, g.w}, [2]int{g.kh, g.kw}, [2]int{g.sh, g.sw}, [2]int{g.ho, g.wo}
	var pre, kernelPad [2][2]int
	for a := range 2 {
		if ks[a]%2 == 0 {
			kernelPad[a][1] = 1
			ks[a]++
			pads[a][1]++
		}
		if !convNativePaddingOK(ins[a], ks[a], ss[a], pads[a], outs[a]) {
			pre[a], pads[a] = pads[a], [2]int{}
		}
	}
	if pre != ([2][2]int{}) {
		x = ZeroPad(x, [2]int{}, pre[0], pre[1])
	}
	if kernelPad != ([2][2]int{}) {
		weight = ZeroPad(weight, [2]int{}, [2]int{}, kernelPad[0], kernelPad[1])
	}
	kernel := TransposeAllAxes(weight, 2, 3, 1, 0) // [kh, kw, cin/groups, cout]
	conv := Convolve(x, kernel).StridePerAxis(g.sh, g.sw).PaddingPerDim(pads)
	if g.groups > 1 {
		conv = conv.ChannelGroupCount(g.groups)
	}
	return conv.Done()
}

// convNativePaddingOK mirrors the bounds GoMLX's Convolve gradient (convVJPWrtX) accepts for
// one spatial axis.
func convNativePaddingOK(in, k, stride int, pad [2]int, out int) bool {
	inStart := (k-1)/2 - pad[0]
	outStart := -inStart - (k-1)/2
	outEnd := in - inStart + k/2 - (out-1)*(stride-1)
	return outStart <= 0 && outEnd >= out
}

// Conv2DBuilder configures a Conv2D layer; create it with Conv2D and finish with Done.
type Conv2DBuilder struct {
	scope       *model.Scope
	x           *Node
	outChannels int
	kh, kw      int
	cfg         ConvConfig
	noBias      bool
}

// Conv2D is a 2-D convolution layer (torch.nn.Conv2d) on x: [batch, height, width, inChannels],
// returning [batch, outHeight, outWidth, outChannels]. Its variables live in the current scope
// under PyTorch's names and layouts: "weight" [outChannels, inChannels/groups, kh, kw] and
// "bias" [outChannels]. Missing ones are created with PyTorch's default initialisation,
// U(-1/√fanIn, 1/√fanIn) with fanIn = inChannels/groups·kh·kw (kaiming-uniform with a=√5;
// see Variable and KaimingUniformInit for the seeding).
//
// Defaults: kernel 1×1, stride 1, no padding, groups 1, with bias:
//
//	h := nn.Conv2D(scope.In("conv_in"), x, 320).Kernel(3).Padding(1).Done()
func Conv2D(scope *model.Scope, x *Node, outChannels int) *Conv2DBuilder {
	if outChannels <= 0 {
		exceptions.Panicf("nn.Conv2D: outChannels must be positive, got %d", outChannels)
	}
	return &Conv2DBuilder{scope: scope, x: x, outChannels: outChannels, kh: 1, kw: 1}
}

// Kernel sets a square k×k kernel.
func (b *Conv2DBuilder) Kernel(k int) *Conv2DBuilder { return b.KernelHW(k, k) }

// KernelHW sets a kh×kw kernel.
func (b *Conv2DBuilder) KernelHW(kh, kw int) *Conv2DBuilder {
	if kh <= 0 || kw <= 0 {
		exceptions.Panicf("nn.Conv2D: kernel %dx%d must be positive", kh, kw)
	}
	b.kh, b.kw = kh, kw
	return b
}

// Stride sets the same stride along height and width.
func (b *Conv2DBuilder) Stride(s int) *Conv2DBuilder { return b.StrideHW(s, s) }

// StrideHW sets the strides along height and width.
func (b *Conv2DBuilder) StrideHW(sh, sw int) *Conv2DBuilder {
	if sh <= 0 || sw <= 0 {
		exceptions.Panicf("nn.Conv2D: strides %d, %d must be positive", sh, sw)
	}
	b.cfg.StrideH, b.cfg.StrideW = sh, sw
	return b
}

// Padding sets p rows/columns of zeros on every side (PyTorch's padding=p).
func (b *Conv2DBuilder) Padding(p int) *Conv2DBuilder { return b.PaddingHW(p, p, p, p) }

// PaddingHW sets per-side zero padding (for example an asymmetric "same" of a ported model).
func (b *Conv2DBuilder) PaddingHW(top, bottom, left, right int) *Conv2DBuilder {
	b.cfg.Padding = Padding2D{Top: top, Bottom: bottom, Left: left, Right: right}
	b.cfg.Same = false
	return b
}

// Same selects TensorFlow-style "same" padding computed from the input size (see ConvConfig.Same).
func (b *Conv2DBuilder) Same() *Conv2DBuilder {
	b.cfg.Same = true
	return b
}

// Valid removes all padding (the default).
func (b *Conv2DBuilder) Valid() *Conv2DBuilder {
	b.cfg.Same = false
	b.cfg.Padding = Padding2D{}
	return b
}

// Groups sets the number of channel groups (PyTorch's groups); inChannels for depthwise.
func (b *Conv2DBuilder) Groups(g int) *Conv2DBuilder {
	if g <= 0 {
		exceptions.Panicf("nn.Conv2D: groups must be positive, got %d", g)
	}
	b.cfg.Groups = g
	return b
}

// NoBias leaves out the bias (and its variable).
func (b *Conv2DBuilder) NoBias() *Conv2DBuilder {
	b.noBias = true
	return b
}

// Config returns the convolution's configuration (for Conv2DWeights on the same weights).
func (b *Conv2DBuilder) Config() ConvConfig { return b.cfg }

// Done creates (or reuses) the variables and returns the convolved x.
func (b *Conv2DBuilder) Done() *Node {
	x := b.x
	if x.Rank() != 4 {
		exceptions.Panicf("nn.Conv2D: x must be [batch, height, width, channels], got shape %s", x.Shape())
	}
	cin, groups := x.Shape().Dimensions[3], b.cfg.groups()
	if cin%groups != 0 {
		exceptions.Panicf("nn.Conv2D: %d input channels are not divisible by groups=%d", cin, groups)
	}
	fanIn := cin / groups * b.kh * b.kw
	dtype := x.DType()
	weight := Variable(b.scope, "weight", shapes.Make(dtype, b.outChannels, cin/groups, b.kh, b.kw),
		KaimingUniformInit(fanIn)).NodeValue(x.Graph())
	var bias *Node
	if !b.noBias {
		bias = Variable(b.scope, "bias", shapes.Make(dtype, b.outChannels), KaimingUniformInit(fanIn)).NodeValue(x.Graph())
	}
	return Conv2DWeights(x, weight, bias, b.cfg)
}
