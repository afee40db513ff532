package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pngClaiming is a valid 2×2 PNG whose IHDR is rewritten to declare w×h (CRC fixed): a file of a
// few hundred bytes that would make a decoder allocate w·h·4 bytes.
func pngClaiming(t testing.TB, w, h uint32) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	img.Set(1, 1, color.NRGBA{200, 10, 10, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	// Signature (8), IHDR length (4), "IHDR" (4), width, height, ...; the CRC covers type + data.
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

// A header that declares more pixels than the limit is refused before decoding (issue 12: a
// 312-byte PNG claiming 60000×60000 RGBA killed the process); the limit can be raised.
func TestDecodeLimit(t *testing.T) {
	huge := pngClaiming(t, 60000, 60000)
	_, err := Decode(bytes.NewReader(huge))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "60000×60000") {
		t.Fatalf("Decode of a %d-byte file claiming 60000×60000: %v, want ErrTooLarge naming the size", len(huge), err)
	}
	path := filepath.Join(t.TempDir(), "bomb.png")
	if err := os.WriteFile(path, huge, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load: %v, want ErrTooLarge naming %s", err, path)
	}
	// At the limit and just over it, with a small limit.
	ok := pngClaiming(t, 2, 2)
	if _, err := DecodeMax(bytes.NewReader(ok), 4); err != nil {
		t.Errorf("2×2 with a limit of 4 pixels: %v", err)
	}
	if _, err := DecodeMax(bytes.NewReader(ok), 3); !errors.Is(err, ErrTooLarge) {
		t.Errorf("2×2 with a limit of 3 pixels: %v, want ErrTooLarge", err)
	}
}

// FuzzDecode: any bytes decode to an RGB image of the declared size within the limit, or give an
// error; never a panic or an allocation beyond the limit.
func FuzzDecode(f *testing.F) {
	f.Add(pngClaiming(f, 2, 2))
	f.Add(pngClaiming(f, 60000, 60000))
	var j bytes.Buffer
	_ = jpeg.Encode(&j, image.NewGray(image.Rect(0, 0, 8, 8)), nil)
	f.Add(j.Bytes())
	f.Add([]byte("not an image"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 20
		m, err := DecodeMax(bytes.NewReader(data), limit)
		if err != nil {
			return
		}
		if m.W <= 0 || m.H <= 0 || m.W*m.H > limit || len(m.Pix) != 3*m.W*m.H {
			t.Fatalf("decoded %dx%d with %d bytes", m.W, m.H, len(m.Pix))
		}
	})
}
