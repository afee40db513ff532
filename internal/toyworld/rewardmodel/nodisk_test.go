package rewardmodel

import (
	"testing"

	"github.com/gorpo/gorpo/internal/embedded"
)

// Load reads the embedded files in place: in a process of its own, with empty cache, temporary
// and home folders, it loads and leaves nothing in them (Dir would write a copy).
func TestLoadWritesNothing(t *testing.T) {
	embedded.RunWithoutDisk(t, func() error {
		_, err := Load()
		return err
	})
}
