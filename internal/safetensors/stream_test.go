package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
)

// legacyBytes is the file the writer of commit e07feaf (before streaming) produced for tensors:
// every tensor's bytes in memory, the header, then the data in name order. Kept verbatim in
// substance as the reference the streaming writer must match byte for byte.
func legacyBytes(t *testing.T, tensors []*Tensor, metadata map[string]string) []byte {
	t.Helper()
	sorted := slices.Clone(tensors)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	header := make(map[string]any, len(sorted)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var offset int64
	for _, t := range sorted {
		want := t.Size() * ElemSize(t.DType)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = headerEntry{DType: t.DType, Shape: shape, Offsets: [2]int64{offset, offset + int64(want)}}
		offset += int64(want)
	}
	hjson, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	for len(hjson)%8 != 0 {
		hjson = append(hjson, ' ')
	}
	var b bytes.Buffer
	b.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(hjson))))
	b.Write(hjson)
	for _, t := range sorted {
		b.Write(t.Data)
	}
	return b.Bytes()
}

// mixedTensors covers every shape of entry a checkpoint holds: matrices, a scalar, an empty
// tensor, integer steps, half-precision data, names that sort around "__metadata__".
func mixedTensors() []*Tensor {
	r := rand.New(rand.NewPCG(1, 2))
	f := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = r.Float32()*2 - 1
		}
		return v
	}
	half := make([]byte, 2*6)
	for i := range half {
		half[i] = byte(r.Uint32())
	}
	return []*Tensor{
		FromFloat32("up_blocks.0.resnets.0.conv1.weight", []int{8, 4, 3, 3}, f(8*4*3*3)),
		FromFloat32("Upper", []int{3}, f(3)),
		FromFloat32("conv_in.bias", []int{8}, f(8)),
		FromFloat32("scalar", nil, f(1)),
		FromFloat32("empty", []int{0, 5}, nil),
		FromInt64("step", []int{}, []int64{12345}),
		{Name: "half", DType: "F16", Shape: []int{2, 3}, Data: half},
		FromFloat32("a", []int{1000}, f(1000)),
	}
}

func TestWriteSourcesMatchesLegacyWriter(t *testing.T) {
	dir := t.TempDir()
	ts := mixedTensors()
	for _, meta := range []map[string]string{nil, {"format": "pt", "lora_adapter_metadata": `{"unet.r": 4}`}} {
		want := legacyBytes(t, ts, meta)

		// Write, the in-memory wrapper.
		p := filepath.Join(dir, "write.safetensors")
		if err := Write(p, ts, meta); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
			t.Fatalf("Write (metadata %v): %d bytes differ from the legacy writer's %d", meta, len(got), len(want))
		}

		// Sources given in another order, each writing its bytes in odd-sized pieces.
		var sources []Source
		for _, tt := range slices.Backward(ts) {
			data := tt.Data
			sources = append(sources, Source{Name: tt.Name, DType: tt.DType, Shape: tt.Shape, WriteData: func(w io.Writer) error {
				for d := data; len(d) > 0; {
					n := min(len(d), 7)
					if _, err := w.Write(d[:n]); err != nil {
						return err
					}
					d = d[n:]
				}
				return nil
			}})
		}
		p = filepath.Join(dir, "sources.safetensors")
		if err := WriteSources(p, sources, meta); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, want) {
			t.Fatalf("WriteSources (metadata %v): %d bytes differ from the legacy writer's %d", meta, len(got), len(want))
		}
		f, err := Parse(got)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range ts {
			back, err := f.Tensor(tt.Name)
			if err != nil || !bytes.Equal(back.Data, tt.Data) || back.DType != tt.DType || back.Size() != tt.Size() {
				t.Fatalf("tensor %q does not read back: %v", tt.Name, err)
			}
		}
	}
}

// A source that fails or writes the wrong number of bytes fails the write with an error naming
// the tensor, and the previous file stays as it was with no temporary file left beside it.
func TestWriteSourcesErrorsKeepPrevious(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "w.safetensors")
	prev := []*Tensor{FromFloat32("w", []int{2}, []float32{1, 2})}
	if err := Write(p, prev, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	good := func(name string, n int) Source {
		return FromFloat32(name, []int{n}, make([]float32, n)).Source()
	}
	writes := func(b []byte) func(io.Writer) error {
		return func(w io.Writer) error { _, err := w.Write(b); return err }
	}
	boom := errors.New("boom")
	cases := []struct {
		name string
		src  Source
		want string
	}{
		{"short", Source{Name: "x", DType: "F32", Shape: []int{2}, WriteData: writes(make([]byte, 7))}, `tensor "x": its source wrote 7 bytes, want 8`},
		{"long", Source{Name: "x", DType: "F32", Shape: []int{2}, WriteData: writes(make([]byte, 9))}, `tensor "x": source wrote 1 bytes past`},
		{"failing", Source{Name: "x", DType: "F32", Shape: []int{2}, WriteData: func(io.Writer) error { return boom }}, `tensor "x": boom`},
		{"dtype", Source{Name: "x", DType: "Q4", Shape: []int{2}, WriteData: writes(nil)}, `tensor "x": unknown dtype "Q4"`},
		{"shape", Source{Name: "x", DType: "F32", Shape: []int{-1}, WriteData: writes(nil)}, `tensor "x": shape [-1]`},
		{"no producer", Source{Name: "x", DType: "F32", Shape: []int{2}}, `tensor "x": no WriteData`},
		{"duplicate", good("a", 1), `duplicate tensor name "a"`},
		{"reserved", Source{Name: "__metadata__", DType: "F32", Shape: []int{1}, WriteData: writes(make([]byte, 4))}, `"__metadata__" is reserved`},
	}
	for _, c := range cases {
		err := WriteSources(p, []Source{good("a", 3), c.src, good("z", 5)}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want one naming %s and containing %q", c.name, err, p, c.want)
		}
		if !errors.Is(err, boom) && c.name == "failing" {
			t.Errorf("failing: err = %v does not wrap the source's error", err)
		}
		if after, _ := os.ReadFile(p); !bytes.Equal(after, before) {
			t.Fatalf("%s: the previous file changed", c.name)
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{"w.safetensors"}) {
			t.Fatalf("%s: folder holds %v, want only w.safetensors", c.name, names)
		}
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Streaming's promise, checked by what the write allocates: a 64 MB file of 16 tensors whose
// sources write from memory they already hold must cost the writer less than one tensor's
// size (its write buffer and the header). A writer that gathered the tensors' bytes before
// writing them would allocate the whole 64 MB.
func TestWriteSourcesAllocatesLessThanOneTensor(t *testing.T) {
	const tensorBytes, count = 4 << 20, 16
	data := make([]byte, tensorBytes)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var sources []Source
	for i := range count {
		sources = append(sources, Source{Name: fmt.Sprintf("t%02d", i), DType: "F32", Shape: []int{tensorBytes / 4},
			WriteData: func(w io.Writer) error { _, err := w.Write(data); return err }})
	}
	p := filepath.Join(t.TempDir(), "big.safetensors")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := WriteSources(p, sources, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("writing %d MB allocated %.2f MB", count*tensorBytes>>20, float64(allocated)/(1<<20))
	if allocated >= tensorBytes {
		t.Errorf("writing %d tensors of %d MB allocated %.1f MB, want less than one tensor (the data is buffered instead of streamed)",
			count, tensorBytes>>20, float64(allocated)/(1<<20))
	}
	if st, err := os.Stat(p); err != nil || st.Size() < count*tensorBytes {
		t.Fatalf("file: %v, %v", st, err)
	}
}

func TestWriteNative(t *testing.T) {
	vals := []uint32{0x01020304, 0xa0b0c0d0, 7}
	native := make([]byte, 0, 12)
	for _, v := range vals {
		native = binary.NativeEndian.AppendUint32(native, v)
	}
	var b bytes.Buffer
	if err := WriteNative(&b, native, 4); err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if got := binary.LittleEndian.Uint32(b.Bytes()[4*i:]); got != v {
			t.Errorf("element %d: %#x, want %#x", i, got, v)
		}
	}
	// The byte-swapping path of big-endian hosts, through a buffer smaller than the data.
	saved := hostLittleEndian
	hostLittleEndian = false
	defer func() { hostLittleEndian = saved }()
	big := make([]byte, 0, 4*40000)
	for i := range 40000 {
		big = binary.BigEndian.AppendUint32(big, uint32(i)*2654435761)
	}
	b.Reset()
	if err := WriteNative(&b, big, 4); err != nil {
		t.Fatal(err)
	}
	for i := range 40000 {
		if got, want := binary.LittleEndian.Uint32(b.Bytes()[4*i:]), uint32(i)*2654435761; got != want {
			t.Fatalf("swapped element %d: %#x, want %#x", i, got, want)
		}
	}
	hostLittleEndian = saved
	if err := WriteNative(&b, native[:5], 4); err == nil {
		t.Error("5 bytes of 4-byte elements accepted")
	}
	if err := WriteNative(&b, native, 3); err == nil {
		t.Error("3-byte elements accepted")
	}
}

// BenchmarkWriteSources writes a 256 MB checkpoint of 64 F32 tensors of 4 MB (the size of an
// SD-1.5 attention block's weights) through the streaming writer, fsync included; MB/s is the
// rate from memory to disk.
func BenchmarkWriteSources(b *testing.B) {
	const tensorBytes, count = 4 << 20, 64
	data := make([]byte, tensorBytes)
	for i := range data {
		data[i] = byte(i * 13)
	}
	sources := make([]Source, count)
	for i := range sources {
		sources[i] = Source{Name: fmt.Sprintf("down_blocks.%d.weight", i), DType: "F32", Shape: []int{tensorBytes / 4},
			WriteData: func(w io.Writer) error { return WriteNative(w, data, 4) }}
	}
	p := filepath.Join(b.TempDir(), "bench.safetensors")
	b.SetBytes(count * tensorBytes)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteSources(p, sources, nil); err != nil {
			b.Fatal(err)
		}
	}
}
