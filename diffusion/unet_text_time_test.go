package diffusion

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// textTimeReference is diffusers' TextTimeEmbedding computed on the host in float64 from the
// variables' values, following the PyTorch code line by line (its reshapes included), so that
// a head-order or scaling mistake in the graph shows.
func textTimeReference(t *testing.T, store *model.Store, scope string, ctx []float64, b, l, c, heads, out int) []float64 {
	get := func(name string) []float64 {
		v := store.GetVariable(scope + "/" + name)
		if v == nil {
			t.Fatalf("no variable %s/%s", scope, name)
		}
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		return graphtest.Float64s(tensors.MustCopyFlatData[float32](val))
	}
	layerNorm := func(x []float64, n int, w, bias []float64) []float64 {
		y := make([]float64, len(x))
		for r := 0; r < len(x)/n; r++ {
			row := x[r*n : (r+1)*n]
			var m, v float64
			for _, a := range row {
				m += a / float64(n)
			}
			for _, a := range row {
				v += (a - m) * (a - m) / float64(n)
			}
			for i, a := range row {
				y[r*n+i] = (a-m)/math.Sqrt(v+1e-5)*w[i] + bias[i]
			}
		}
		return y
	}
	linear := func(x []float64, in, outDim int, w, bias []float64) []float64 {
		rows := len(x) / in
		y := make([]float64, rows*outDim)
		for r := range rows {
			for o := range outDim {
				s := bias[o]
				for i := range in {
					s += x[r*in+i] * w[o*in+i]
				}
				y[r*outDim+o] = s
			}
		}
		return y
	}
	h := layerNorm(ctx, c, get("norm1/weight"), get("norm1/bias"))
	pos := get("pool/positional_embedding")
	dph := c / heads
	pooled := make([]float64, b*c)
	for bi := range b {
		x := h[bi*l*c : (bi+1)*l*c]
		cls := make([]float64, c)
		for j := range c {
			for i := range l {
				cls[j] += x[i*c+j] / float64(l)
			}
			cls[j] += pos[j]
		}
		all := append(append([]float64{}, cls...), x...) // [l+1, c]
		q := linear(cls, c, c, get("pool/q_proj/weight"), get("pool/q_proj/bias"))
		k := linear(all, c, c, get("pool/k_proj/weight"), get("pool/k_proj/bias"))
		v := linear(all, c, c, get("pool/v_proj/weight"), get("pool/v_proj/bias"))
		scale := 1 / math.Sqrt(math.Sqrt(float64(dph)))
		for hd := range heads { // x.view(bs, -1, heads, dph): head hd owns channels hd·dph …
			w := make([]float64, l+1)
			var mx float64 = math.Inf(-1)
			for s := range l + 1 {
				for j := range dph {
					w[s] += q[hd*dph+j] * scale * k[s*c+hd*dph+j] * scale
				}
				mx = math.Max(mx, w[s])
			}
			var z float64
			for s := range w {
				w[s] = math.Exp(w[s] - mx)
				z += w[s]
			}
			for j := range dph {
				var a float64
				for s := range w {
					a += w[s] / z * v[s*c+hd*dph+j]
				}
				pooled[bi*c+hd*dph+j] = a // a.reshape(bs, -1, 1): head-major
			}
		}
	}
	p := linear(pooled, c, out, get("proj/weight"), get("proj/bias"))
	return layerNorm(p, out, get("norm2/weight"), get("norm2/bias"))
}

// The text-time embedding (addition_embed_type "text") matches a float64 transcription of
// diffusers' TextTimeEmbedding, and lives under diffusers' names.
func TestTextTimeEmbedding(t *testing.T) {
	const b, l, c, heads, out = 3, 7, 16, 4, 24
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(5))
	ctx := graphtest.Random(11, b, l, c)
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, x *Node) *Node {
		return textTimeEmbedding(scope.In("add_embedding"), x, heads, out)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	if _, err := exec.Exec(tensors.FromFlatDataAndDimensions(ctx.Data, b, l, c)); err != nil {
		t.Fatal(err)
	}
	// Randomise the norms' affine weights (initialised to 1 and 0) so that they are exercised too.
	for i, name := range []string{"norm1/weight", "norm1/bias", "norm2/weight", "norm2/bias"} {
		v := store.GetVariable("/add_embedding/" + name)
		r := graphtest.Random(uint64(20+i), v.Shape().Dimensions...)
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(r.Data, v.Shape().Dimensions...)); err != nil {
			t.Fatal(err)
		}
	}
	outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(ctx.Data, b, l, c))
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float32](outs[0])
	want := textTimeReference(t, store, "/add_embedding", graphtest.Float64s(ctx.Data), b, l, c, heads, out)
	w32 := make([]float32, len(want))
	for i, v := range want {
		w32[i] = float32(v)
	}
	graphtest.AssertClose(t, "text-time embedding", got, w32, 1e-5)
	for _, name := range []string{"norm1/weight", "norm1/bias", "pool/positional_embedding", "pool/q_proj/weight",
		"pool/k_proj/bias", "pool/v_proj/weight", "proj/weight", "proj/bias", "norm2/weight"} {
		if store.GetVariable("/add_embedding/"+name) == nil {
			t.Errorf("no variable add_embedding.%s", name)
		}
	}
}

// A U-Net with addition_embed_type "text" builds, its prediction depends on the prompt through
// the pooled embedding even where no block has cross-attention, and a bad head count is refused
// by name.
func TestUNetTextTimeConfig(t *testing.T) {
	cfg := DefaultUNetConfig()
	cfg.BlockOutChannels = []int{8, 16}
	cfg.DownBlockTypes = []string{"DownBlock2D", "DownBlock2D"}
	cfg.UpBlockTypes = []string{"UpBlock2D", "UpBlock2D"}
	cfg.MidBlockType = nil
	groups := 4
	cfg.NormNumGroups = &groups
	cfg.LayersPerBlock = Int(1)
	cfg.CrossAttentionDim = Int(8)
	text := "text"
	cfg.AdditionEmbedType = &text
	cfg.AdditionEmbedTypeNumHeads = 3
	if err := cfg.Validate(); err == nil {
		t.Fatal("addition_embed_type_num_heads 3 for cross_attention_dim 8: no error")
	}
	cfg.AdditionEmbedTypeNumHeads = 2
	u, err := NewUNet(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if u.Store().GetVariable(UNetScope+"/add_embedding/pool/positional_embedding") == nil {
		t.Fatal("no add_embedding.pool.positional_embedding")
	}
	x := graphtest.Random(1, 1, 8, 8, 4)
	ctxA, ctxB := graphtest.Random(2, 1, 5, 8), graphtest.Random(3, 1, 5, 8)
	predict := func(c graphtest.Array) []float32 {
		p, err := u.Predict(t.Context(), x.Data, [4]int{1, 4, 8, 8}, []float64{500}, c.Data, [3]int{1, 5, 8})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, bb := predict(ctxA), predict(ctxB)
	diff := 0.0
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i]-bb[i])))
	}
	if diff == 0 {
		t.Error("two prompts give the same prediction: the text embedding does not reach the ResNets")
	}
}
