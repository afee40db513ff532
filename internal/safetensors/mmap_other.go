//go:build !linux

package safetensors

import (
	"errors"
	"os"
)

// canMap: elsewhere files are read into memory (see OpenMapped).
const canMap = false

func mapFile(*os.File, int) ([]byte, error) {
	return nil, errors.New("memory-mapping is not supported on this platform")
}

func unmapFile([]byte) error { return nil }

func evictPages([]byte) {}
