package safetensors

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.safetensors")
	in := []*Tensor{
		FromFloat32("w", []int{2, 3}, []float32{1, 2, 3, 4, 5, -6.5}),
		FromInt64("steps", []int{2}, []int64{-1, 1 << 40}),
		FromFloat32("scalar", []int{}, []float32{3}),
	}
	if err := Write(p, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	if hl := binary.LittleEndian.Uint64(raw); hl%8 != 0 {
		t.Errorf("header length %d not padded to 8", hl)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" || strings.Join(f.Names(), ",") != "scalar,steps,w" {
		t.Fatalf("metadata %v names %v", f.Metadata, f.Names())
	}
	w, shape, _ := f.Float32("w")
	if w[5] != -6.5 || shape[1] != 3 {
		t.Fatalf("w = %v %v", w, shape)
	}
	s, _, _ := f.Int64("steps")
	if s[1] != 1<<40 {
		t.Fatalf("steps = %v", s)
	}
	if _, err := f.Tensor("nope"); !errors.Is(err, ErrMissingTensor) {
		t.Fatalf("missing tensor err = %v", err)
	}
	if _, _, err := f.Float32("steps"); err == nil {
		t.Fatal("Float32 of an I64 tensor accepted")
	}
}

func TestHalfConversions(t *testing.T) {
	cases := map[uint16]float32{0x3c00: 1, 0xc000: -2, 0x3555: 0.333251953125, 0x0001: 5.960464477539063e-08, 0x7bff: 65504, 0x0000: 0}
	for h, want := range cases {
		if got := HalfToFloat32(h); got != want {
			t.Errorf("HalfToFloat32(%#x) = %v, want %v", h, got, want)
		}
	}
	if !math.IsInf(float64(HalfToFloat32(0x7c00)), 1) || !math.IsNaN(float64(HalfToFloat32(0x7e00))) {
		t.Error("inf/nan conversion")
	}
	bf := &Tensor{Name: "b", DType: "BF16", Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x40, 0xc0}}
	v, err := bf.Float32()
	if err != nil || v[0] != 1 || v[1] != -3 {
		t.Fatalf("bf16 = %v %v", v, err)
	}
}

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"short":    {1, 2, 3},
		"hugehdr":  append(binary.LittleEndian.AppendUint64(nil, 1<<40), '{', '}'),
		"badjson":  append(binary.LittleEndian.AppendUint64(nil, 3), '{', 'x', '}'),
		"overflow": withHeader(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8),
		"dtype":    withHeader(`{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}`, 1),
	}
	for name, data := range cases {
		p := filepath.Join(dir, name+".safetensors")
		os.WriteFile(p, data, 0o644)
		_, err := Open(p)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
	}
}

func withHeader(h string, bodyLen int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	b = append(b, h...)
	return append(b, make([]byte, bodyLen)...)
}

func TestShardedAndVariants(t *testing.T) {
	dir := t.TempDir()
	Write(filepath.Join(dir, "model-00001-of-00002.safetensors"), []*Tensor{FromFloat32("a", []int{1}, []float32{1})}, nil)
	Write(filepath.Join(dir, "model-00002-of-00002.safetensors"), []*Tensor{FromFloat32("b", []int{1}, []float32{2})}, nil)
	idx := `{"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(idx), 0o644)
	f, err := OpenWeights(dir, "model", "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 2 {
		t.Fatalf("%d tensors", f.Len())
	}
	// A variant wins when asked for and present.
	Write(filepath.Join(dir, "model.fp16.safetensors"), []*Tensor{FromFloat32("c", []int{1}, []float32{3})}, nil)
	f, err = OpenWeights(dir, "model", "fp16")
	if err != nil || !f.Has("c") {
		t.Fatalf("variant: %v %v", f, err)
	}
	// An index naming a tensor no shard holds is an error naming it.
	bad := `{"weight_map":{"a":"model-00001-of-00002.safetensors","zz":"model-00002-of-00002.safetensors"}}`
	os.WriteFile(filepath.Join(dir, "bad.safetensors.index.json"), []byte(bad), 0o644)
	if _, err := OpenSharded(filepath.Join(dir, "bad.safetensors.index.json")); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Fatalf("bad index err = %v", err)
	}
	if _, err := OpenWeights(t.TempDir(), "diffusion_pytorch_model", ""); err == nil || !strings.Contains(err.Error(), "diffusion_pytorch_model.safetensors") {
		t.Fatalf("empty folder err = %v", err)
	}
}
