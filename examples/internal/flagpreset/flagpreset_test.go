package flagpreset

import (
	"flag"
	"testing"
)

// The preset fills the flags not given, with the exact values, and leaves the given ones.
func TestApply(t *testing.T) {
	fs := flag.NewFlagSet("prog", flag.ContinueOnError)
	steps := fs.Int("steps", 1, "")
	lr := fs.Float64("lr", 0, "")
	guidance := fs.Float64("guidance", 7.5, "")
	size := fs.String("size", "0", "")
	if err := fs.Parse([]string{"--guidance", "3"}); err != nil {
		t.Fatal(err)
	}
	Apply(fs, map[string]any{"steps": 300, "lr": 1e-4, "guidance": 2.0, "size": "32"}, map[string]bool{"guidance": true})
	if *steps != 300 || *lr != 1e-4 || *guidance != 3 || *size != "32" {
		t.Errorf("steps %d, lr %v, guidance %v, size %q", *steps, *lr, *guidance, *size)
	}
	defer func() {
		if r := recover(); r != "prog: preset: no flag beta" {
			t.Errorf("unknown flag: %v", r)
		}
	}()
	Apply(fs, map[string]any{"beta": 0.1}, nil)
}
