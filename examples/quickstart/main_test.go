package main

import "testing"

// The README's first command must keep working: every sampler, and a clear error for a bad flag.
func TestRun(t *testing.T) {
	for s := range classes {
		if err := run(1, 10, s); err != nil {
			t.Errorf("sampler %s: %v", s, err)
		}
	}
	if err := run(1, 10, "nope"); err == nil {
		t.Error("unknown sampler accepted")
	}
	if err := run(1, 0, "ddim"); err == nil {
		t.Error("zero steps accepted")
	}
}
