package align

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"
)

// BenchmarkALIGN measures embedding throughput on the parity fixture's configuration, through
// EmbedImages (image processor included) and EmbedTexts (tokenizer included), 32 at a time as the
// reward's default batch:
//
//	GOEXPERIMENT=simd go test ./align/ -run '^$' -bench ALIGN
func BenchmarkALIGN(b *testing.B) {
	m, err := LoadALIGN(alignFolder(b))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Finalize()
	ctx := context.Background()
	const batch = 32
	r := rand.New(rand.NewPCG(1, 2))
	images := make([]image.Image, batch)
	texts := make([]string, batch)
	for i := range images {
		img := image.NewRGBA(image.Rect(0, 0, 64, 48))
		for j := range img.Pix {
			img.Pix[j] = uint8(r.IntN(256))
		}
		images[i] = img
		texts[i] = fmt.Sprintf("a photo of a dog number %d on the beach", i)
	}
	b.Run("EmbedImages", func(b *testing.B) {
		if _, err := m.EmbedImages(ctx, images); err != nil { // compile outside the timing
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if _, err := m.EmbedImages(ctx, images); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
	})
	b.Run("EmbedTexts", func(b *testing.B) {
		if _, err := m.EmbedTexts(ctx, texts); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if _, err := m.EmbedTexts(ctx, texts); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "texts/s")
	})
}
