package diffusion

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/gorpo/gorpo/internal/graphtest"
)

// tinyUNetConfig is a small pixel-space U-Net exercising the settings SD 1.x/2.x checkpoints do
// not: 3 channels, deeper transformers, only_cross_attention, a resnet-only mid block, extra
// time-embedding activations, a 1×1 conv_in, a plain DownBlock2D first.
func tinyUNetConfig() UNetConfig {
	cfg := DefaultUNetConfig()
	groups := 4
	mid := "UNetMidBlock2D"
	post, tact := "silu", "gelu"
	dim := 40
	cfg.InChannels, cfg.OutChannels = 3, 3
	cfg.DownBlockTypes = []string{"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}
	cfg.UpBlockTypes = []string{"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"}
	cfg.BlockOutChannels = []int{8, 16, 16}
	cfg.LayersPerBlock = Ints(1, 1, 2)
	cfg.NormNumGroups = &groups
	cfg.CrossAttentionDim = Int(12)
	cfg.AttentionHeadDim = Ints(2, 2, 4)
	cfg.TransformerLayersPerBlock = NestedInts{List: []IntOrList{Int(1), Int(2), Int(1)}}
	cfg.OnlyCrossAttention = BoolOrList{List: []bool{false, true, false}}
	cfg.MidBlockType = &mid
	cfg.TimestepPostAct, cfg.TimeEmbeddingActFn = &post, &tact
	cfg.TimeEmbeddingDim = &dim
	cfg.ConvInKernel = 1
	cfg.CenterInputSample = true
	cfg.UseLinearProjection = true
	return cfg
}

// Unusual but supported configurations build, run on odd image sizes (where diffusers upsamples
// to the skip connections' sizes), and survive Save and LoadUNet unchanged.
func TestUNetVariants(t *testing.T) {
	cfg := tinyUNetConfig()
	noMid := tinyUNetConfig()
	noMid.MidBlockType = nil
	noMid.DownsamplePadding = 0
	for name, cfg := range map[string]UNetConfig{"tiny": cfg, "no mid block, padding 0": noMid} {
		t.Run(name, func(t *testing.T) {
			u, err := NewUNet(cfg, 5)
			if err != nil {
				t.Fatal(err)
			}
			if u.Store().GetVariable("/unet/down_blocks/1/attentions/0/transformer_blocks/1/attn2/to_k/weight") == nil {
				t.Fatal("transformer_layers_per_block=2 did not make a second transformer block")
			}
			ctx := context.Background()
			for _, shape := range [][4]int{{1, 3, 8, 8}, {2, 3, 13, 10}} {
				sample := normalNoise(graphtest.Size(shape[:]), 1)
				enc := normalNoise(shape[0]*5*12, 2)
				out, err := u.Predict(ctx, sample, shape, []float64{417.5}, enc, [3]int{shape[0], 5, 12})
				if err != nil {
					t.Fatal(err)
				}
				if len(out) != len(sample) {
					t.Fatalf("%v: %d outputs, want %d", shape, len(out), len(sample))
				}
				for _, v := range out {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("%v: non-finite output", shape)
					}
				}
			}
			dir := filepath.Join(t.TempDir(), "unet")
			if err := u.Save(dir); err != nil {
				t.Fatal(err)
			}
			back, err := LoadUNet(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Config(), u.Config()) {
				t.Fatalf("config after Save/Load:\n%+v\nwant\n%+v", back.Config(), u.Config())
			}
			shape := [4]int{1, 3, 8, 8}
			sample, enc := normalNoise(192, 3), normalNoise(60, 4)
			a, _ := u.Predict(ctx, sample, shape, []float64{3}, enc, [3]int{1, 5, 12})
			b, err := back.Predict(ctx, sample, shape, []float64{3}, enc, [3]int{1, 5, 12})
			if err != nil || !slices.Equal(a, b) {
				t.Fatalf("reloaded U-Net differs (err %v)", err)
			}
		})
	}
	// NewUNet is deterministic in its seed.
	a, _ := NewUNet(cfg, 5)
	b, _ := NewUNet(cfg, 5)
	c, _ := NewUNet(cfg, 6)
	path := "/unet/conv_in/weight"
	va, vb, vc := a.Store().GetVariable(path).MustValue(), b.Store().GetVariable(path).MustValue(), c.Store().GetVariable(path).MustValue()
	fa, fb, fc := graphtest.FromTensor(va).Data, graphtest.FromTensor(vb).Data, graphtest.FromTensor(vc).Data
	if !slices.Equal(fa, fb) || slices.Equal(fa, fc) {
		t.Fatal("NewUNet's initialisation is not a function of its seed")
	}
}

// resizeNearest picks torch's rows: min(floor(i·in/out), in-1) with the scale in float32.
func TestUNetResizeNearest(t *testing.T) {
	for _, c := range [][4]int{{4, 3, 8, 6}, {4, 3, 7, 5}, {3, 5, 5, 11}, {5, 2, 3, 7}, {2, 2, 2, 2}} {
		h, w, oh, ow := c[0], c[1], c[2], c[3]
		x := graphtest.Random(1, 1, h, w, 2)
		got := graphtest.Run(t, func(in []*Node) []*Node { return []*Node{resizeNearest(in[0], oh, ow)} }, x)[0]
		src := func(i, in, out int) int { return min(int(float32(i)*(float32(in)/float32(out))), in-1) }
		for i := range oh {
			for j := range ow {
				for k := range 2 {
					want := x.Data[(src(i, h, oh)*w+src(j, w, ow))*2+k]
					if g := got.Data[(i*ow+j)*2+k]; g != want {
						t.Fatalf("%v: out[%d,%d,%d] = %v, want %v", c, i, j, k, g, want)
					}
				}
			}
		}
	}
}
