package nn

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/support/exceptions"
)

// AvgPool2DBuilder configures an average pooling; create it with AvgPool2D, finish with Done.
type AvgPool2DBuilder struct {
	x               *Node
	kh, kw, sh, sw  int
	pad             Padding2D
	countIncludePad bool
}

// AvgPool2D is average pooling (torch.nn.functional.avg_pool2d with ceil_mode=False) of
// x: [batch, height, width, channels] with a kernel×kernel window, returning
// [batch, outHeight, outWidth, channels]. Defaults follow PyTorch: stride = kernel, no padding,
// and padded zeros count in the average (count_include_pad=True). It is differentiable.
//
//	down := nn.AvgPool2D(x, 2).Done() // [b, h/2, w/2, c]
func AvgPool2D(x *Node, kernel int) *AvgPool2DBuilder {
	if kernel <= 0 {
		exceptions.Panicf("nn.AvgPool2D: kernel must be positive, got %d", kernel)
	}
	return &AvgPool2DBuilder{x: x, kh: kernel, kw: kernel, sh: kernel, sw: kernel, countIncludePad: true}
}

// KernelHW sets a kh×kw window (the stride is left as it is).
func (b *AvgPool2DBuilder) KernelHW(kh, kw int) *AvgPool2DBuilder {
	if kh <= 0 || kw <= 0 {
		exceptions.Panicf("nn.AvgPool2D: kernel %dx%d must be positive", kh, kw)
	}
	b.kh, b.kw = kh, kw
	return b
}

// Stride sets the same stride along height and width.
func (b *AvgPool2DBuilder) Stride(s int) *AvgPool2DBuilder { return b.StrideHW(s, s) }

// StrideHW sets the strides along height and width.
func (b *AvgPool2DBuilder) StrideHW(sh, sw int) *AvgPool2DBuilder {
	if sh <= 0 || sw <= 0 {
		exceptions.Panicf("nn.AvgPool2D: strides %d, %d must be positive", sh, sw)
	}
	b.sh, b.sw = sh, sw
	return b
}

// Padding sets p rows/columns of zeros on every side.
func (b *AvgPool2DBuilder) Padding(p int) *AvgPool2DBuilder { return b.PaddingHW(p, p, p, p) }

// PaddingHW sets per-side zero padding.
func (b *AvgPool2DBuilder) PaddingHW(top, bottom, left, right int) *AvgPool2DBuilder {
	if top < 0 || bottom < 0 || left < 0 || right < 0 {
		exceptions.Panicf("nn.AvgPool2D: negative padding %d, %d, %d, %d", top, bottom, left, right)
	}
	b.pad = Padding2D{Top: top, Bottom: bottom, Left: left, Right: right}
	return b
}

// CountIncludePad sets whether padded zeros count in the average (PyTorch's
// count_include_pad, default true); with false, each window is divided by its number of
// input elements.
func (b *AvgPool2DBuilder) CountIncludePad(include bool) *AvgPool2DBuilder {
	b.countIncludePad = include
	return b
}

// Done returns the pooled x.
func (b *AvgPool2DBuilder) Done() *Node {
	x := b.x
	if x.Rank() != 4 {
		exceptions.Panicf("nn.AvgPool2D: x must be [batch, height, width, channels], got shape %s", x.Shape())
	}
	d := x.Shape().Dimensions
	g := convGeom{batch: d[0], h: d[1], w: d[2], cin: d[3], cout: d[3], kh: b.kh, kw: b.kw, groups: d[3],
		sh: b.sh, sw: b.sw, pad: b.pad}
	g.ho = (g.h+b.pad.Top+b.pad.Bottom-b.kh)/b.sh + 1
	g.wo = (g.w+b.pad.Left+b.pad.Right-b.kw)/b.sw + 1
	if g.ho < 1 || g.wo < 1 {
		exceptions.Panicf("nn.AvgPool2D: window %dx%d with padding %+v does not fit input %dx%d", b.kh, b.kw, b.pad, g.h, g.w)
	}

	var sum *Node
	if b.kh == b.sh && b.kw == b.sw && b.pad == (Padding2D{}) {
		// Non-overlapping windows: crop the leftover rows/columns and sum the reshaped blocks.
		xc := x
		if g.ho*b.kh != g.h || g.wo*b.kw != g.w {
			xc = Slice(x, AxisRange(), AxisRange(0, g.ho*b.kh), AxisRange(0, g.wo*b.kw), AxisRange())
		}
		sum = ReduceSum(Reshape(xc, g.batch, g.ho, b.kh, g.wo, b.kw, g.cin), 2, 4)
	} else {
		xp := PadHW(x, b.pad.Top, b.pad.Bottom, b.pad.Left, b.pad.Right)
		for i := range b.kh {
			for j := range b.kw {
				win := convWindow(xp, g, i, j)
				if sum == nil {
					sum = win
				} else {
					sum = Add(sum, win)
				}
			}
		}
	}
	if b.countIncludePad || b.pad == (Padding2D{}) {
		return DivScalar(sum, float64(b.kh*b.kw))
	}
	return Mul(sum, poolInverseCounts(x.Graph(), x.DType(), g))
}

// poolInverseCounts is 1/(number of input elements in each window): [1, ho, wo, 1].
func poolInverseCounts(gr *Graph, dtype dtypes.DType, g convGeom) *Node {
	inv := make([]float64, g.ho*g.wo)
	for oi := range g.ho {
		h0 := oi*g.sh - g.pad.Top
		rows := min(h0+g.kh, g.h) - max(h0, 0)
		for oj := range g.wo {
			w0 := oj*g.sw - g.pad.Left
			cols := min(w0+g.kw, g.w) - max(w0, 0)
			inv[oi*g.wo+oj] = 1 / float64(max(rows*cols, 1))
		}
	}
	t := tensors.FromFlatDataAndDimensions(inv, 1, g.ho, g.wo, 1)
	return ConvertDType(Const(gr, t), dtype)
}

// GlobalAvgPool2D is the mean over height and width (torch's AdaptiveAvgPool2d(1)) of
// x: [batch, height, width, channels], returning [batch, 1, 1, channels] so it feeds a 1×1
// Conv2D directly. It is differentiable.
func GlobalAvgPool2D(x *Node) *Node {
	if x.Rank() != 4 {
		exceptions.Panicf("nn.GlobalAvgPool2D: x must be [batch, height, width, channels], got shape %s", x.Shape())
	}
	d := x.Shape().Dimensions
	return Reshape(ReduceMean(x, 1, 2), d[0], 1, 1, d[3])
}
