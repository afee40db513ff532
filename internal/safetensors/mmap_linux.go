//go:build linux

package safetensors

import (
	"os"
	"syscall"
	"unsafe"
)

// canMap: this platform maps files (see mapFile).
const canMap = true

// mapFile maps f's size bytes read-only. The pages are the page cache's, so a loaded model does
// not also hold an anonymous copy of its file.
func mapFile(f *os.File, size int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
}

func unmapFile(data []byte) error { return syscall.Munmap(data) }

// evictPages drops the whole pages inside data from this process's resident set. The mapping is
// read-only and backed by the file, so the bytes stay readable: a later read faults them back in
// from the page cache (or the disk).
func evictPages(data []byte) {
	page := os.Getpagesize()
	if len(data) < 2*page {
		return
	}
	start := (page - int(uintptr(unsafe.Pointer(unsafe.SliceData(data)))%uintptr(page))) % page
	end := start + (len(data)-start)/page*page
	if end > start {
		_ = syscall.Madvise(data[start:end], syscall.MADV_DONTNEED)
	}
}
