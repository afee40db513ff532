package rpo

import (
	"context"
	"hash/fnv"
	"image"
	"image/color"
	"math/rand/v2"
	"sync"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/fixtures"
)

// Test fixtures of the Trainer: a tiny Stable Diffusion folder made of the random-weight parity
// fixtures (fixtures.WriteTinySD), a fake embedder, and synthetic reference photos.

// WriteTinySD is fixtures.WriteTinySD for the examples (package rpo_test).
var WriteTinySD = fixtures.WriteTinySD

// NewFakeEmbedder is newFakeEmbedder for the examples.
func NewFakeEmbedder() *FakeEmbedder { return newFakeEmbedder() }

// TestReferences is testReferences for the examples.
var TestReferences = testReferences

// FakeEmbedder is a deterministic stand-in for ALIGN: an image's embedding is the mean colour of
// its four quadrants (12 values, each offset so none is zero), a text's 12 standard normals drawn
// from a PCG seeded with the text's FNV hash. It counts its calls.
type FakeEmbedder struct {
	mu                   sync.Mutex
	imageCalls, images   int
	textCalls, textCount int
}

func newFakeEmbedder() *FakeEmbedder { return &FakeEmbedder{} }

func (f *FakeEmbedder) EmbedImages(ctx context.Context, images []image.Image) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.imageCalls++
	f.images += len(images)
	f.mu.Unlock()
	out := make([][]float32, len(images))
	for i, img := range images {
		b := img.Bounds()
		var sum [12]float64
		var count [4]float64
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				q := 0
				if 2*(x-b.Min.X) >= b.Dx() {
					q++
				}
				if 2*(y-b.Min.Y) >= b.Dy() {
					q += 2
				}
				r, g, bl, _ := img.At(x, y).RGBA()
				sum[3*q] += float64(r) / 0xffff
				sum[3*q+1] += float64(g) / 0xffff
				sum[3*q+2] += float64(bl) / 0xffff
				count[q]++
			}
		}
		e := make([]float32, 12)
		for j := range e {
			e[j] = float32(sum[j]/max(count[j/3], 1)) - 0.45
		}
		out[i] = e
	}
	return out, nil
}

func (f *FakeEmbedder) EmbedTexts(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.textCalls++
	f.textCount += len(texts)
	f.mu.Unlock()
	out := make([][]float32, len(texts))
	for i, t := range texts {
		h := fnv.New64a()
		h.Write([]byte(t))
		r := rand.New(rand.NewPCG(h.Sum64(), 7))
		e := make([]float32, 12)
		for j := range e {
			e[j] = float32(r.NormFloat64())
		}
		out[i] = e
	}
	return out, nil
}

// testReferences returns n synthetic "photos" of a subject, 20×24 (so they are resized and
// cropped to the model's size): a coloured disc on a gradient, varied per photo.
func testReferences(n int) []image.Image {
	out := make([]image.Image, n)
	for k := range out {
		img := image.NewNRGBA(image.Rect(0, 0, 20, 24))
		cx, cy := 8+k, 11-k
		for y := range 24 {
			for x := range 20 {
				c := color.NRGBA{uint8(40 + 8*x), uint8(60 + 5*y), uint8(120 + 30*k), 255}
				if (x-cx)*(x-cx)+(y-cy)*(y-cy) < 30 {
					c = color.NRGBA{220, 40, uint8(30 * k), 255}
				}
				img.SetNRGBA(x, y, c)
			}
		}
		out[k] = img
	}
	return out
}

// loadTinySD loads the tiny pipeline from dir.
func loadTinySD(dir string) (*diffusion.Pipeline, error) { return diffusion.LoadPipeline(dir) }
