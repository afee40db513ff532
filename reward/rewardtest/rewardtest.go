// Package rewardtest provides what tests of code built on package reward (and on rpo, which
// scores with it) need, as net/http/httptest does for net/http: a deterministic stand-in for an
// embedding model (ALIGN, CLIP) and synthetic reference photos of a subject.
package rewardtest

import (
	"context"
	"hash/fnv"
	"image"
	"image/color"
	"math/rand/v2"
	"sync"
)

// FakeEmbedder is a deterministic stand-in for ALIGN, a reward.Embedder that loads nothing and
// computes in microseconds: an image's embedding is the mean colour of its four quadrants (12
// values, each offset by −0.45 so none is zero), a text's 12 standard normals drawn from a PCG
// seeded with the text's FNV-1a hash. Its scores mean nothing; they are stable, which is what a
// test wants. It counts its calls (Calls) and is safe for concurrent use.
type FakeEmbedder struct {
	mu                   sync.Mutex
	imageCalls, images   int
	textCalls, textCount int
}

// NewFakeEmbedder returns a FakeEmbedder with no calls counted.
func NewFakeEmbedder() *FakeEmbedder { return &FakeEmbedder{} }

// Calls returns how many times EmbedImages and EmbedTexts were called and how many images and
// texts they embedded in all.
func (f *FakeEmbedder) Calls() (imageCalls, images, textCalls, texts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.imageCalls, f.images, f.textCalls, f.textCount
}

// EmbedImages returns each image's 12 quadrant colour means (RGB of the top-left, top-right,
// bottom-left and bottom-right quarters, minus 0.45), or ctx's error.
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

// EmbedTexts returns for each text 12 standard normals drawn from a PCG seeded with the text's
// FNV-1a hash, or ctx's error.
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

// References returns n synthetic "photos" of a subject, 20×24 pixels (so that a pipeline resizes
// and crops them to its model's size): a red disc on a colour gradient, moved and tinted per
// photo. The same n gives the same images.
func References(n int) []image.Image {
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
