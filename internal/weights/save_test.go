package weights

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/safetensors"
)

// bigStore holds count float32 variables of elems values each under /unet, and a step counter.
func bigStore(t testing.TB, count, elems int) *model.Store {
	t.Helper()
	store := model.NewStore()
	for i := range count {
		v := make([]float32, elems)
		for j := range v {
			v[j] = float32(i) + float32(j%1000)/1000
		}
		if _, err := store.CreateVariable(fmt.Sprintf("/unet/blocks/%d/weight", i), tensors.FromFlatDataAndDimensions(v, elems/4, 4)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.CreateVariable("/unet/step", tensors.FromValue(int64(7))); err != nil {
		t.Fatal(err)
	}
	return store
}

// Save streams: saving 32 MB of variables allocates less than one variable's 4 MB, where
// copying every value into a safetensors.Tensor first (what Save did before) allocates twice the
// model. The file is the one the in-memory path writes, byte for byte.
func TestSaveStreamsVariables(t *testing.T) {
	const count, elems = 8, 1 << 20
	store := bigStore(t, count, elems)
	dir := t.TempDir()
	streamed := filepath.Join(dir, "streamed.safetensors")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := Save(store, "/unet", streamed, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("saving %d MB of variables allocated %.2f MB", count*elems*4>>20, float64(allocated)/(1<<20))
	if allocated >= 4*elems {
		t.Errorf("saving %d variables of %d MB allocated %.1f MB, want less than one variable (the values are copied instead of streamed)",
			count, 4*elems>>20, float64(allocated)/(1<<20))
	}

	ts, err := Tensors(store, "/unet")
	if err != nil {
		t.Fatal(err)
	}
	buffered := filepath.Join(dir, "buffered.safetensors")
	if err := safetensors.Write(buffered, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(streamed)
	b, _ := os.ReadFile(buffered)
	if !bytes.Equal(a, b) {
		t.Fatalf("Save wrote %d bytes that differ from the in-memory path's %d", len(a), len(b))
	}
	f, err := safetensors.Open(streamed)
	if err != nil {
		t.Fatal(err)
	}
	if step, _, err := f.Int64("step"); err != nil || step[0] != 7 {
		t.Fatalf("step = %v, %v", step, err)
	}
	if w, shape, err := f.Float32("blocks.3.weight"); err != nil || shape[0] != elems/4 || w[1001] != 3.001 {
		t.Fatalf("blocks.3.weight: %v %v", shape, err)
	}
}

// A variable of a dtype checkpoints do not hold is refused by name before anything is written.
func TestSourcesRefuseOtherDTypes(t *testing.T) {
	store := model.NewStore()
	if _, err := store.CreateVariable("/unet/mask", tensors.FromValue([]int32{1, 2})); err != nil {
		t.Fatal(err)
	}
	_, err := Sources(store, "/unet")
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("/unet/mask has dtype Int32, only float32 and int64 are saved")) {
		t.Fatalf("err = %v", err)
	}
}

// BenchmarkSave saves 256 MB of float32 variables (64 of 4 MB) as a model file, fsync included:
// MB/s from the variables to the disk.
func BenchmarkSave(b *testing.B) {
	const count, elems = 64, 1 << 20
	store := bigStore(b, count, elems)
	path := filepath.Join(b.TempDir(), "unet.safetensors")
	b.SetBytes(count * elems * 4)
	b.ReportAllocs()
	for b.Loop() {
		if err := Save(store, "/unet", path, nil); err != nil {
			b.Fatal(err)
		}
	}
}
