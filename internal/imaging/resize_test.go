package imaging

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
)

// row builds a w×1 image whose three channels all hold vals.
func row(vals ...uint8) *RGB {
	m := NewRGB(len(vals), 1)
	for i, v := range vals {
		m.Pix[3*i], m.Pix[3*i+1], m.Pix[3*i+2] = v, v, v
	}
	return m
}

// channel0 returns the first channel of m, row by row.
func channel0(m *RGB) []uint8 {
	out := make([]uint8, m.W*m.H)
	for i := range out {
		out[i] = m.Pix[3*i]
	}
	return out
}

func TestResizeHandChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *RGB
		w, h int
		f    Filter
		want []uint8
	}{
		// 4→2 bilinear: support widens to 2 source pixels; output 0 is centred on 1.0 and reads
		// pixels 0, 1, 2 with triangle weights 0.75, 0.75, 0.25 → 3/7, 3/7, 1/7.
		// 70·3/7 + 140·1/7 = 50; 70·1/7 + 140·3/7 + 210·3/7 = 160.
		{"bilinear 2x down", row(0, 70, 140, 210), 2, 1, Bilinear, []uint8{50, 160}},
		// 2→4 bilinear: centres 0.25, 0.75, 1.25, 1.75 in source pixels; the edge outputs see one
		// source pixel only (weights renormalised), the inner ones 3:1 mixes.
		{"bilinear 2x up", row(0, 200), 4, 1, Bilinear, []uint8{0, 50, 150, 200}},
		// 5→2 nearest: source x = trunc((i+0.5)·2.5) = 1, 3.
		{"nearest down", row(10, 20, 30, 40, 50), 2, 1, Nearest, []uint8{20, 40}},
		// 4→8 nearest: every pixel twice.
		{"nearest up", row(1, 2, 3, 4), 8, 1, Nearest, []uint8{1, 1, 2, 2, 3, 3, 4, 4}},
		// 3→1 box: the mean of the three.
		{"box", row(0, 30, 90), 1, 1, Box, []uint8{40}},
		// A constant image stays constant under every filter (weights sum to one).
		{"constant bicubic", row(77, 77, 77, 77, 77, 77, 77), 3, 1, Bicubic, []uint8{77, 77, 77}},
		{"constant lanczos up", row(200, 200, 200), 7, 1, Lanczos, []uint8{200, 200, 200, 200, 200, 200, 200}},
		// Bicubic overshoots at a step edge; the fixed-point sum is clipped to 0..255.
		{"bicubic clips", row(0, 0, 255, 255), 8, 1, Bicubic, []uint8{0, 0, 0, 52, 203, 255, 255, 255}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resize(tc.in, tc.w, tc.h, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got.W != tc.w || got.H != tc.h {
				t.Fatalf("size %dx%d, want %dx%d", got.W, got.H, tc.w, tc.h)
			}
			if g := channel0(got); !bytes.Equal(g, tc.want) {
				t.Errorf("got %v, want %v", g, tc.want)
			}
			for i := 0; i < len(got.Pix); i += 3 {
				if got.Pix[i] != got.Pix[i+1] || got.Pix[i] != got.Pix[i+2] {
					t.Fatalf("channels differ at pixel %d: %v", i/3, got.Pix[i:i+3])
				}
			}
		})
	}
}

func TestResizeIdentityAndShapes(t *testing.T) {
	src := testImage(3, 13, 9)
	for _, f := range []Filter{Nearest, Bilinear, Bicubic, Lanczos, Box, Hamming} {
		same, err := Resize(src, 13, 9, f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(same.Pix, src.Pix) {
			t.Errorf("%v: same size is not a copy", f)
		}
		if &same.Pix[0] == &src.Pix[0] {
			t.Errorf("%v: same size shares the pixels", f)
		}
		for _, sz := range [][2]int{{1, 1}, {6, 4}, {26, 18}, {13, 20}, {7, 9}, {31, 3}} {
			m, err := Resize(src, sz[0], sz[1], f)
			if err != nil {
				t.Fatal(err)
			}
			if m.W != sz[0] || m.H != sz[1] || len(m.Pix) != 3*sz[0]*sz[1] {
				t.Errorf("%v to %v: got %dx%d with %d bytes", f, sz, m.W, m.H, len(m.Pix))
			}
		}
	}
}

// TestResizePillowGolden compares Resize with Pillow on 800 cases (every filter but NEAREST; sizes
// 1 to 97 up and down, one pass or two, and a tall image), by hashes of Pillow's output bytes.
// They were made by feeding testImage inputs to Pillow's src/libImaging/Resample.c (ImagingResample,
// called as Image.resize calls it) compiled outside this repository.
func TestResizePillowGolden(t *testing.T) {
	f, err := os.Open("testdata/pillow_resize.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, bad := 0, 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		var seed uint64
		var w, h, filter, ow, oh int
		var want string
		if _, err := fmt.Sscan(line, &seed, &w, &h, &filter, &ow, &oh, &want); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got, err := Resize(testImage(seed, w, h), ow, oh, Filter(filter))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(got.Pix)
		if hex.EncodeToString(sum[:8]) != want {
			bad++
			if bad <= 10 {
				t.Errorf("seed %d: %dx%d → %dx%d with %v differs from Pillow", seed, w, h, ow, oh, Filter(filter))
			}
		}
		n++
	}
	if n < 100 {
		t.Fatalf("only %d golden cases read", n)
	}
	if bad > 0 {
		t.Errorf("%d of %d cases differ from Pillow", bad, n)
	}
}

func TestResizeTorch(t *testing.T) {
	// Hand-checked weights: 4→2 bilinear has float weights 3/7, 3/7, 1/7; the largest, 3/7, fits
	// int16 with 16 fractional bits (3/7·2^17 ≥ 2^15), so the weights are round(w·2^16).
	w := torchCoefficients(4, 2, kernel{triangleKernel, 1})
	if w.prec != 16 {
		t.Errorf("precision %d, want 16", w.prec)
	}
	if fmt.Sprint(w.k[0], w.k[1]) != "[28087 28087 9362] [9362 28087 28087]" {
		t.Errorf("weights %v %v", w.k[0], w.k[1])
	}
	got, err := ResizeTorch(row(0, 70, 140, 210), 2, 1, Bilinear)
	if err != nil {
		t.Fatal(err)
	}
	if g := channel0(got); !bytes.Equal(g, []uint8{50, 160}) {
		t.Errorf("bilinear 4→2: %v, want [50 160]", g)
	}
	got, _ = ResizeTorch(row(10, 20, 30, 40, 50), 2, 1, Nearest)
	if g := channel0(got); !bytes.Equal(g, []uint8{20, 40}) {
		t.Errorf("nearest 5→2: %v, want [20 40]", g)
	}
	// Torch and Pillow share the algorithm and differ only in weight precision: they agree to a
	// step or two (two where a one-step difference after the first pass is carried through the
	// second).
	src := testImage(1, 97, 61)
	for _, f := range []Filter{Bilinear, Bicubic} {
		for _, sz := range [][2]int{{32, 32}, {40, 25}, {97, 30}, {150, 61}, {200, 130}} {
			a, err := ResizeTorch(src, sz[0], sz[1], f)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := Resize(src, sz[0], sz[1], f)
			for i := range a.Pix {
				if d := int(a.Pix[i]) - int(b.Pix[i]); d > 2 || d < -2 {
					t.Fatalf("%v %v: torch %d, pillow %d at %d", f, sz, a.Pix[i], b.Pix[i], i)
				}
			}
		}
	}
	for _, f := range []Filter{Lanczos, Box, Hamming} {
		if _, err := ResizeTorch(src, 10, 10, f); err == nil {
			t.Errorf("%v: no error", f)
		}
	}
}

func TestResizeErrors(t *testing.T) {
	src := testImage(0, 4, 4)
	for name, fn := range map[string]func() error{
		"nil":         func() error { _, err := Resize(nil, 2, 2, Bicubic); return err },
		"empty":       func() error { _, err := Resize(&RGB{}, 2, 2, Bicubic); return err },
		"zero width":  func() error { _, err := Resize(src, 0, 2, Bicubic); return err },
		"bad filter":  func() error { _, err := Resize(src, 2, 2, Filter(9)); return err },
		"torch nil":   func() error { _, err := ResizeTorch(nil, 2, 2, Bicubic); return err },
		"torch empty": func() error { _, err := ResizeTorch(&RGB{}, 2, 2, Bicubic); return err },
		"torch zero":  func() error { _, err := ResizeTorch(src, 2, 0, Bicubic); return err },
	} {
		if fn() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
