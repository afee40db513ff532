package weights

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/safetensors"
)

// tinyModel declares two linear layers under upstream-style scopes.
func tinyModel(scope *model.Scope, in []*Node) {
	x := in[0]
	blocks := scope.In("unet").In("blocks")
	for i, dims := range [][2]int{{4, 3}, {2, 4}} {
		s := blocks.In("%d", i).In("proj")
		w := s.VariableWithShape("weight", shapes.Make(dtypes.Float32, dims[0], dims[1])).NodeValue(x.Graph())
		b := s.VariableWithShape("bias", shapes.Make(dtypes.Float32, dims[0])).NodeValue(x.Graph())
		x = Add(Dot(x, w).General([]int{1}, nil, []int{1}, nil), ExpandAxes(b, 0))
	}
}

func declare(t *testing.T) *model.Store {
	t.Helper()
	store := model.NewStore()
	if err := Declare(backend.MustDefault(), store, tinyModel, shapes.Make(dtypes.Float32, 5, 3)); err != nil {
		t.Fatal(err)
	}
	return store
}

func writeCheckpoint(t *testing.T, dir string, tensors ...*safetensors.Tensor) *safetensors.File {
	t.Helper()
	p := filepath.Join(dir, "model.safetensors")
	if err := safetensors.Write(p, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func seq(n int, start float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = start + float32(i)/8
	}
	return v
}

func goodTensors() []*safetensors.Tensor {
	return []*safetensors.Tensor{
		safetensors.FromFloat32("blocks.0.proj.weight", []int{4, 3}, seq(12, 0)),
		safetensors.FromFloat32("blocks.0.proj.bias", []int{4}, seq(4, 1)),
		safetensors.FromFloat32("blocks.1.proj.weight", []int{2, 4}, seq(8, -1)),
		safetensors.FromFloat32("blocks.1.proj.bias", []int{2}, seq(2, 2)),
	}
}

func TestNames(t *testing.T) {
	if got := UpstreamName("/unet", "/unet/down_blocks/0/conv/weight"); got != "down_blocks.0.conv.weight" {
		t.Fatal(got)
	}
	if got := VariablePath("/unet", "down_blocks.0.conv.weight"); got != "/unet/down_blocks/0/conv/weight" {
		t.Fatal(got)
	}
}

// Bind, Save, read back: same names, shapes and values.
func TestBindSaveRoundTrip(t *testing.T) {
	dir := t.TempDir()
	f := writeCheckpoint(t, dir, goodTensors()...)
	store := declare(t)
	if err := Bind(store, "/unet", f, BindOptions{}); err != nil {
		t.Fatal(err)
	}
	v := store.GetVariable("/unet/blocks/1/proj/weight")
	if got := tensors.MustCopyFlatData[float32](v.MustValue()); got[3] != seq(8, -1)[3] {
		t.Fatalf("bound value %v", got)
	}
	out := filepath.Join(dir, "saved.safetensors")
	if err := Save(store, "/unet", out, nil); err != nil {
		t.Fatal(err)
	}
	back, err := safetensors.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(back.Names(), ",") != strings.Join(f.Names(), ",") {
		t.Fatalf("saved names %v, want %v", back.Names(), f.Names())
	}
	for _, name := range f.Names() {
		a, sa, _ := f.Float32(name)
		b, sb, _ := back.Float32(name)
		if len(sa) != len(sb) || len(a) != len(b) {
			t.Fatalf("%s: shape %v vs %v", name, sa, sb)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d]: %v vs %v", name, i, a[i], b[i])
			}
		}
	}
}

// Every problem is reported at once, by name, and nothing is bound.
func TestBindReportsEverything(t *testing.T) {
	ts := goodTensors()
	ts[0] = safetensors.FromFloat32("blocks.0.proj.weight", []int{3, 4}, seq(12, 0)) // mis-shaped
	ts = ts[:3]                                                                      // blocks.1.proj.bias missing
	ts = append(ts, safetensors.FromFloat32("blocks.9.extra", []int{1}, []float32{1}))
	f := writeCheckpoint(t, t.TempDir(), ts...)
	store := declare(t)
	err := Bind(store, "/unet", f, BindOptions{})
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("err = %v, want ErrMismatch", err)
	}
	var me *MismatchError
	if !errors.As(err, &me) || len(me.Missing) != 1 || len(me.MisShaped) != 1 || len(me.Unexpected) != 1 {
		t.Fatalf("mismatch = %+v", me)
	}
	for _, want := range []string{"blocks.1.proj.bias [2]", "blocks.0.proj.weight: checkpoint [3 4], model [4 3]", "blocks.9.extra"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if store.GetVariable("/unet/blocks/1/proj/weight").HasValue() {
		t.Error("a variable was bound although the checkpoint was rejected")
	}
	// Ignore and Optional turn both kinds of extras into non-errors.
	ts2 := append(goodTensors()[:3], safetensors.FromFloat32("position_ids", []int{1}, []float32{0}))
	f2 := writeCheckpoint(t, t.TempDir(), ts2...)
	err = Bind(declare(t), "/unet", f2, BindOptions{
		Ignore:   func(n string) bool { return n == "position_ids" },
		Optional: func(n string) bool { return strings.HasSuffix(n, ".bias") },
	})
	if err != nil {
		t.Fatal(err)
	}
}

// F16 and BF16 checkpoints load into float32 variables.
func TestBindHalfPrecision(t *testing.T) {
	ts := goodTensors()
	w := ts[0]
	vals, _ := w.Float32()
	half := make([]byte, 2*len(vals))
	for i, v := range vals { // exact in bf16: multiples of 1/8 below 2
		bits := uint32(0)
		if v != 0 {
			bits = math.Float32bits(v) >> 16
		}
		half[2*i] = byte(bits)
		half[2*i+1] = byte(bits >> 8)
	}
	ts[0] = &safetensors.Tensor{Name: w.Name, DType: "BF16", Shape: w.Shape, Data: half}
	f := writeCheckpoint(t, t.TempDir(), ts...)
	store := declare(t)
	if err := Bind(store, "/unet", f, BindOptions{}); err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float32](store.GetVariable("/unet/blocks/0/proj/weight").MustValue())
	for i := range got {
		if got[i] != vals[i] {
			t.Fatalf("bf16 value %d: %v, want %v", i, got[i], vals[i])
		}
	}
}

// A failing Save leaves the previous file intact.
func TestSaveIsAtomic(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "unet.safetensors")
	if err := os.WriteFile(out, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	store := declare(t) // declared but never bound: values missing
	if err := Save(store, "/unet", out, nil); err == nil {
		t.Fatal("saving unset variables succeeded")
	}
	if b, _ := os.ReadFile(out); string(b) != "previous" {
		t.Fatalf("file changed to %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left files behind: %v", entries)
	}
}
