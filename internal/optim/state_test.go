package optim

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/safetensors"
)

// SaveState streams the moments: 32 MB of state is written with less than one 4 MB variable
// allocated (copying each into a safetensors.Tensor first allocated 64 MB), and reads back.
func TestSaveStateStreams(t *testing.T) {
	const count, elems = 8, 1 << 20
	store := model.NewStore()
	for i := range count {
		v := make([]float32, elems)
		for j := range v {
			v[j] = float32(i*elems + j)
		}
		kind := []string{"exp_avg", "exp_avg_sq"}[i%2]
		if _, err := store.CreateVariable(fmt.Sprintf("%s/%s/unet/blocks/%d/weight", DefaultScope, kind, i/2), tensors.FromFlatDataAndDimensions(v, elems)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.CreateVariable(DefaultScope+"/step", tensors.FromValue(int64(40))); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "optimizer.safetensors")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := SaveState(store, "", path); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("saving %d MB of optimizer state allocated %.2f MB", count*elems*4>>20, float64(allocated)/(1<<20))
	if allocated >= 4*elems {
		t.Errorf("saving %d moments of %d MB allocated %.1f MB, want less than one (the state is copied instead of streamed)",
			count, 4*elems>>20, float64(allocated)/(1<<20))
	}
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != count+1 || f.Metadata["format"] != "gorpo-adamw" {
		t.Fatalf("%d tensors, metadata %v", f.Len(), f.Metadata)
	}
	v, _, err := f.Float32("exp_avg_sq/unet/blocks/2/weight")
	if err != nil || v[17] != float32(5*elems+17) {
		t.Fatalf("exp_avg_sq of block 2: %v", err)
	}
	loaded := model.NewStore()
	if err := LoadState(loaded, "", path); err != nil {
		t.Fatal(err)
	}
	if got := tensors.ToScalar[int64](loaded.GetVariable(DefaultScope + "/step").MustValue()); got != 40 {
		t.Fatalf("step %d, want 40", got)
	}
}
