package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
)

// Source is one tensor of a file being written: what the header needs (name, dtype, shape) is
// known up front, and the bytes are produced only when the writer reaches the tensor. A
// checkpoint of a full-size model (≈10 GB of weights and AdamW moments) is thereby streamed from
// the variables to the disk with one tensor in flight, instead of being copied whole into byte
// slices first.
type Source struct {
	Name  string
	DType string // safetensors dtype: "F32", "I64", ...
	Shape []int
	// WriteData writes the tensor's raw little-endian bytes to w, exactly as many as DType and
	// Shape call for; fewer or more fail the write. It is called once, in file order (sorted by
	// name), after the header; w is valid only during the call.
	WriteData func(w io.Writer) error
}

// Source describes an in-memory tensor as a Source that writes t.Data.
func (t *Tensor) Source() Source {
	return Source{Name: t.Name, DType: t.DType, Shape: t.Shape, WriteData: func(w io.Writer) error {
		_, err := w.Write(t.Data)
		return err
	}}
}

// WriteSources writes the tensors into path atomically (see WriteAtomic), sorted by name: the
// header is built from the names, dtypes and shapes first, then each source writes its bytes in
// turn, so the memory held beyond the sources' own is the header and the write buffer. A source
// that fails, or writes the wrong number of bytes, fails the whole write and leaves path as it
// was. The file is byte for byte what Write produces for the same tensors.
func WriteSources(path string, sources []Source, metadata map[string]string) error {
	sorted := slices.Clone(sources)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	hjson, sizes, err := encodeHeader(sorted, metadata)
	if err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	err = WriteAtomic(path, func(w io.Writer) error {
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hjson)))
		if _, err := w.Write(lenBuf[:]); err != nil {
			return err
		}
		if _, err := w.Write(hjson); err != nil {
			return err
		}
		for i, s := range sorted {
			tw := &tensorWriter{w: w, left: sizes[i]}
			if err := s.WriteData(tw); err != nil {
				return fmt.Errorf("tensor %q: %w", s.Name, err)
			}
			if tw.left != 0 {
				return fmt.Errorf("tensor %q: its source wrote %d bytes, want %d for %s%v",
					s.Name, sizes[i]-tw.left, sizes[i], s.DType, s.Shape)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// encodeHeader builds the JSON header for sources (sorted by name) and returns each one's byte
// size. Go's encoding/json writes map keys sorted, which puts the entries in the data's order.
func encodeHeader(sorted []Source, metadata map[string]string) ([]byte, []int64, error) {
	header := make(map[string]any, len(sorted)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	sizes := make([]int64, len(sorted))
	var offset int64
	for i, s := range sorted {
		if i > 0 && sorted[i-1].Name == s.Name {
			return nil, nil, fmt.Errorf("duplicate tensor name %q", s.Name)
		}
		if s.Name == "__metadata__" {
			return nil, nil, errors.New(`tensor name "__metadata__" is reserved for the metadata`)
		}
		es := ElemSize(s.DType)
		if es == 0 {
			return nil, nil, fmt.Errorf("tensor %q: unknown dtype %q", s.Name, s.DType)
		}
		n, ok := CheckedSize(s.Shape)
		if !ok {
			return nil, nil, fmt.Errorf("tensor %q: shape %v has a negative dimension or too many elements", s.Name, s.Shape)
		}
		if s.WriteData == nil {
			return nil, nil, fmt.Errorf("tensor %q: no WriteData function to produce its bytes", s.Name)
		}
		shape := s.Shape
		if shape == nil {
			shape = []int{}
		}
		sizes[i] = int64(n) * int64(es)
		header[s.Name] = headerEntry{DType: s.DType, Shape: shape, Offsets: [2]int64{offset, offset + sizes[i]}}
		offset += sizes[i]
	}
	hjson, err := json.Marshal(header)
	if err != nil {
		return nil, nil, err
	}
	// Pad the header with spaces to a multiple of 8 bytes, as the reference writer does.
	for len(hjson)%8 != 0 {
		hjson = append(hjson, ' ')
	}
	return hjson, sizes, nil
}

// tensorWriter passes one tensor's bytes through and refuses any beyond its size, so that a
// source writing too much cannot shift every later tensor under the header's offsets.
type tensorWriter struct {
	w    io.Writer
	left int64
}

func (t *tensorWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > t.left {
		return 0, fmt.Errorf("source wrote %d bytes past the tensor's end", int64(len(p))-t.left)
	}
	n, err := t.w.Write(p)
	t.left -= int64(n)
	return n, err
}

// hostLittleEndian is whether the machine stores numbers as safetensors does, in which case
// a tensor's memory can be written as it is.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// WriteNative writes elements held in the host's byte order (a tensor's memory seen as bytes)
// as the little-endian bytes safetensors stores: unchanged on little-endian hosts, else
// byte-swapped through a small buffer, never a copy of the whole tensor. elemSize is 1, 2, 4
// or 8, and len(data) a multiple of it.
func WriteNative(w io.Writer, data []byte, elemSize int) error {
	if elemSize != 1 && elemSize != 2 && elemSize != 4 && elemSize != 8 {
		return fmt.Errorf("element size %d, want 1, 2, 4 or 8", elemSize)
	}
	if len(data)%elemSize != 0 {
		return fmt.Errorf("%d bytes are not a whole number of %d-byte elements", len(data), elemSize)
	}
	if hostLittleEndian || elemSize == 1 {
		_, err := w.Write(data)
		return err
	}
	buf := make([]byte, 64<<10)
	for len(data) > 0 {
		n := copy(buf, data)
		for i := 0; i < n; i += elemSize {
			slices.Reverse(buf[i : i+elemSize])
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}
