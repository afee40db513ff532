package diffusion

import (
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gorpo/gorpo/internal/fixtures"
)

// CopyFrozenAs(BFloat16) stores every matrix and kernel rounded to bfloat16 (as the graphs round)
// and every vector in float32, not trainable; Float32 is CopyTo; other dtypes are refused.
func TestCopyFrozenAs(t *testing.T) {
	u, err := LoadUNet(fixtures.Path(t, "parity", "unet_sd1"))
	if err != nil {
		t.Fatal(err)
	}
	store := u.Store()
	if err := u.CopyFrozenAs(store, "/frozen", dtypes.BFloat16); err != nil {
		t.Fatal(err)
	}
	matrices, vectors := 0, 0
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), UNetScope+"/") {
			continue
		}
		c := store.GetVariable("/frozen/" + strings.TrimPrefix(v.Path(), UNetScope+"/"))
		if c == nil || c.Trainable {
			t.Fatalf("%s: copy %v missing or trainable", v.Path(), c)
		}
		orig := tensors.MustCopyFlatData[float32](v.MustValue())
		if v.Shape().Rank() < 2 {
			vectors++
			if c.DType() != dtypes.Float32 {
				t.Fatalf("%s: vector copied as %s, want float32", v.Path(), c.DType())
			}
			continue
		}
		matrices++
		if c.DType() != dtypes.BFloat16 {
			t.Fatalf("%s: copied as %s, want bfloat16", v.Path(), c.DType())
		}
		got := tensors.MustCopyFlatData[bfloat16.BFloat16](c.MustValue())
		for i, x := range orig {
			if got[i] != bfloat16.FromFloat32(x) {
				t.Fatalf("%s[%d] = %v, want %v rounded", v.Path(), i, got[i].Float32(), x)
			}
		}
	}
	if matrices == 0 || vectors == 0 {
		t.Fatalf("%d matrices and %d vectors copied", matrices, vectors)
	}
	if err := u.CopyFrozenAs(store, "/f64", dtypes.Float64); err == nil {
		t.Fatal("a frozen copy in float64 was accepted")
	}
}
