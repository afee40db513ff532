package imaging

import (
	"bytes"
	"testing"
)

func TestCenterCrop(t *testing.T) {
	src := row(1, 2, 3, 4, 5)
	for _, tc := range []struct {
		name string
		crop func(*RGB, int, int) (*RGB, error)
		w    int
		want []uint8
	}{
		// Odd surplus: transformers' top-left is (5-2)//2 = 1, the extra pixel stays right.
		{"numpy shrink odd", CenterCrop, 2, []uint8{2, 3}},
		{"torch shrink odd", CenterCropTorch, 2, []uint8{2, 3}},
		{"numpy shrink even", CenterCrop, 3, []uint8{2, 3, 4}},
		{"identity", CenterCrop, 5, []uint8{1, 2, 3, 4, 5}},
		// Growing by an odd amount pads: numpy puts ceil(3/2) = 2 zeros left, torchvision 1.
		{"numpy pad odd", CenterCrop, 8, []uint8{0, 0, 1, 2, 3, 4, 5, 0}},
		{"torch pad odd", CenterCropTorch, 8, []uint8{0, 1, 2, 3, 4, 5, 0, 0}},
		{"numpy pad even", CenterCrop, 7, []uint8{0, 1, 2, 3, 4, 5, 0}},
		{"torch pad even", CenterCropTorch, 7, []uint8{0, 1, 2, 3, 4, 5, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.crop(src, tc.w, 1)
			if err != nil {
				t.Fatal(err)
			}
			if g := channel0(got); !bytes.Equal(g, tc.want) {
				t.Errorf("got %v, want %v", g, tc.want)
			}
		})
	}
	// Two dimensions at once, one shrinking and one growing.
	m := NewRGB(3, 2)
	for i := range m.Pix {
		m.Pix[i] = uint8(i/3 + 1) // pixels 1..6 row by row
	}
	got, err := CenterCrop(m, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if g := channel0(got); !bytes.Equal(g, []uint8{0, 2, 5}) {
		t.Errorf("3x2 → 1x3: %v, want [0 2 5]", g)
	}
	if _, err := CenterCrop(nil, 1, 1); err == nil {
		t.Error("nil: no error")
	}
	if _, err := CenterCrop(m, 0, 1); err == nil {
		t.Error("zero width: no error")
	}
	// A window entirely outside the image is black.
	if got, _ := Crop(m, 10, 10, 2, 2); !bytes.Equal(got.Pix, make([]uint8, 12)) {
		t.Errorf("outside: %v", got.Pix)
	}
}
