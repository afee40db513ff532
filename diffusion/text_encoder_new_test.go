package diffusion

import (
	"fmt"
	"testing"

	"github.com/gorpo/gorpo/align/clip"
	"github.com/gorpo/gorpo/internal/fixtures"
)

// NewTextEncoder declares what LoadTextEncoder binds: the same variables, the same shapes, and
// the seed decides the values.
func TestNewTextEncoderMatchesLoaded(t *testing.T) {
	dir := fixtures.Path(t, "parity", "clip_text_quickgelu")
	loaded, err := LoadTextEncoder(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clip.LoadTextConfig(dir + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewTextEncoder(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewTextEncoder(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	n, differ := 0, 0
	for v := range loaded.Store().IterVariables() {
		got := a.Store().GetVariable(v.Path())
		if got == nil || !got.Shape().Equal(v.Shape()) {
			t.Fatalf("%s %s: NewTextEncoder has %v", v.Path(), v.Shape(), got)
		}
		x, y := got.MustValue().Value(), b.Store().GetVariable(v.Path()).MustValue().Value()
		if !sameValues(x, y) {
			differ++
		}
		n++
	}
	if n != a.Store().NumVariables() {
		t.Fatalf("NewTextEncoder has %d variables, the loaded model %d", a.Store().NumVariables(), n)
	}
	if differ == 0 {
		t.Fatal("seeds 1 and 2 gave the same weights")
	}
}

// sameValues compares two tensors' values as Go values.
func sameValues(x, y any) bool { return fmt.Sprint(x) == fmt.Sprint(y) }
