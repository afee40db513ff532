package judge

import (
	"context"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gorpo/gorpo/internal/toyworld"
)

var (
	shippedOnce sync.Once
	shipped     *Judge
	shippedErr  error
)

// shippedJudge loads the embedded judge once for all tests.
func shippedJudge(t *testing.T) *Judge {
	t.Helper()
	shippedOnce.Do(func() { shipped, shippedErr = Load() })
	if shippedErr != nil {
		t.Fatalf("Load: %v", shippedErr)
	}
	return shipped
}

func render(t *testing.T, s toyworld.Scene) image.Image {
	t.Helper()
	img, _, err := toyworld.Render(s)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestLoad(t *testing.T) {
	j := shippedJudge(t)
	world := WorldVocabulary()
	for _, h := range Heads() {
		if got := j.Labels(h); strings.Join(got, "|") != strings.Join(world[h], "|") {
			t.Errorf("%s labels %q, want the world's %q", h, got, world[h])
		}
	}
	m := j.Metadata()
	if m.Training == nil || m.Training.Command == "" || m.Training.Steps == 0 || m.HeldOut == nil {
		t.Fatalf("judge.json lacks the training record or the held-out report: %+v", m)
	}
	if len(embeddedWeights) > 2<<20 {
		t.Errorf("shipped weights are %d bytes, want ≤ 2 MiB", len(embeddedWeights))
	}
	t.Logf("trained by %q in %.0f s on %s; held-out %v", m.Training.Command, m.Training.Seconds, m.Training.Machine, m.HeldOut.Accuracy)
}

// The seed ranges of training and held-out data never meet (see the Seeds comment in data.go).
func TestSeedRanges(t *testing.T) {
	if lo := TrainSeed(0, 0); lo < 1<<40 {
		t.Errorf("TrainSeed(0, 0) = %d, want ≥ 2^40", lo)
	}
	for _, end := range []uint64{EvalSeedStart + EvalSize, TestSeedStart + 200} {
		if end >= 1<<32 {
			t.Errorf("held-out seeds reach %d, want < 2^32", end)
		}
	}
	if EvalSeedStart+EvalSize > TestSeedStart {
		t.Errorf("evaluation seeds [%d, %d) overlap the test's from %d", EvalSeedStart, EvalSeedStart+EvalSize, TestSeedStart)
	}
}

// The shipped judge is right on at least 95% of fresh renders for every head: 200 scenes of
// SampleScene's mixture (about 90 of subjects) with seeds [TestSeedStart, TestSeedStart+200),
// which neither training (seeds ≥ 2^40) nor the training program's evaluation used.
func TestHeldOutAccuracy(t *testing.T) {
	j := shippedJudge(t)
	r, err := j.Evaluate(context.Background(), SeedRange(TestSeedStart, 200), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range Heads() {
		if a := r.Accuracy[h.String()]; a < 0.95 {
			t.Errorf("%s accuracy %.3f on held-out renders, want ≥ 0.95", h, a)
		}
	}
	if r.SubjectRecall < 0.95 || r.FalseSubject > 0.05 {
		t.Errorf("subject recall %.3f, false subjects %.3f: want ≥ 0.95 and ≤ 0.05", r.SubjectRecall, r.FalseSubject)
	}
	t.Logf("accuracy %v; subject recall %.3f (recoloured %.3f), false subject %.3f",
		r.Accuracy, r.SubjectRecall, r.RecolouredRecall, r.FalseSubject)
	for i, m := range r.Mistakes {
		if i == 8 {
			break
		}
		t.Logf("mistake ×%d %s: %q → %q", m.Count, m.Head, m.Truth, m.Pred)
	}
}

// Every subject's reference photos are recognised as that subject, and a generic object of the
// subject's class in the subject's colour, in the same place, is not.
func TestReferencesAndLookAlikes(t *testing.T) {
	j := shippedJudge(t)
	for _, s := range toyworld.Subjects() {
		refs := s.References()
		var alike []image.Image
		for _, sc := range s.ReferenceScenes() {
			sc.Subject, sc.Color = "", s.Color
			alike = append(alike, render(t, sc))
		}
		preds, err := j.Predict(context.Background(), append(refs, alike...))
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range preds[:len(refs)] {
			if p.Subject != s.Name || p.Class != s.Class || p.Color != s.Color {
				t.Errorf("%s reference %d judged %s %s %q (p=%.2f), want %s %s %s",
					s.Name, i, p.Color, p.Class, p.Subject, p.Prob[Subject], s.Color, s.Class, s.Name)
			}
		}
		for i, p := range preds[len(refs):] {
			if p.Subject != "" {
				t.Errorf("a generic %s %s like %s's reference %d judged to be %q (p=%.2f)", s.Color, s.Class, s.Name, i, p.Subject, p.Prob[Subject])
			}
		}
	}
}

// A subject recoloured as a property prompt asks ("a purple [V] ball") keeps its identity, and
// the colour head reports the new colour.
func TestRecolouredSubjects(t *testing.T) {
	j := shippedJudge(t)
	var imgs []image.Image
	var want []toyworld.Scene
	for i, s := range toyworld.Subjects() {
		for k, c := range []string{"purple", "green", "black"} {
			sc := toyworld.Scene{Context: "on the beach", Subject: s.Name, Color: c, Seed: uint64(9000 + 10*i + k)}
			imgs = append(imgs, render(t, sc))
			want = append(want, sc)
		}
	}
	preds, err := j.Predict(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	wrong := 0
	for i, p := range preds {
		if p.Subject != want[i].Subject || p.Color != want[i].Color {
			wrong++
			t.Logf("%s in %s judged %s %q", want[i].Subject, want[i].Color, p.Color, p.Subject)
		}
	}
	if wrong > len(preds)/10 {
		t.Errorf("%d of %d recoloured subjects misjudged, want at most 10%%", wrong, len(preds))
	}
}

func TestPredictDeterministicAndBatchIndependent(t *testing.T) {
	j := shippedJudge(t)
	var imgs []image.Image
	for i := range 5 {
		img, _, err := toyworld.Render(SampleScene(TestSeedStart + 500 + uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	ctx := context.Background()
	a, err := j.Predict(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := j.Predict(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		for h := range NumHeads {
			for k := range a[i].Probs[h] {
				if a[i].Probs[h][k] != b[i].Probs[h][k] {
					t.Fatalf("image %d head %s label %d: %v then %v", i, Head(h), k, a[i].Probs[h][k], b[i].Probs[h][k])
				}
			}
		}
	}
	// Alone (a batch of 1) it gets the same labels and nearly the same probabilities.
	one, err := j.Predict(ctx, imgs[3:4])
	if err != nil {
		t.Fatal(err)
	}
	for h := range NumHeads {
		if one[0].Label(Head(h)) != a[3].Label(Head(h)) || math.Abs(one[0].Prob[h]-a[3].Prob[h]) > 1e-4 {
			t.Errorf("head %s: alone %q (%.6f), in a batch %q (%.6f)", Head(h), one[0].Label(Head(h)), one[0].Prob[h],
				a[3].Label(Head(h)), a[3].Prob[h])
		}
	}
	if len(a[0].Probs[Subject]) != len(toyworld.Subjects())+1 {
		t.Errorf("subject head has %d probabilities, want %d", len(a[0].Probs[Subject]), len(toyworld.Subjects())+1)
	}
}

// Pictures of another size are resized to 32×32 first.
func TestPredictResizes(t *testing.T) {
	j := shippedJudge(t)
	src := render(t, toyworld.Scene{Context: "in the snow", Subject: "robot_toy", Seed: 77})
	big := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			big.Set(x, y, src.At(x/2, y/2))
		}
	}
	preds, err := j.Predict(context.Background(), []image.Image{big})
	if err != nil {
		t.Fatal(err)
	}
	if p := preds[0]; p.Subject != "robot_toy" || p.Context != "in the snow" {
		t.Errorf("64×64 robot in the snow judged %q %q", p.Subject, p.Context)
	}
}

func TestPredictErrors(t *testing.T) {
	j := shippedJudge(t)
	ok := render(t, toyworld.Scene{Context: "on the beach", Class: "ball", Color: "red", Seed: 1})
	for name, imgs := range map[string][]image.Image{
		"nil":   {ok, nil},
		"empty": {ok, image.NewRGBA(image.Rect(0, 0, 0, 0))},
		"flat":  {ok, image.NewRGBA(image.Rect(0, 0, 32, 0))},
	} {
		if _, err := j.Predict(context.Background(), imgs); err == nil || !strings.Contains(err.Error(), "image 1") {
			t.Errorf("%s image: error %v, want one naming image 1", name, err)
		}
	}
	if preds, err := j.Predict(context.Background(), nil); err != nil || len(preds) != 0 {
		t.Errorf("no images: %v, %v; want no predictions and no error", preds, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := j.Predict(ctx, []image.Image{ok}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v, want context.Canceled", err)
	}
}

// Save then Open gives the same judge; a judge.json from another vocabulary is refused.
func TestSaveOpenAndStale(t *testing.T) {
	j := shippedJudge(t)
	dir := t.TempDir()
	if err := j.Save(dir, nil, nil); err != nil {
		t.Fatal(err)
	}
	k, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Finalize()
	img := render(t, toyworld.Scene{Context: "on the Moon", Subject: "tabby_cat", Seed: 5})
	a, err := j.Predict(context.Background(), []image.Image{img})
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.Predict(context.Background(), []image.Image{img})
	if err != nil {
		t.Fatal(err)
	}
	if a[0].Prob != b[0].Prob || a[0].Subject != b[0].Subject {
		t.Errorf("reopened judge: %v %q, original %v %q", b[0].Prob, b[0].Subject, a[0].Prob, a[0].Subject)
	}

	meta, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if err != nil {
		t.Fatal(err)
	}
	stale := strings.Replace(string(meta), `"on the beach"`, `"on the sand"`, 1)
	if err := os.WriteFile(filepath.Join(dir, MetadataFile), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrStale) {
		t.Errorf("judge.json with a renamed context: %v, want ErrStale", err)
	}
	if _, err := Open(t.TempDir()); err == nil {
		t.Error("Open of an empty folder: no error")
	}
	if _, err := load([]byte("not safetensors"), embeddedMeta, "bad"); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("corrupt weights: %v, want an error naming them", err)
	}
}

// A tiny network trains without error, and the same seed gives the same weights.
func TestTrainDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	opts := TrainOptions{Config: Config{ImageSize: 32, Channels: []int{8, 16}, Blocks: []int{0, 1}, Groups: 4},
		Steps: 3, Batch: 8, Seed: 3}
	var losses []float64
	opts.Progress = func(p TrainProgress) { losses = append(losses, p.Loss) }
	a, err := Train(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Finalize()
	b, err := Train(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if len(losses) != 6 || losses[0] != losses[3] || losses[2] != losses[5] {
		t.Errorf("losses of two runs %v, want the same three twice", losses)
	}
	img := render(t, toyworld.Scene{Context: "on a bed", Class: "cup", Color: "blue", Seed: 2})
	pa, err := a.Predict(context.Background(), []image.Image{img})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.Predict(context.Background(), []image.Image{img})
	if err != nil {
		t.Fatal(err)
	}
	if pa[0].Prob != pb[0].Prob {
		t.Errorf("same seed, different judges: %v vs %v", pa[0].Prob, pb[0].Prob)
	}
	if _, err := Train(context.Background(), TrainOptions{Steps: 0, Batch: 8}); err == nil {
		t.Error("Train with no steps: no error")
	}
}

// Predict may be called from several goroutines at once.
func TestConcurrentPredict(t *testing.T) {
	j := shippedJudge(t)
	img := render(t, toyworld.Scene{Context: "in the jungle", Subject: "patch_dog", Seed: 4})
	want, err := j.Predict(context.Background(), []image.Image{img})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := j.Predict(context.Background(), []image.Image{img})
			if err == nil && got[0].Prob != want[0].Prob {
				err = errors.New("concurrent prediction differs")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
