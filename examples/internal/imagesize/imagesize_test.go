package imagesize

import "testing"

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		h, w int
		ok   bool
	}{
		{"", 0, 0, true}, {"0", 0, 0, true}, {"512", 512, 512, true}, {"768x512", 512, 768, true},
		{" 64X32 ", 32, 64, true}, {"x", 0, 0, false}, {"0x8", 0, 0, false}, {"-4", 0, 0, false}, {"big", 0, 0, false},
	} {
		h, w, err := Parse(c.in)
		if (err == nil) != c.ok || h != c.h || w != c.w {
			t.Errorf("Parse(%q) = %d, %d, %v; want %d, %d, ok=%v", c.in, h, w, err, c.h, c.w, c.ok)
		}
	}
}
