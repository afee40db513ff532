package gorpo

import (
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/backend"
)

// DefaultBackend is the process-wide backend every loader falls back on; NewBackend makes a new
// one each call, of the kind named, and refuses names it does not know.
func TestBackends(t *testing.T) {
	def, err := DefaultBackend()
	if err != nil {
		t.Fatal(err)
	}
	if def != backend.MustDefault() {
		t.Error("DefaultBackend is not the backend the loaders default to")
	}
	b, err := NewBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if b == def || !strings.Contains(strings.ToLower(b.Name()), "go") {
		t.Errorf("NewBackend(go) = %s (%p), want a new Go backend (default %p)", b.Name(), b, def)
	}
	if _, err := NewBackend("tpu-magic"); err == nil || !strings.Contains(err.Error(), "tpu-magic") {
		t.Errorf("NewBackend(tpu-magic): err = %v, want one naming it", err)
	}
}
