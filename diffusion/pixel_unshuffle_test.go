package diffusion

import (
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/stretchr/testify/require"

	"github.com/gorpo/gorpo/internal/graphtest"
)

// torch.nn.functional.pixel_unshuffle's order, written from its definition: output channel
// c·r² + i·r + j at (y, x) is input channel c at (y·r+i, x·r+j).
func TestPixelUnshuffleOrder(t *testing.T) {
	const n, c, h, w, r = 2, 3, 4, 6, 2
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(i)
	}
	got, shape, err := PixelUnshuffle(x, [4]int{n, c, h, w}, r)
	require.NoError(t, err)
	require.Equal(t, [4]int{n, c * r * r, h / r, w / r}, shape)
	for b := range n {
		for ci := range c {
			for i := range r {
				for j := range r {
					for y := range h / r {
						for xx := range w / r {
							want := x[((b*c+ci)*h+y*r+i)*w+xx*r+j]
							oc := ci*r*r + i*r + j
							require.Equal(t, want, got[((b*shape[1]+oc)*shape[2]+y)*shape[3]+xx])
						}
					}
				}
			}
		}
	}
	back, bshape, err := PixelShuffle(got, shape, r)
	require.NoError(t, err)
	require.Equal(t, [4]int{n, c, h, w}, bshape)
	require.Equal(t, x, back)

	_, _, err = PixelUnshuffle(x, [4]int{n, c, h, w}, 4)
	require.ErrorContains(t, err, "dividing height and width")
	_, _, err = PixelShuffle(x, [4]int{n, c, h, w}, 2)
	require.ErrorContains(t, err, "divides the channels")
}

// The graph versions (channels last) fold and unfold as the host ones (channels first).
func TestPixelUnshuffleGraph(t *testing.T) {
	const n, c, h, w, r = 2, 3, 4, 6, 2
	in := graphtest.Random(1, n, h, w, c) // NHWC
	outs := graphtest.Run(t, func(x []*Node) []*Node {
		f := PixelUnshuffleGraph(x[0], r)
		return []*Node{f, PixelShuffleGraph(f, r)}
	}, in)
	require.Equal(t, in.Data, outs[1].Data)
	nchw := make([]float32, len(in.Data))
	for b := range n {
		for y := range h {
			for xx := range w {
				for ci := range c {
					nchw[((b*c+ci)*h+y)*w+xx] = in.Data[((b*h+y)*w+xx)*c+ci]
				}
			}
		}
	}
	want, shape, err := PixelUnshuffle(nchw, [4]int{n, c, h, w}, r)
	require.NoError(t, err)
	oc, oh, ow := shape[1], shape[2], shape[3]
	for b := range n {
		for ch := range oc {
			for y := range oh {
				for xx := range ow {
					require.Equal(t, want[((b*oc+ch)*oh+y)*ow+xx], outs[0].Data[((b*oh+y)*ow+xx)*oc+ch])
				}
			}
		}
	}
}
