package imaging

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"testing"
)

func TestDecodeConversions(t *testing.T) {
	rect := image.Rect(10, 20, 12, 21) // a non-zero origin must not matter
	gray := image.NewGray(rect)
	gray.SetGray(10, 20, color.Gray{7})
	gray.SetGray(11, 20, color.Gray{200})

	pal := image.NewPaletted(rect, color.Palette{color.NRGBA{1, 2, 3, 0}, color.RGBA{40, 50, 60, 255}})
	pal.SetColorIndex(11, 20, 1)

	nrgba := image.NewNRGBA(rect) // PNG's RGBA: alpha is dropped, colour kept
	nrgba.SetNRGBA(10, 20, color.NRGBA{100, 110, 120, 0})
	nrgba.SetNRGBA(11, 20, color.NRGBA{9, 8, 7, 128})

	rgba := image.NewRGBA(rect) // premultiplied: exact when opaque
	rgba.SetRGBA(10, 20, color.RGBA{5, 6, 7, 255})
	rgba.SetRGBA(11, 20, color.RGBA{50, 25, 0, 128})

	cmyk := image.NewCMYK(rect)
	cmyk.SetCMYK(10, 20, color.CMYK{0, 0, 0, 0})
	cmyk.SetCMYK(11, 20, color.CMYK{255, 128, 0, 64})

	g16 := image.NewGray16(rect)
	g16.SetGray16(10, 20, color.Gray16{0x12ff})
	g16.SetGray16(11, 20, color.Gray16{0xffff})

	ycc := image.NewYCbCr(rect, image.YCbCrSubsampleRatio444)
	for i := range ycc.Y {
		ycc.Y[i], ycc.Cb[i], ycc.Cr[i] = 128, 128, 128
	}

	for _, tc := range []struct {
		name string
		img  image.Image
		want []uint8
	}{
		{"gray", gray, []uint8{7, 7, 7, 200, 200, 200}},
		{"paletted", pal, []uint8{1, 2, 3, 40, 50, 60}},
		{"nrgba", nrgba, []uint8{100, 110, 120, 9, 8, 7}},
		// Premultiplied and translucent: Go's un-premultiplication, 50·0xffff/(128·0x101) → 99.
		{"rgba", rgba, []uint8{5, 6, 7, 99, 49, 0}},
		// Pillow's cmyk2rgb: (255-k)·(255-c)/255 rounded: 191·0/255 = 0, 191·127/255 = 95.
		{"cmyk", cmyk, []uint8{255, 255, 255, 0, 95, 191}},
		{"gray16", g16, []uint8{0x12, 0x12, 0x12, 255, 255, 255}},
		{"ycbcr", ycc, []uint8{128, 128, 128, 128, 128, 128}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := FromImage(tc.img)
			if err != nil {
				t.Fatal(err)
			}
			if m.W != 2 || m.H != 1 || !bytes.Equal(m.Pix, tc.want) {
				t.Errorf("got %dx%d %v, want 2x1 %v", m.W, m.H, m.Pix, tc.want)
			}
		})
	}
}

func TestDecodePNGRoundTrip(t *testing.T) {
	src := testImage(2, 7, 5)
	var buf bytes.Buffer
	if err := png.Encode(&buf, src); err != nil { // RGB implements image.Image
		t.Fatal(err)
	}
	got, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got.W != 7 || got.H != 5 || !bytes.Equal(got.Pix, src.Pix) {
		t.Error("PNG round trip changed the image")
	}
	if _, err := Decode(bytes.NewReader([]byte("not an image"))); err == nil {
		t.Error("garbage: no error")
	}
	if _, err := Load("testdata/does-not-exist.png"); err == nil {
		t.Error("missing file: no error")
	}
}

func TestDecodeErrors(t *testing.T) {
	if _, err := FromImage(nil); err == nil {
		t.Error("nil image: no error")
	}
	if _, err := FromImage(image.NewRGBA(image.Rect(0, 0, 0, 5))); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty image: %v, want ErrEmpty", err)
	}
}

func TestImagingFloat(t *testing.T) {
	m := row(0, 51, 255)
	got, err := m.ToCHW(nil, SignedUnitLUT())
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{-1, -0.6, 1}
	for c := range 3 {
		for i, w := range want {
			if d := got[c*3+i] - w; d > 1e-6 || d < -1e-6 {
				t.Errorf("channel %d pixel %d: %v, want %v", c, i, got[c*3+i], w)
			}
		}
	}
	if _, err := m.ToCHW(make([]float32, 8), UnitLUT()); err == nil {
		t.Error("short dst: no error")
	}
	// [-1, 1] planes back to bytes, as diffusers' postprocess (round half to even, clamp).
	back, err := FromSignedCHW(got, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Pix, m.Pix) {
		t.Errorf("round trip: %v, want %v", back.Pix, m.Pix)
	}
	clamp, _ := FromSignedCHW([]float32{-3, 3, 0, -3, 3, 0, -3, 3, 0}, 3, 1)
	if !bytes.Equal(channel0(clamp), []uint8{0, 255, 128}) {
		t.Errorf("clamp: %v", channel0(clamp))
	}
	if _, err := FromSignedCHW(got, 2, 2); err == nil {
		t.Error("wrong size: no error")
	}
}
