package safetensors

import (
	"fmt"
	"os"
	"sync"
)

// mapThreshold is the size from which Open maps a file rather than reading it. Below it a copy
// costs little, and a mapping would be one more thing a short-lived File holds. A variable so
// that tests can map small files.
var mapThreshold int64 = 64 << 20

// openMapped opens path through a read-only mapping when it is large enough and the platform
// maps files; ok is false when the caller should read the file instead.
func openMapped(path string) (f *File, err error, ok bool) {
	if !canMap {
		return nil, nil, false
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err), true
	}
	defer fh.Close() // the mapping outlives the descriptor
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err), true
	}
	if !st.Mode().IsRegular() || st.Size() < mapThreshold || int64(int(st.Size())) != st.Size() {
		return nil, nil, false
	}
	data, err := mapFile(fh, int(st.Size()))
	if err != nil {
		return nil, nil, false // e.g. a file system without mmap: read it instead
	}
	f, err = Parse(data)
	if err != nil {
		_ = unmapFile(data)
		return nil, fmt.Errorf("safetensors: %s: %w", path, err), true
	}
	f.Path = path
	for _, t := range f.tensors {
		t.mapped = true
	}
	var once sync.Once
	var uerr error
	f.unmap = func() error {
		once.Do(func() { uerr = unmapFile(data) })
		return uerr
	}
	return f, nil, true
}

// Close releases the memory mapping behind a file Open mapped (see Open); for a file read into
// memory it does nothing. After Close the tensors' Data of a mapped file must not be touched
// (reading it would crash the process), so only a caller that has copied out what it needs
// (as weights.Bind and optim.LoadState do) closes. A File never closed keeps its mapping until
// the process exits: address space, and no resident memory beyond the pages last read.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	for _, t := range f.tensors {
		t.Data = nil // so that a use after Close fails a length check, not a memory access
	}
	return err
}

// release hands the pages of a mapped tensor back to the page cache once a conversion has read
// them; the bytes stay readable.
func (t *Tensor) release() {
	if t.mapped && evictAfterRead {
		evictPages(t.Data)
	}
}

// evictAfterRead is release's switch, for measuring what it saves.
var evictAfterRead = true
