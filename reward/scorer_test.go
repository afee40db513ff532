package reward

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"slices"
	"strings"
	"testing"
)

const tol = 1e-7 // the fake's embeddings are float32

func near(a, b float64) bool { return math.Abs(a-b) < tol }

func newScorer(t *testing.T, f *fakeEmbedder, opts ...Option) *Scorer {
	t.Helper()
	s, err := NewScorer(context.Background(), f, refs(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScorerAlignI(t *testing.T) {
	s := newScorer(t, newFake())
	if s.NumReferences() != 2 {
		t.Fatalf("NumReferences = %d, want 2", s.NumReferences())
	}
	got, err := s.AlignI(context.Background(), []image.Image{solid(colA), solid(colB), solid(colC), solid(colR1)})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{
		(1 + 1/math.Sqrt2) / 2, // mean cos 1/√2
		0.5,                    // orthogonal to both references
		(1 - 0.5) / 2,          // cos -1 and 0: mean -0.5
		(1 + 0.5) / 2,          // a reference itself: cos 1 and 0
	}
	for i := range want {
		if !near(got[i], want[i]) {
			t.Errorf("ALIGN-I[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestScorerAlignTRemovesSubjectToken(t *testing.T) {
	f := newFake()
	s := newScorer(t, f)
	f.reset()
	images := []image.Image{solid(colA), solid(colB), solid(colC), solid(colB)}
	prompts := []string{"a [V] dog in the snow", "a sks dog in the snow", "a [V] dog in the snow", "a [V] dog on the beach"}
	got, err := s.AlignT(context.Background(), images, prompts)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{(1 + math.Sqrt(2.0/3)) / 2, (1 + 1/math.Sqrt(3)) / 2, (1 - 1/math.Sqrt(3)) / 2, 0}
	for i := range want {
		if !near(got[i], want[i]) {
			t.Errorf("ALIGN-T[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	// The embedder saw each cleaned text once and never a token.
	if len(f.textCalls) != 1 || !slices.Equal(f.textCalls[0], []string{textSnow, textBeach}) {
		t.Errorf("texts embedded: %q, want one call with %q", f.textCalls, []string{textSnow, textBeach})
	}
	if got := s.CleanPrompt("a [V] sks dog"); got != "a dog" {
		t.Errorf("CleanPrompt = %q, want %q", got, "a dog")
	}
}

func TestScorerAlignTOnePromptForAll(t *testing.T) {
	f := newFake()
	s := newScorer(t, f)
	f.reset()
	got, err := s.AlignT(context.Background(), []image.Image{solid(colA), solid(colB), solid(colC)}, []string{"a [V] dog in the snow"})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{(1 + math.Sqrt(2.0/3)) / 2, (1 + 1/math.Sqrt(3)) / 2, (1 - 1/math.Sqrt(3)) / 2}
	for i := range want {
		if !near(got[i], want[i]) {
			t.Errorf("ALIGN-T[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if len(f.textCalls) != 1 || len(f.textCalls[0]) != 1 {
		t.Errorf("texts embedded: %q, want the one prompt once", f.textCalls)
	}
}

func TestScorerTokenOptions(t *testing.T) {
	f := newFake()
	f.texts["a [V] dog in the snow"] = []float32{0, 0, 1}
	// The official rule leaves "[V]" between spaces in place.
	s := newScorer(t, f, WithStrip(StripToken))
	if got := s.CleanPrompt("a [V] dog in the snow"); got != "a [V] dog in the snow" {
		t.Errorf("StripToken: CleanPrompt = %q", got)
	}
	at, err := s.AlignT(context.Background(), []image.Image{solid(colB)}, []string{"a [V] dog in the snow"})
	if err != nil || !near(at[0], 1) {
		t.Errorf("ALIGN-T with the token kept = %v, %v; want 1 (B = text direction)", at, err)
	}
	// Only the tokens asked for go.
	s = newScorer(t, f, WithTokens("<dog>"))
	if got := s.CleanPrompt("a [V] sks <dog> dog"); got != "a [V] sks dog" {
		t.Errorf("WithTokens(<dog>): CleanPrompt = %q", got)
	}
	s = newScorer(t, f, WithTokens())
	if got := s.CleanPrompt(" a [V]  dog"); got != " a [V]  dog" {
		t.Errorf("WithTokens(): CleanPrompt = %q, want the prompt as given", got)
	}
}

func TestScorerScore(t *testing.T) {
	f := newFake()
	s := newScorer(t, f)
	images := []image.Image{solid(colA), solid(colB)}
	prompts := []string{"a [V] dog in the snow", "a [V] dog on the beach"}
	ai := []float64{(1 + 1/math.Sqrt2) / 2, 0.5}
	at := []float64{(1 + math.Sqrt(2.0/3)) / 2, 0}
	for _, l := range []float64{0, 0.3, 0.5, 1} {
		f.reset()
		got, err := s.Score(context.Background(), images, prompts, Harmonic(l))
		if err != nil {
			t.Fatal(err)
		}
		if n, calls := f.imageCount(); n != 2 || calls != 1 {
			t.Errorf("λ=%v: embedded %d images in %d calls, want 2 in 1 (once for both scores)", l, n, calls)
		}
		for i := range images {
			var want float64
			switch l {
			case 0:
				want = at[i]
			case 1:
				want = ai[i]
			default:
				want = 1 / (l/(ai[i]+1e-8) + (1-l)/(at[i]+1e-8))
			}
			if !near(got[i].AlignI, ai[i]) || !near(got[i].AlignT, at[i]) || !near(got[i].Reward, want) {
				t.Errorf("λ=%v image %d: %+v, want {%v %v %v}", l, i, got[i], ai[i], at[i], want)
			}
		}
	}
	// ALIGN-T of B on the beach is 0, so its harmonic reward is (almost) 0 for any λ < 1.
	got, _ := s.Score(context.Background(), images, prompts, 0.3)
	if got[1].Reward > 1e-7 {
		t.Errorf("reward with ALIGN-T = 0 is %v, want ≈ 0", got[1].Reward)
	}
	m := got[0].Metrics()
	if m[MetricAlignI] != got[0].AlignI || m[MetricAlignT] != got[0].AlignT || m[MetricReward] != got[0].Reward {
		t.Errorf("Metrics() = %v, want the score's values", m)
	}
}

func TestScorerEmbedsReferencesOnce(t *testing.T) {
	f := newFake()
	s := newScorer(t, f)
	if n, calls := f.imageCount(); n != 2 || calls != 1 {
		t.Fatalf("NewScorer embedded %d images in %d calls, want the 2 references in 1", n, calls)
	}
	f.reset()
	ctx := context.Background()
	imgs := []image.Image{solid(colA)}
	for range 3 {
		if _, err := s.AlignI(ctx, imgs); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Score(ctx, imgs, []string{textSnow}, 0.3); err != nil {
			t.Fatal(err)
		}
	}
	for _, call := range f.imageCalls {
		if slices.Contains(call, colR1) || slices.Contains(call, colR2) {
			t.Fatalf("a reference was embedded again: %v", f.imageCalls)
		}
	}
}

func TestScorerBatching(t *testing.T) {
	f := newFake()
	many := []image.Image{solid(colR1), solid(colR2), solid(colR1), solid(colR2), solid(colR1)}
	s, err := NewScorer(context.Background(), f, many, WithBatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	sizes := func() []int {
		var out []int
		for _, c := range f.imageCalls {
			out = append(out, len(c))
		}
		return out
	}
	if got := sizes(); !slices.Equal(got, []int{2, 2, 1}) {
		t.Errorf("reference batches %v, want [2 2 1]", got)
	}
	f.reset()
	f.texts["a"], f.texts["b"], f.texts["c"] = []float32{1, 0, 0}, []float32{0, 1, 0}, []float32{0, 0, 1}
	imgs := []image.Image{solid(colA), solid(colB), solid(colC)}
	if _, err := s.AlignT(context.Background(), imgs, []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	if got := sizes(); !slices.Equal(got, []int{2, 1}) {
		t.Errorf("image batches %v, want [2 1]", got)
	}
	if len(f.textCalls) != 2 || len(f.textCalls[0]) != 2 || len(f.textCalls[1]) != 1 {
		t.Errorf("text batches %q, want 2 then 1", f.textCalls)
	}
	// Batching does not change the numbers.
	one, _ := NewScorer(context.Background(), newFake(), many, WithBatchSize(100))
	a, _ := s.AlignI(context.Background(), imgs)
	b, _ := one.AlignI(context.Background(), imgs)
	for i := range a {
		if !near(a[i], b[i]) {
			t.Errorf("ALIGN-I[%d]: batch 2 gives %v, batch 100 %v", i, a[i], b[i])
		}
	}
}

func TestScorerEmptyImages(t *testing.T) {
	f := newFake()
	s := newScorer(t, f)
	f.reset()
	ctx := context.Background()
	ai, err1 := s.AlignI(ctx, nil)
	at, err2 := s.AlignT(ctx, nil, []string{textSnow})
	sc, err3 := s.Score(ctx, nil, nil, 0.3)
	if err1 != nil || err2 != nil || err3 != nil || len(ai) != 0 || len(at) != 0 || len(sc) != 0 {
		t.Errorf("no images: %v %v %v, %v %v %v; want empty results", ai, at, sc, err1, err2, err3)
	}
	if len(f.imageCalls)+len(f.textCalls) != 0 {
		t.Errorf("no images, yet the embedder was called: %v %v", f.imageCalls, f.textCalls)
	}
}

var errBoom = errors.New("boom")

func TestScorerErrors(t *testing.T) {
	ctx := context.Background()
	wantErr := func(t *testing.T, err error, contains ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("got no error, want one containing %q", contains)
		}
		for _, c := range contains {
			if !strings.Contains(err.Error(), c) {
				t.Errorf("error %q does not contain %q", err, c)
			}
		}
	}
	var nilRGBA *image.RGBA
	for name, refs := range map[string][]image.Image{
		"empty":      nil,
		"nil":        {solid(colR1), nil},
		"typed nil":  {solid(colR1), nilRGBA},
		"zero-sized": {solid(colR1), image.NewRGBA(image.Rect(3, 3, 3, 9))},
	} {
		t.Run("references "+name, func(t *testing.T) {
			f := newFake()
			_, err := NewScorer(ctx, f, refs)
			if name == "empty" {
				wantErr(t, err, "empty reference set")
			} else {
				wantErr(t, err, "references[1]")
			}
			if len(f.imageCalls) != 0 {
				t.Errorf("the embedder was called before the images were checked")
			}
		})
	}
	t.Run("options", func(t *testing.T) {
		_, err := NewScorer(ctx, nil, refs())
		wantErr(t, err, "nil Embedder")
		_, err = NewScorer(ctx, newFake(), refs(), WithBatchSize(0))
		wantErr(t, err, "batch size 0")
		_, err = NewScorer(ctx, newFake(), refs(), WithTokens("[V]", ""))
		wantErr(t, err, "token 1 is empty")
		_, err = NewScorer(ctx, newFake(), refs(), WithStrip(nil))
		wantErr(t, err, "WithStrip(nil)")
	})
	t.Run("embedder failure", func(t *testing.T) {
		f := newFake()
		f.failImages = errBoom
		_, err := NewScorer(ctx, f, refs())
		wantErr(t, err, "references[0:2]", "boom")
		if !errors.Is(err, errBoom) {
			t.Errorf("error %v does not wrap the embedder's", err)
		}
		f = newFake()
		s := newScorer(t, f)
		f.failTexts = errBoom
		_, err = s.Score(ctx, []image.Image{solid(colA)}, []string{textSnow}, 0.3)
		if !errors.Is(err, errBoom) {
			t.Errorf("text failure: error %v does not wrap the embedder's", err)
		}
	})
	t.Run("embedding count", func(t *testing.T) {
		f := newFake()
		f.dropOne = true
		_, err := NewScorer(ctx, f, refs())
		wantErr(t, err, "returned 1 embeddings, want 2")
	})
	t.Run("embedding dimension", func(t *testing.T) {
		f := newFake()
		f.images[colR2] = []float32{0, 1}
		_, err := NewScorer(ctx, f, refs())
		wantErr(t, err, "references[1]", "2 dimensions, want 3")
		f = newFake()
		s := newScorer(t, f)
		f.images[colA] = []float32{1, 2, 3, 4}
		_, err = s.AlignI(ctx, []image.Image{solid(colB), solid(colA)})
		wantErr(t, err, "images[1]", "4 dimensions, want 3")
		f.texts[textSnow] = []float32{1, 1}
		_, err = s.AlignT(ctx, []image.Image{solid(colB)}, []string{textSnow})
		wantErr(t, err, `prompt text "a dog in the snow"`, "2 dimensions, want 3")
		f.images[colB] = nil
		_, err = s.AlignI(ctx, []image.Image{solid(colB)})
		wantErr(t, err, "images[0]", "empty")
	})
	t.Run("embedding values", func(t *testing.T) {
		f := newFake()
		f.images[colR2] = []float32{0, 0, 0}
		_, err := NewScorer(ctx, f, refs())
		wantErr(t, err, "references[1]", "all zeros")
		f.images[colR2] = []float32{0, float32(math.NaN()), 0}
		_, err = NewScorer(ctx, f, refs())
		wantErr(t, err, "references[1]", "NaN")
	})
	t.Run("prompts", func(t *testing.T) {
		f := newFake()
		s := newScorer(t, f)
		f.reset()
		imgs := []image.Image{solid(colA), solid(colB), solid(colC)}
		_, err := s.AlignT(ctx, imgs, []string{textSnow, textSnow})
		wantErr(t, err, "2 prompts for 3 images")
		_, err = s.Score(ctx, imgs, nil, 0.3)
		wantErr(t, err, "0 prompts for 3 images")
		if len(f.imageCalls) != 0 {
			t.Errorf("images embedded before the prompts were checked")
		}
	})
	t.Run("lambda", func(t *testing.T) {
		f := newFake()
		s := newScorer(t, f)
		f.reset()
		for _, l := range []float64{-0.1, 1.01, math.NaN()} {
			_, err := s.Score(ctx, []image.Image{solid(colA)}, []string{textSnow}, Harmonic(l))
			wantErr(t, err, "λ")
		}
		if len(f.imageCalls)+len(f.textCalls) != 0 {
			t.Errorf("embedding work before λ was checked: %v %v", f.imageCalls, f.textCalls)
		}
	})
	t.Run("image", func(t *testing.T) {
		f := newFake()
		s := newScorer(t, f)
		f.reset()
		_, err := s.AlignI(ctx, []image.Image{solid(colA), image.NewRGBA(image.Rectangle{})})
		wantErr(t, err, "images[1]", "non-empty")
		_, err = s.Score(ctx, []image.Image{nil}, []string{textSnow}, 0.3)
		wantErr(t, err, "images[0] is nil")
		if len(f.imageCalls) != 0 {
			t.Errorf("the embedder saw a bad image")
		}
		_, err = s.AlignI(ctx, []image.Image{solid(color.RGBA{1, 2, 3, 255})})
		wantErr(t, err, "images[0:1]", "no embedding for colour")
	})
	t.Run("cancelled", func(t *testing.T) {
		f := newFake()
		s := newScorer(t, f)
		c, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.AlignI(c, []image.Image{solid(colA)})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}
