package safetensors

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// Hostile headers are refused with an error naming the tensor, before any allocation sized by
// the header: the cases found by hand (issue 12) and the rules of the reference implementation.
func TestHostileHeaders(t *testing.T) {
	cases := []struct {
		name, header string
		body         int
		want         string
	}{
		{"product overflows", `{"w":{"dtype":"F32","shape":[4611686018427387905],"data_offsets":[0,4]}}`, 4, `"w": shape`},
		{"2^32 x 2^32, empty offsets", `{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, 0, `"w": shape`},
		{"product wraps to a small size", `{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}`, 0, `"w": shape`},
		{"negative dimension", `{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, 0, `"w": shape`},
		{"overlap", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12, "overlap"},
		{"same span twice", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4, "overlap"},
		{"gap", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8, "gap"},
		{"trailing bytes", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8, "ends at byte 4"},
		{"duplicate name", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8, `"a": named twice`},
		{"offsets past the end", `{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8, `"a": data offsets`},
		{"not an object", `[1,2]`, 0, "want an object"},
		{"trailing JSON", `{} {}`, 0, "trailing data"},
	}
	for _, c := range cases {
		_, err := Parse(withHeader(c.header, c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
	// The reference writer's space padding, an empty tensor and a scalar are fine.
	ok := `{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}    `
	f, err := Parse(withHeader(ok, 4))
	if err != nil || f.Len() != 2 {
		t.Fatalf("valid header: %v", err)
	}
}

// A Tensor built by hand with a wrong data length or an overflowing shape converts to an error,
// not a panic or a silent empty result.
func TestTensorConversionsCheckData(t *testing.T) {
	for _, tt := range []*Tensor{
		{Name: "short", DType: "F32", Shape: []int{2}, Data: make([]byte, 4)},
		{Name: "huge", DType: "F32", Shape: []int{1 << 32, 1 << 32}, Data: nil},
		{Name: "ints", DType: "I64", Shape: []int{3}, Data: make([]byte, 8)},
	} {
		var err error
		if tt.DType == "I64" {
			_, err = tt.Int64()
		} else {
			_, err = tt.Float32()
		}
		if err == nil || !strings.Contains(err.Error(), tt.Name) {
			t.Errorf("%s: err = %v, want an error naming it", tt.Name, err)
		}
	}
}

func TestNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(-1))
	p := filepath.Join(t.TempDir(), "w.safetensors")
	f64 := &Tensor{Name: "d", DType: "F64", Shape: []int{3}, Data: binary.LittleEndian.AppendUint64(
		binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(1)), math.Float64bits(math.Inf(1))), math.Float64bits(-2))}
	half := &Tensor{Name: "h", DType: "F16", Shape: []int{3}, Data: []byte{0x00, 0x3c, 0x00, 0x7e, 0x00, 0x7c}} // 1, NaN, +Inf
	bf := &Tensor{Name: "b", DType: "BF16", Shape: []int{2}, Data: []byte{0x80, 0x3f, 0xc0, 0x7f}}              // 1, NaN
	err := Write(p, []*Tensor{
		FromFloat32("clean", []int{3}, []float32{1, -2, math.MaxFloat32}),
		FromFloat32("dirty", []int{4}, []float32{1, nan, inf, 0}),
		FromInt64("ints", []int{1}, []int64{-1}),
		f64, half, bf,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(f.NonFinite(), "; ")
	want := "b (1 of 2 values); d (1 of 3 values); dirty (2 of 4 values); h (2 of 3 values)"
	if got != want {
		t.Errorf("NonFinite = %q, want %q", got, want)
	}
}

// FuzzParse: whatever the bytes, Parse returns a File whose tensors convert without panicking and
// whose data lies inside the input, or an error.
func FuzzParse(f *testing.F) {
	for _, h := range []string{
		`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}`,
		`{"a":{"dtype":"F16","shape":[1,2],"data_offsets":[0,4]},"b":{"dtype":"I64","shape":[1],"data_offsets":[4,12]}}`,
		`{"w":{"dtype":"F32","shape":[4611686018427387905],"data_offsets":[0,4]}}`,
	} {
		f.Add(withHeader(h, 12))
	}
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		total := 0
		for _, name := range file.Names() {
			tt, _ := file.Tensor(name)
			total += len(tt.Data)
			if tt.Size()*ElemSize(tt.DType) != len(tt.Data) {
				t.Fatalf("tensor %q: %d bytes for %s%v", name, len(tt.Data), tt.DType, tt.Shape)
			}
			if strings.HasPrefix(tt.DType, "F") || tt.DType == "BF16" {
				_, _ = tt.Float32()
				_ = tt.NonFinite()
			}
			if tt.DType == "I64" || tt.DType == "I32" {
				_, _ = tt.Int64()
			}
		}
		if total > len(data) {
			t.Fatalf("tensors hold %d bytes, more than the %d-byte input", total, len(data))
		}
	})
}
