// Package safetensors reads and writes the safetensors format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON header
// mapping tensor names to dtype, shape and byte offsets, then the raw little-endian data.
//
// It reads F32, F16, BF16, F64, I64 and I32 tensors (floats convert to float32 on request), single
// files and sharded checkpoints described by a "*.safetensors.index.json", and writes F32/I64
// files atomically (a temporary file renamed into place), which is what a fine-tuned U-Net is
// saved as. Writing streams (WriteSources: the header first, then one tensor's bytes at a time)
// and large files are memory-mapped for reading (Open), so that neither a saved checkpoint nor a
// loaded model is ever held whole in memory as bytes. go-huggingface's reader is tied to its hub.Repo download cache and has no writer, so
// this small self-contained package serves both directions.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/gorpo/gorpo/internal/modelfs"
)

// ErrMissingTensor is returned (wrapped) when a requested tensor is not in the file.
var ErrMissingTensor = errors.New("missing tensor")

// maxHeaderSize guards against a corrupt length prefix making us allocate gigabytes.
const maxHeaderSize = 100 << 20

// Tensor is one named tensor as stored on disk.
type Tensor struct {
	Name  string
	DType string // safetensors dtype: "F32", "F16", "BF16", "F64", "I64", "I32", ...
	Shape []int
	Data  []byte // raw little-endian bytes

	// mapped: Data lies in a read-only file mapping (OpenMapped), whose pages a conversion
	// hands back once it has read them.
	mapped bool
}

// Size is the number of elements (1 for a scalar). For a tensor Parse returned it is exact; for
// one built by hand whose shape product overflows an int it is -1 (see CheckedSize).
func (t *Tensor) Size() int {
	n, ok := CheckedSize(t.Shape)
	if !ok {
		return -1
	}
	return n
}

// CheckedSize is the product of dims, and false when a dimension is negative or the product
// overflows an int (or exceeds maxElements, far beyond any file this package can hold).
func CheckedSize(dims []int) (int, bool) {
	n := 1
	for _, d := range dims {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			n = 0
			continue
		}
		if n > maxElements/d {
			return 0, false
		}
		n *= d
	}
	if n > maxElements {
		return 0, false
	}
	return n, true
}

// maxElements bounds a tensor's element count: 2^56, so that elements × 8 bytes never overflows
// an int64.
const maxElements = 1 << 56

// checkData reports whether t.Data holds exactly the bytes its dtype and shape call for, the
// guard of every conversion below (a Tensor may be built by hand).
func (t *Tensor) checkData() error {
	n, ok := CheckedSize(t.Shape)
	es := ElemSize(t.DType)
	if !ok {
		return fmt.Errorf("safetensors: tensor %q: shape %v has a negative dimension or too many elements", t.Name, t.Shape)
	}
	if es != 0 && len(t.Data) != n*es {
		return fmt.Errorf("safetensors: tensor %q: %d bytes of data for %s%v, want %d", t.Name, len(t.Data), t.DType, t.Shape, n*es)
	}
	return nil
}

// ElemSize is the size in bytes of one element of dtype, or 0 if unknown.
func ElemSize(dtype string) int {
	switch dtype {
	case "F64", "I64", "U64":
		return 8
	case "F32", "I32", "U32":
		return 4
	case "F16", "BF16", "I16", "U16":
		return 2
	case "I8", "U8", "BOOL":
		return 1
	}
	return 0
}

// Float32 returns the values converted to float32, for F32, F16, BF16 and F64 tensors.
func (t *Tensor) Float32() ([]float32, error) {
	if err := t.checkData(); err != nil {
		return nil, err
	}
	defer t.release()
	n := t.Size()
	out := make([]float32, n)
	d := t.Data
	switch t.DType {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = HalfToFloat32(binary.LittleEndian.Uint16(d[2*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(d[2*i:])) << 16)
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:])))
		}
	default:
		return nil, fmt.Errorf("safetensors: tensor %q has dtype %s, want a float dtype (F32, F16, BF16, F64)", t.Name, t.DType)
	}
	return out, nil
}

// Int64 returns the values of an I64 or I32 tensor as int64.
func (t *Tensor) Int64() ([]int64, error) {
	if err := t.checkData(); err != nil {
		return nil, err
	}
	defer t.release()
	n := t.Size()
	out := make([]int64, n)
	switch t.DType {
	case "I64":
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
	case "I32":
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(t.Data[4*i:])))
		}
	default:
		return nil, fmt.Errorf("safetensors: tensor %q has dtype %s, want an integer dtype (I64, I32)", t.Name, t.DType)
	}
	return out, nil
}

// NonFinite counts the NaN and ±Inf values of a float tensor (F32, F16, BF16, F64) from their bit
// patterns, without converting; other dtypes have none.
func (t *Tensor) NonFinite() int {
	if t.checkData() != nil {
		return 0
	}
	defer t.release()
	d, n := t.Data, 0
	switch t.DType {
	case "F32", "BF16":
		// Both keep float32's 8-bit exponent in the high bits of their little-endian word.
		es := ElemSize(t.DType)
		for i := es - 2; i < len(d); i += es {
			if binary.LittleEndian.Uint16(d[i:])&0x7f80 == 0x7f80 {
				n++
			}
		}
	case "F16":
		for i := 0; i < len(d); i += 2 {
			if binary.LittleEndian.Uint16(d[i:])&0x7c00 == 0x7c00 {
				n++
			}
		}
	case "F64":
		for i := 6; i < len(d); i += 8 {
			if binary.LittleEndian.Uint16(d[i:])&0x7ff0 == 0x7ff0 {
				n++
			}
		}
	}
	return n
}

// NonFinite lists the tensors holding NaN or ±Inf values, sorted, each as "name (k of n values)".
func (f *File) NonFinite() []string {
	var out []string
	for _, name := range f.Names() {
		t := f.tensors[name]
		if k := t.NonFinite(); k > 0 {
			out = append(out, fmt.Sprintf("%s (%d of %d values)", name, k, t.Size()))
		}
	}
	return out
}

// HalfToFloat32 converts an IEEE 754 binary16 value to float32.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: renormalise
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		frac &= 0x3ff
		return math.Float32frombits(sign | e<<23 | frac<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	}
}

// File is a whole safetensors file (or a sharded checkpoint) read into memory.
type File struct {
	Path     string
	Metadata map[string]string
	// AllowNonFinite marks a file whose NaN or ±Inf values the caller accepts: loaders set it when
	// asked to, and internal/weights.Bind then binds such tensors instead of refusing them.
	AllowNonFinite bool
	tensors        map[string]*Tensor
	// unmap releases the file mapping of an OpenMapped file (nil otherwise).
	unmap func() error
}

// Names returns the tensor names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.tensors))
	for n := range f.tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Len is the number of tensors.
func (f *File) Len() int { return len(f.tensors) }

// Has reports whether the named tensor is present.
func (f *File) Has(name string) bool { _, ok := f.tensors[name]; return ok }

// Tensor returns the named tensor or an error wrapping ErrMissingTensor.
func (f *File) Tensor(name string) (*Tensor, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.Path, name, ErrMissingTensor)
	}
	return t, nil
}

// Float32 is a shortcut for Tensor(name) then Float32, also returning the shape.
func (f *File) Float32(name string) ([]float32, []int, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, nil, err
	}
	v, err := t.Float32()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	return v, t.Shape, nil
}

// Int64 is a shortcut for Tensor(name) then Int64, also returning the shape.
func (f *File) Int64(name string) ([]int64, []int, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, nil, err
	}
	v, err := t.Int64()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	return v, t.Shape, nil
}

type headerEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// Open reads a safetensors file, validating its header against the file size.
//
// A file of mapThreshold bytes or more is memory-mapped read-only where the platform allows it
// (Linux), not read: a full-size model's weights (3.4 GB for SD-1.5's U-Net) then cost no
// anonymous copy on top of the variables they are loaded into, and every conversion of a
// tensor (Float32, Int64, NonFinite) hands the pages it read back to the page cache, so loading
// a model holds about one tensor of the file at a time. Smaller files, and any file the
// platform cannot map, are read into memory. See Close. The mapping is read-only, and a mapped
// file must not be truncated or rewritten in place while open (this package's writers replace
// files by renaming, which leaves an open mapping intact).
func Open(path string) (*File, error) { return OpenIn(modelfs.OS, path) }

// OpenIn is Open on the file system m: on the operating system's, Open itself; inside an fs.FS
// (an embed.FS, a zip.Reader) the file is read into memory, as an fs.FS offers no mapping.
func OpenIn(m modelfs.FS, path string) (*File, error) {
	if m.IsOS() {
		if f, err, ok := openMapped(path); ok {
			return f, err
		}
	}
	data, err := m.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// Parse decodes safetensors bytes. The returned tensors share memory with data.
//
// It checks what the reference implementation checks before trusting a header, so that a corrupt
// or hostile file is an error naming the tensor and never a panic or a huge allocation: the
// header's length, that the header is one JSON object with unique names, every dtype known, every
// shape's element count free of overflow, and the data offsets in bounds, each tensor's span the
// size its dtype and shape call for, and the spans contiguous and non-overlapping, covering the
// data section exactly.
func Parse(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("file is %d bytes, too short for the 8-byte header length", len(data))
	}
	hlen := binary.LittleEndian.Uint64(data)
	if hlen > maxHeaderSize || hlen > uint64(len(data)-8) {
		return nil, fmt.Errorf("corrupt header: length %d, file has %d bytes after the length", hlen, len(data)-8)
	}
	entries, err := headerEntries(data[8 : 8+hlen])
	if err != nil {
		return nil, err
	}
	body := data[8+hlen:]
	f := &File{tensors: make(map[string]*Tensor, len(entries))}
	type span struct {
		name       string
		start, end int64
	}
	spans := make([]span, 0, len(entries))
	for _, kv := range entries {
		name, msg := kv.name, kv.value
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("corrupt __metadata__: %w", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: corrupt header entry: %w", name, err)
		}
		es := ElemSize(e.DType)
		if es == 0 {
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", name, e.DType)
		}
		if e.Shape == nil {
			e.Shape = []int{}
		}
		n, ok := CheckedSize(e.Shape)
		if !ok {
			return nil, fmt.Errorf("tensor %q: shape %v: a negative dimension, or more elements than any file holds", name, e.Shape)
		}
		want := int64(n) * int64(es)
		start, end := e.Offsets[0], e.Offsets[1]
		if start < 0 || end < start || end > int64(len(body)) || end-start != want {
			return nil, fmt.Errorf("tensor %q: data offsets [%d, %d) do not fit %s%v (%d bytes) in a %d-byte body",
				name, start, end, e.DType, e.Shape, want, len(body))
		}
		f.tensors[name] = &Tensor{Name: name, DType: e.DType, Shape: e.Shape, Data: body[start:end:end]}
		spans = append(spans, span{name, start, end})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].start != spans[j].start {
			return spans[i].start < spans[j].start
		}
		return spans[i].end < spans[j].end
	})
	var pos int64
	prev := ""
	for _, sp := range spans {
		switch {
		case sp.start < pos:
			return nil, fmt.Errorf("tensor %q: data offsets [%d, %d) overlap tensor %q's, which end at %d", sp.name, sp.start, sp.end, prev, pos)
		case sp.start > pos:
			return nil, fmt.Errorf("tensor %q: data offsets [%d, %d) leave a gap after byte %d (the data must be contiguous)", sp.name, sp.start, sp.end, pos)
		}
		pos, prev = sp.end, sp.name
	}
	if pos != int64(len(body)) {
		return nil, fmt.Errorf("the tensors' data ends at byte %d of a %d-byte body (truncated header or trailing bytes)", pos, len(body))
	}
	return f, nil
}

// rawEntry is one member of the header object, in file order.
type rawEntry struct {
	name  string
	value json.RawMessage
}

// headerEntries decodes the header as one JSON object, keeping its members in order and refusing
// a repeated name (encoding/json would keep the last silently) or trailing data.
func headerEntries(header []byte) ([]rawEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("corrupt header JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("corrupt header JSON: starts with %v, want an object", tok)
	}
	var out []rawEntry
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("corrupt header JSON: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("corrupt header JSON: key %v", tok)
		}
		if seen[name] {
			return nil, fmt.Errorf("tensor %q: named twice in the header", name)
		}
		seen[name] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("corrupt header JSON at %q: %w", name, err)
		}
		out = append(out, rawEntry{name, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("corrupt header JSON: %w", err)
	}
	// Only the reference writer's space padding may follow the object.
	if trail := bytes.TrimRight(header[dec.InputOffset():], " \t\r\n\x00"); len(trail) > 0 {
		return nil, fmt.Errorf("corrupt header JSON: %d bytes of trailing data after the object", len(trail))
	}
	return out, nil
}

// Write stores tensors into path atomically: the data goes to a temporary file in the same
// folder, which is renamed over path only once complete. Tensors are written sorted by name. It
// is WriteSources over tensors already in memory; a caller that would have to build each
// tensor's bytes first (a model's variables) should give WriteSources producers instead.
func Write(path string, tensors []*Tensor, metadata map[string]string) error {
	sources := make([]Source, len(tensors))
	for i, t := range tensors {
		// Checked before anything is written, so that a wrong tensor is named without a
		// temporary file being made.
		if want := t.Size() * ElemSize(t.DType); ElemSize(t.DType) == 0 || len(t.Data) != want {
			return fmt.Errorf("safetensors: writing %s: tensor %q: %d bytes for %s%v, want %d",
				path, t.Name, len(t.Data), t.DType, t.Shape, want)
		}
		sources[i] = t.Source()
	}
	return WriteSources(path, sources, metadata)
}

// FromFloat32 makes an F32 tensor.
func FromFloat32(name string, shape []int, values []float32) *Tensor {
	data := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	return &Tensor{Name: name, DType: "F32", Shape: slices.Clone(shape), Data: data}
}

// FromInt64 makes an I64 tensor.
func FromInt64(name string, shape []int, values []int64) *Tensor {
	data := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(v))
	}
	return &Tensor{Name: name, DType: "I64", Shape: slices.Clone(shape), Data: data}
}
