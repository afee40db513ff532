package reward

import (
	"context"
	"errors"
	"image"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestDINOAndCLIPI(t *testing.T) {
	ctx := context.Background()
	gen := []image.Image{solid(colA), solid(colB), solid(colC)}
	// The generated × reference cosine matrix, by hand:
	//	A: 1/√2  1/√2
	//	B: 0     0
	//	C: -1    0
	wantPer := []float64{1 / math.Sqrt2, 0, -0.5}
	wantMean := (2/math.Sqrt2 + 0 - 1) / 6
	for name, per := range map[string]func(context.Context, ImageEmbedder, []image.Image, []image.Image, ...Option) ([]float64, error){
		"DINO": DINOScores, "CLIP-I": CLIPIScores,
	} {
		got, err := per(ctx, newFake(), gen, refs())
		if err != nil {
			t.Fatal(err)
		}
		for i := range wantPer {
			if !near(got[i], wantPer[i]) {
				t.Errorf("%s per image [%d] = %v, want %v", name, i, got[i], wantPer[i])
			}
		}
	}
	for name, agg := range map[string]func(context.Context, ImageEmbedder, []image.Image, []image.Image, ...Option) (float64, error){
		"DINO": DINO, "CLIP-I": CLIPI,
	} {
		got, err := agg(ctx, newFake(), gen, refs())
		if err != nil || !near(got, wantMean) {
			t.Errorf("%s = %v, %v; want the matrix mean %v", name, got, err, wantMean)
		}
	}
	// An image against itself scores 1; raw cosines may be negative (no (c+1)/2 here).
	if got, _ := DINO(ctx, newFake(), []image.Image{solid(colR1)}, []image.Image{solid(colR1)}); !near(got, 1) {
		t.Errorf("DINO of a reference against itself = %v, want 1", got)
	}
	if got, _ := CLIPI(ctx, newFake(), []image.Image{solid(colD)}, []image.Image{solid(colR2)}); !near(got, -1) {
		t.Errorf("CLIP-I of opposite embeddings = %v, want -1", got)
	}
}

func TestImageMetricsBatching(t *testing.T) {
	f := newFake()
	gen := []image.Image{solid(colA), solid(colB), solid(colC)}
	if _, err := DINO(context.Background(), f, gen, refs(), WithBatchSize(2)); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, c := range f.imageCalls {
		sizes = append(sizes, len(c))
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Errorf("batches %v, want references [2] then generated [2 1]", sizes)
	}
}

func TestCLIPT(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	gen := []image.Image{solid(colA), solid(colB)}
	// cos(A, snow) = √(2/3), cos(B, snow) = 1/√3.
	got, err := CLIPT(ctx, f, gen, []string{"a [V] dog in the snow"})
	if want := (math.Sqrt(2.0/3) + 1/math.Sqrt(3)) / 2; err != nil || !near(got, want) {
		t.Errorf("CLIP-T = %v, %v; want %v", got, err, want)
	}
	if len(f.textCalls) != 1 || !slices.Equal(f.textCalls[0], []string{textSnow}) {
		t.Errorf("texts embedded %q, want the prompt without its token", f.textCalls)
	}
	per, err := CLIPTScores(ctx, f, gen, []string{"a sks dog in the snow", "a [V] dog on the beach"})
	if err != nil || !near(per[0], math.Sqrt(2.0/3)) || per[1] != 0 {
		t.Errorf("CLIPTScores = %v, %v; want [√(2/3) 0] (B on the beach: cos -1 clamped to 0)", per, err)
	}
}

// torchmetrics clamps the batch mean; per image the clamp is on each image.
func TestCLIPTClamp(t *testing.T) {
	ctx := context.Background()
	// All negative: cos(C, snow) = -1/√3, cos(B, beach) = -1.
	got, err := CLIPT(ctx, newFake(), []image.Image{solid(colC), solid(colB)}, []string{textSnow, textBeach})
	if err != nil || got != 0 {
		t.Errorf("CLIP-T of negative cosines = %v, %v; want 0", got, err)
	}
	// Mixed: cos(A, snow) = √(2/3) ≈ 0.816 and cos(B, beach) = -1. The batch mean is negative.
	gen := []image.Image{solid(colA), solid(colB)}
	prompts := []string{textSnow, textBeach}
	got, _ = CLIPT(ctx, newFake(), gen, prompts)
	if got != 0 {
		t.Errorf("CLIP-T = %v, want max((0.816 - 1)/2, 0) = 0", got)
	}
	per, _ := CLIPTScores(ctx, newFake(), gen, prompts)
	if !near(mean(per), math.Sqrt(2.0/3)/2) {
		t.Errorf("mean of per-image CLIP-T = %v, want (√(2/3) + 0)/2", mean(per))
	}
	// Mixed with a positive mean: cos(A, snow), cos(C, snow) = √(2/3), -1/√3.
	got, _ = CLIPT(ctx, newFake(), []image.Image{solid(colA), solid(colC)}, []string{textSnow})
	if want := (math.Sqrt(2.0/3) - 1/math.Sqrt(3)) / 2; !near(got, want) {
		t.Errorf("CLIP-T = %v, want %v (negative cosine kept inside the mean)", got, want)
	}
}

func TestMetricsErrors(t *testing.T) {
	ctx := context.Background()
	gen := []image.Image{solid(colA)}
	check := func(err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want one containing %q", err, want)
		}
	}
	_, err := DINO(ctx, nil, gen, refs())
	check(err, "DINO: nil embedder")
	_, err = DINO(ctx, newFake(), nil, refs())
	check(err, "DINO: no generated images")
	_, err = CLIPI(ctx, newFake(), gen, nil)
	check(err, "CLIP-I: empty reference set")
	_, err = CLIPI(ctx, newFake(), gen, []image.Image{solid(colR1), image.NewRGBA(image.Rectangle{})})
	check(err, "CLIP-I references[1]")
	_, err = DINOScores(ctx, newFake(), []image.Image{solid(colA), nil}, refs())
	check(err, "DINO generated[1] is nil")
	_, err = DINO(ctx, newFake(), gen, refs(), WithBatchSize(-1))
	check(err, "batch size -1")
	f := newFake()
	f.failImages = errBoom
	if _, err = DINO(ctx, f, gen, refs()); !errors.Is(err, errBoom) {
		t.Errorf("DINO error %v does not wrap the embedder's", err)
	}
	f = newFake()
	f.images[colA] = []float32{1, 1}
	_, err = CLIPI(ctx, f, gen, refs())
	check(err, "CLIP-I generated[0] has 2 dimensions, want 3")

	_, err = CLIPT(ctx, nil, gen, []string{textSnow})
	check(err, "CLIP-T: nil embedder")
	_, err = CLIPT(ctx, newFake(), nil, []string{textSnow})
	check(err, "CLIP-T: no generated images")
	_, err = CLIPTScores(ctx, newFake(), []image.Image{solid(colA), solid(colB)}, []string{textSnow, textSnow, textSnow})
	check(err, "3 prompts for 2 images")
	f = newFake()
	f.failTexts = errBoom
	if _, err = CLIPT(ctx, f, gen, []string{textSnow}); !errors.Is(err, errBoom) {
		t.Errorf("CLIP-T error %v does not wrap the embedder's", err)
	}
}
