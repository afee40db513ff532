package diffusion

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"

	"github.com/gorpo/gorpo/internal/nn"
)

// diffusersActivation returns diffusers' get_activation(name): "silu"/"swish", "gelu" (exact), "relu",
// "mish". The config validation guarantees the name is known.
func diffusersActivation(name string) func(*Node) *Node {
	switch name {
	case "silu", "swish":
		return nn.SiLU
	case "gelu":
		return nn.GELU
	case "relu":
		return func(x *Node) *Node { return Max(x, ZerosLike(x)) }
	case "mish":
		return func(x *Node) *Node { return Mul(x, Tanh(Softplus(x))) }
	}
	exceptions.Panicf("diffusion: unknown activation %q", name)
	return nil
}

// resnetBlock configures diffusers' ResnetBlock2D (time_embedding_norm "default", pre-norm).
type resnetBlock struct {
	outChannels int
	groups      int
	eps         float64
	outScale    float64 // output_scale_factor: the sum is divided by it
	act         func(*Node) *Node
}

// apply runs the block on x: [batch, height, width, in] with the time embedding temb: [batch, T]
// (nil for the VAE's blocks, which have no time_emb_proj), returning [batch, height, width, out].
//
// Learned, under scope: norm1 (GroupNorm over in), conv1 (3×3, in→out), time_emb_proj (Linear
// T→out, only with temb), norm2, conv2 (3×3, out→out) and, when in ≠ out, conv_shortcut (1×1).
//
//	h = conv1(act(norm1(x))) + time_emb_proj(act(temb))
//	out = (shortcut(x) + conv2(act(norm2(h)))) / output_scale_factor
func (r resnetBlock) apply(scope *model.Scope, x, temb *Node) *Node {
	in := x.Shape().Dim(-1)
	h := r.act(nn.GroupNorm(scope.In("norm1"), x, r.groups, r.eps))
	h = nn.Conv2D(scope.In("conv1"), h, r.outChannels).Kernel(3).Padding(1).Done()
	if temb != nil {
		t := nn.Linear(scope.In("time_emb_proj"), r.act(temb), r.outChannels, true)
		h = Add(h, Reshape(t, t.Shape().Dim(0), 1, 1, r.outChannels))
	}
	h = r.act(nn.GroupNorm(scope.In("norm2"), h, r.groups, r.eps))
	h = nn.Conv2D(scope.In("conv2"), h, r.outChannels).Kernel(3).Padding(1).Done()
	if in != r.outChannels {
		x = nn.Conv2D(scope.In("conv_shortcut"), x, r.outChannels).Done()
	}
	out := Add(x, h)
	if r.outScale != 1 {
		out = DivScalar(out, r.outScale)
	}
	return out
}

// downsample2D is diffusers' Downsample2D with use_conv: a 3×3 stride-2 convolution under
// scope "conv" with zero padding on every side, or, for padding 0, one extra row and column of
// zeros at the bottom and right (the VAE's asymmetric F.pad(x, (0, 1, 0, 1))).
func downsample2D(scope *model.Scope, x *Node, padding int) *Node {
	c := x.Shape().Dim(-1)
	conv := nn.Conv2D(scope.In("conv"), x, c).Kernel(3).Stride(2)
	if padding == 0 {
		conv = conv.PaddingHW(0, 1, 0, 1)
	} else {
		conv = conv.Padding(padding)
	}
	return conv.Done()
}

// upsample2D is diffusers' Upsample2D with use_conv: nearest-neighbour resizing to
// height×width (2× when the caller passes twice the input size) followed by a 3×3 convolution
// under scope "conv".
func upsample2D(scope *model.Scope, x *Node, height, width int) *Node {
	x = resizeNearest(x, height, width)
	return nn.Conv2D(scope.In("conv"), x, x.Shape().Dim(-1)).Kernel(3).Padding(1).Done()
}

// resizeNearest is torch's F.interpolate(x, size=(height, width), mode="nearest") for
// x: [batch, h, w, channels]: output row i takes input row min(floor(i·h/height), h-1), the scale
// computed in float32 as torch does. Exact 2× goes through nn.UpsampleNearest; the sizes a
// U-Net meets with odd skip sizes (2·h-1) are 2× cropped, which gives the same rows.
func resizeNearest(x *Node, height, width int) *Node {
	d := x.Shape().Dimensions
	h, w := d[1], d[2]
	if height == h && width == w {
		return x
	}
	if (height == 2*h || height == 2*h-1) && (width == 2*w || width == 2*w-1) {
		x = nn.UpsampleNearest(x, 2)
		if height != 2*h || width != 2*w {
			x = Slice(x, AxisRange(), AxisRange(0, height), AxisRange(0, width), AxisRange())
		}
		return x
	}
	x = nearestAxis(x, 1, height)
	return nearestAxis(x, 2, width)
}

// nearestAxis resizes one axis of x to size by nearest neighbour, copying runs of repeated
// source indices as slices.
func nearestAxis(x *Node, axis, size int) *Node {
	in := x.Shape().Dim(axis)
	if in == size {
		return x
	}
	scale := float32(in) / float32(size)
	src := func(i int) int { return min(int(float32(i)*scale), in-1) }
	var parts []*Node
	for i := 0; i < size; {
		s := src(i)
		j := i
		for j < size && src(j) == s {
			j++
		}
		row := SliceAxis(x, axis, AxisRange(s, s+1))
		if j-i > 1 {
			dims := row.Shape().Clone().Dimensions
			dims[axis] = j - i
			row = BroadcastToDims(row, dims...)
		}
		parts = append(parts, row)
		i = j
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return Concatenate(parts, axis)
}
