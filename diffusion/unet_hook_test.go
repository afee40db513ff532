package diffusion

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/nn"
)

// ForwardWith calls the attention hook once per projection (to_q, to_k, to_v, to_out.0 of every
// attn1 and attn2) with the projection's own scope, the scope holding its "weight".
func TestUNetForwardWithAttentionScopes(t *testing.T) {
	f := loadUNetFixture(t, "unet_sd1")
	u, err := LoadUNet(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for v := range u.Store().IterVariables() {
		p, ok := strings.CutSuffix(v.Path(), "/weight")
		if !ok {
			continue
		}
		for _, proj := range []string{"/to_q", "/to_k", "/to_v", "/to_out/0"} {
			if strings.HasSuffix(p, proj) {
				want = append(want, p)
			}
		}
	}
	var got []string
	record := func(scope *model.Scope, x *Node, outDim int, bias bool) *Node {
		got = append(got, scope.Scope())
		if scope.GetVariable("weight") == nil {
			t.Errorf("%s: no weight variable in the hook's scope", scope.Scope())
		}
		return nn.Linear(scope, x, outDim, bias)
	}
	g := NewGraph(backend.MustDefault(), "hook")
	defer g.Finalize()
	cfg := u.Config()
	x := Parameter(g, "x", shapes.Make(dtypes.Float32, 1, 8, 8, cfg.InChannels))
	ts := Parameter(g, "t", shapes.Make(dtypes.Float32, 1))
	c := Parameter(g, "c", shapes.Make(dtypes.Float32, 1, 3, cfg.CrossAttentionDim.At(0)))
	u.ForwardWith(u.Store().Scope(UNetScope), x, ts, c, record)
	sort.Strings(got)
	sort.Strings(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("the hook saw %d scopes %v,\nwant the %d projections %v", len(got), got, len(want), want)
	}
	t.Logf("%d attention projections, e.g. %s", len(got), got[0])
}

// SetAttentionLinear changes what Predict computes (its compiled graph is dropped), and nil
// restores the plain U-Net exactly.
func TestUNetSetAttentionLinear(t *testing.T) {
	f := loadUNetFixture(t, "unet_sd1")
	u, err := LoadUNet(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	predict := func() []float32 {
		t.Helper()
		out, err := u.Predict(context.Background(), f.sample, f.shape, f.timesteps, f.context, f.ctxShape)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	base := predict()
	calls := 0
	u.SetAttentionLinear(func(scope *model.Scope, x *Node, outDim int, bias bool) *Node {
		calls++
		return MulScalar(nn.Linear(scope, x, outDim, bias), 0.5)
	})
	hooked := predict()
	if calls == 0 || slices.Equal(hooked, base) {
		t.Fatalf("the hook was called %d times and the prediction changed: %v", calls, !slices.Equal(hooked, base))
	}
	u.SetAttentionLinear(nil)
	if again := predict(); !slices.Equal(again, base) {
		t.Fatalf("without the hook: relative error %.3g from the first prediction, want 0", fixtures.RelErr(again, base))
	}
}
