package trainrun

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestCosine(t *testing.T) {
	for _, c := range []struct {
		step int
		want float64
	}{{0, 0.25}, {3, 1}, {4, 1}, {9, 0.55}, {14, 0.1}, {20, 0.1}} {
		if got := Cosine(c.step, 14, 4, 1, 0.1); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("step %d: %v, want %v", c.step, got, c.want)
		}
	}
}

// ReplaceDir swaps the folder whole, and a failing fill leaves the old one untouched.
func TestReplaceDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ck")
	write := func(content string) func(string) error {
		return func(tmp string) error { return os.WriteFile(filepath.Join(tmp, "f"), []byte(content), 0o644) }
	}
	if err := ReplaceDir(dir, write("one")); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceDir(dir, write("two")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := ReplaceDir(dir, func(tmp string) error { _ = write("three")(tmp); return boom }); !errors.Is(err, boom) {
		t.Fatalf("fill error: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "f"))
	if err != nil || string(got) != "two" {
		t.Fatalf("after a failed replace: %q, %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	var st struct{ Step int }
	if ok, err := ReadState(dir, &st); ok || err != nil {
		t.Fatalf("no state.json: %v %v", ok, err)
	}
	if err := WriteState(dir, struct{ Step int }{7}); err != nil {
		t.Fatal(err)
	}
	if ok, err := ReadState(dir, &st); !ok || err != nil || st.Step != 7 {
		t.Fatalf("state: %v %v %+v", ok, err, st)
	}
}
