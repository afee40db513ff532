// Package tinyrun writes the folders the fine-tuning programs' tests run on: the tiny
// random-weight Stable Diffusion of the fixtures (fixtures.WriteTinySD), the fixture ALIGN
// (parity/align with the fixture WordPiece vocabulary and preprocessor config), and synthetic
// photos of a subject. With 16×16 images and 2 sampling steps a run of a few steps takes seconds.
package tinyrun

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
)

// Folders are a test's model, reward and photo folders.
type Folders struct{ Model, Reward, Photos string }

// Write writes the folders under a temporary directory of t: four photos (a.png, b.png, c.PNG,
// d.png) and a notes.txt that is not a photo.
func Write(t *testing.T) Folders {
	t.Helper()
	dir := t.TempDir()
	f := Folders{filepath.Join(dir, "sd"), filepath.Join(dir, "align"), filepath.Join(dir, "photos")}
	if err := fixtures.WriteTinySD(f.Model); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{
		"parity/align/config.json":                         "config.json",
		"parity/align/model.safetensors":                   "model.safetensors",
		"tokenizers/bert_vocab.txt":                        "vocab.txt",
		"parity/preprocess/align_preprocessor_config.json": "preprocessor_config.json",
	} {
		copyFile(t, fixtures.Path(t, strings.Split(from, "/")...), filepath.Join(f.Reward, to))
	}
	WritePhotos(t, f.Photos, "a.png", "b.png", "c.PNG", "d.png")
	if err := os.WriteFile(filepath.Join(f.Photos, "notes.txt"), []byte("not a photo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// WritePhotos writes synthetic photos of a "subject" into dir: a red disc on a gradient, moved
// and recoloured from photo to photo, 24×20 so that they are resized and cropped.
func WritePhotos(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, name := range names {
		img := image.NewNRGBA(image.Rect(0, 0, 24, 20))
		for y := range 20 {
			for x := range 24 {
				c := color.NRGBA{uint8(30 + 7*x), uint8(50 + 6*y), uint8(100 + 35*k), 255}
				if dx, dy := x-9-k, y-10+k; dx*dx+dy*dy < 25 {
					c = color.NRGBA{220, 40, uint8(40 * k), 255}
				}
				img.SetNRGBA(x, y, c)
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
