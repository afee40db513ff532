package diffusion_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/schedule"
)

// The tiny pipeline is loaded once and shared: its models compile once per batch shape.
var tinySD struct {
	once sync.Once
	p    *diffusion.Pipeline
	err  error
}

func tinyPipeline(t *testing.T) *diffusion.Pipeline {
	t.Helper()
	tinySD.once.Do(func() {
		dir, err := os.MkdirTemp("", "tiny-sd")
		if err != nil {
			tinySD.err = err
			return
		}
		defer os.RemoveAll(dir) // the loaded pipeline keeps its weights in memory
		if tinySD.err = fixtures.WriteTinySD(dir); tinySD.err == nil {
			tinySD.p, tinySD.err = diffusion.LoadPipeline(dir)
		}
	})
	if tinySD.err != nil {
		t.Fatal(tinySD.err)
	}
	return tinySD.p
}

// tinyDir writes a fresh tiny SD folder under a test temp dir.
func tinyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := fixtures.WriteTinySD(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// generate runs GenerateTensors, failing the test on error.
func generate(t *testing.T, p *diffusion.Pipeline, prompts []string, opts ...diffusion.Option) ([]float32, [4]int) {
	t.Helper()
	out, shape, err := p.GenerateTensors(context.Background(), prompts, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return out, shape
}

// image i of an NCHW batch.
func imageOf(x []float32, shape [4]int, i int) []float32 {
	n := shape[1] * shape[2] * shape[3]
	return x[i*n : (i+1)*n]
}

// maxAbsDiff is max |a-b|, +Inf when the lengths differ or either side holds a NaN (so that a
// NaN never reads as "identical" or as "within tolerance").
func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		x := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(x) {
			return math.Inf(1)
		}
		d = max(d, x)
	}
	return d
}

// Same seed, same pixels; another seed, other pixels; values finite and images 8-bit RGB.
func TestPipelineDeterminism(t *testing.T) {
	p := tinyPipeline(t)
	opts := []diffusion.Option{diffusion.Steps(3), diffusion.Seed(7)}
	start := time.Now()
	a, shape := generate(t, p, []string{"a photo of a dog"}, opts...)
	t.Logf("one 32×32 image, 3 PNDM steps (4 U-Net calls of batch 2) + VAE: %v", time.Since(start))
	b, _ := generate(t, p, []string{"a photo of a dog"}, opts...)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed: max |a-b| = %g, want identical pixels", maxAbsDiff(a, b))
	}
	c, _ := generate(t, p, []string{"a photo of a dog"}, diffusion.Steps(3), diffusion.Seed(8))
	if d := maxAbsDiff(a, c); d == 0 {
		t.Fatal("seeds 7 and 8 gave the same pixels")
	}
	if want := [4]int{1, 3, 32, 32}; shape != want {
		t.Fatalf("shape %v, want %v", shape, want)
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range a {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("non-finite pixel %v", v)
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	t.Logf("decoded pixel range [%.3f, %.3f]", lo, hi)

	images, err := p.Generate(context.Background(), []string{"a photo of a dog"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	rgb, ok := images[0].(*imaging.RGB)
	if !ok {
		t.Fatalf("image is %T, want *imaging.RGB", images[0])
	}
	want, err := imaging.FromSignedCHW(a, 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rgb.Pix, want.Pix) {
		t.Fatal("Generate's pixels differ from GenerateTensors' post-processed")
	}
}

// closeTo reports whether a and b agree to float rounding: max |a-b| ≤ 1e-4·max |b|. The Go
// backend's kernels sum in an order that depends on the batch size, so an image computed in a
// batch of 3 differs from the same image computed alone by ~1e-6 relative.
func closeTo(a, b []float32) (bool, float64) {
	scale := 0.0
	for _, v := range b {
		scale = max(scale, math.Abs(float64(v)))
	}
	d := maxAbsDiff(a, b)
	return len(a) == len(b) && d <= 1e-4*scale, d
}

// An image depends on its own prompt and seed only: in a batch of 3 its pixels are the same
// whatever its neighbours' prompts and seeds, and generated alone or over batches of 2 they agree
// to float rounding, for deterministic and stochastic samplers.
func TestPipelinePerImageSeeds(t *testing.T) {
	p := tinyPipeline(t)
	prompts := []string{"a red car", "a photo of a dog", "a tree in the snow"}
	others := []string{"a blue boat", "a photo of a dog", "a house"}
	seeds := []uint64{10, 11, 12}
	for _, c := range []struct {
		name string
		opts []diffusion.Option
	}{
		{"PNDM", nil},
		{"DDPM", []diffusion.Option{diffusion.SchedulerClass(schedule.ClassDDPM)}},
		{"DDIM eta=0.7", []diffusion.Option{diffusion.SchedulerClass(schedule.ClassDDIM), diffusion.Eta(0.7)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := append([]diffusion.Option{diffusion.Steps(3), diffusion.Size(16, 16)}, c.opts...)
			batch, shape := generate(t, p, prompts, append(opts, diffusion.Seeds(seeds...), diffusion.BatchSize(3))...)
			neighbours, _ := generate(t, p, others, append(opts, diffusion.Seeds(20, seeds[1], 21), diffusion.BatchSize(3))...)
			if d := maxAbsDiff(imageOf(neighbours, shape, 1), imageOf(batch, shape, 1)); d != 0 {
				t.Errorf("same image, other neighbours: max |a-b| = %g, want 0", d)
			}
			alone, _ := generate(t, p, prompts[1:2], append(opts, diffusion.Seeds(seeds[1]))...)
			if ok, d := closeTo(alone, imageOf(batch, shape, 1)); !ok {
				t.Errorf("image alone vs in a batch of 3: max |a-b| = %g", d)
			} else {
				t.Logf("image alone vs in a batch of 3: max |a-b| = %.3g", d)
			}
			split, _ := generate(t, p, prompts, append(opts, diffusion.Seeds(seeds...), diffusion.BatchSize(2))...)
			if ok, d := closeTo(split, batch); !ok {
				t.Errorf("one batch of 3 vs batches of 2 and 1: max |a-b| = %g", d)
			}
			if maxAbsDiff(imageOf(batch, shape, 0), imageOf(batch, shape, 2)) == 0 {
				t.Error("two prompts with two seeds gave the same image")
			}
		})
	}
	// The stochastic sampler's own noise matters: DDIM with η > 0 differs from η = 0.
	ddim := []diffusion.Option{diffusion.Steps(3), diffusion.Seed(3), diffusion.Size(16, 16), diffusion.SchedulerClass(schedule.ClassDDIM)}
	a, _ := generate(t, p, prompts[:1], ddim...)
	b, _ := generate(t, p, prompts[:1], append(ddim, diffusion.Eta(1))...)
	if maxAbsDiff(a, b) == 0 {
		t.Error("DDIM eta 1 gave the same image as eta 0")
	}
}

// Images come out at the default size (sample_size × the VAE factor) or the size asked for.
func TestPipelineSize(t *testing.T) {
	p := tinyPipeline(t)
	h, w, err := p.DefaultSize()
	if err != nil {
		t.Fatal(err)
	}
	f := p.ScaleFactor()
	if want := p.UNet.Config().SampleSize.At(0) * f; h != want || w != want {
		t.Fatalf("DefaultSize %d×%d, want %d (sample_size × %d)", h, w, want, f)
	}
	images, err := p.Generate(context.Background(), []string{"a dog", "a cat"}, diffusion.Steps(2),
		diffusion.Size(4*f, 6*f), diffusion.ImagesPerPrompt(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 4 {
		t.Fatalf("%d images, want 2 prompts × 2", len(images))
	}
	for _, img := range images {
		if got := img.Bounds().Size(); got != image.Pt(6*f, 4*f) {
			t.Fatalf("image size %v, want %v", got, image.Pt(6*f, 4*f))
		}
	}
	latents, shape, err := p.GenerateLatents(context.Background(), []string{"a dog"}, diffusion.Steps(2), diffusion.Size(4*f, 6*f))
	if err != nil {
		t.Fatal(err)
	}
	if want := [4]int{1, p.UNet.Config().InChannels, 4, 6}; shape != want || len(latents) != 4*4*6 {
		t.Fatalf("latents %d values of shape %v, want %v", len(latents), shape, want)
	}
	decoded, dshape, err := p.DecodeLatents(context.Background(), latents, shape)
	if err != nil {
		t.Fatal(err)
	}
	full, fshape := generate(t, p, []string{"a dog"}, diffusion.Steps(2), diffusion.Size(4*f, 6*f))
	if dshape != fshape || !slices.Equal(decoded, full) {
		t.Fatalf("DecodeLatents(GenerateLatents) %v differs from GenerateTensors %v", dshape, fshape)
	}
}

// Progress counts every step of every batch; cancelling stops the run at the next step.
func TestPipelineProgressAndCancel(t *testing.T) {
	p := tinyPipeline(t)
	var calls [][2]int
	_, _, err := p.GenerateLatents(context.Background(), []string{"a", "b", "c"}, diffusion.Steps(3),
		diffusion.BatchSize(2), diffusion.SchedulerClass(schedule.ClassDDIM), diffusion.Size(16, 16),
		diffusion.Progress(func(step, total int) { calls = append(calls, [2]int{step, total}) }))
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]int{{1, 6}, {2, 6}, {3, 6}, {4, 6}, {5, 6}, {6, 6}}
	if !slices.Equal(calls, want) {
		t.Fatalf("progress calls %v, want %v", calls, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	steps := 0
	_, _, err = p.GenerateLatents(ctx, []string{"a dog"}, diffusion.Steps(50), diffusion.Size(16, 16),
		diffusion.Progress(func(step, total int) {
			steps = step
			if step == 2 {
				cancel()
			}
		}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if steps != 2 {
		t.Fatalf("%d steps ran, want 2 (cancelled after the second)", steps)
	}
	t.Logf("cancelled run: %v", err)

	ctx, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := p.Generate(ctx, []string{"a dog"}, diffusion.Steps(2)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before start: err = %v", err)
	}
}

// Guidance ≤ 1 skips the unconditional pass: negative prompts then change nothing; with guidance
// they do.
func TestPipelineGuidance(t *testing.T) {
	p := tinyPipeline(t)
	base := []diffusion.Option{diffusion.Steps(2), diffusion.Seed(5), diffusion.Size(16, 16)}
	g1, _ := generate(t, p, []string{"a dog"}, append(base, diffusion.Guidance(1))...)
	g1neg, _ := generate(t, p, []string{"a dog"}, append(base, diffusion.Guidance(1), diffusion.NegativePrompts("a cat"))...)
	if !slices.Equal(g1, g1neg) {
		t.Error("guidance 1: the negative prompt changed the image")
	}
	g75, _ := generate(t, p, []string{"a dog"}, base...)
	g75neg, _ := generate(t, p, []string{"a dog"}, append(base, diffusion.NegativePrompt("a cat"))...)
	if maxAbsDiff(g1, g75) == 0 {
		t.Error("guidance 1 and 7.5 gave the same image")
	}
	if maxAbsDiff(g75, g75neg) == 0 {
		t.Error("guidance 7.5: the negative prompt changed nothing")
	}
	// NegativePrompts pairs by index; the rest get NegativePrompt's text.
	two, shape := generate(t, p, []string{"a dog", "a dog"}, append(base, diffusion.Seeds(5, 5),
		diffusion.NegativePrompts(""), diffusion.NegativePrompt("a cat"))...)
	ok0, d0 := closeTo(imageOf(two, shape, 0), g75)
	ok1, d1 := closeTo(imageOf(two, shape, 1), g75neg)
	if !ok0 || !ok1 {
		t.Errorf("NegativePrompts / NegativePrompt pairing: max |a-b| = %g, %g", d0, d1)
	}
	// clip_skip reaches the text encoder.
	skip, _ := generate(t, p, []string{"a dog"}, append(base, diffusion.ClipSkip(1))...)
	if maxAbsDiff(skip, g75) == 0 {
		t.Error("ClipSkip(1) changed nothing")
	}
}

// Another sampler by configuration: the Scheduler option.
func TestPipelineScheduler(t *testing.T) {
	p := tinyPipeline(t)
	base := []diffusion.Option{diffusion.Steps(3), diffusion.Seed(1), diffusion.Size(16, 16)}
	asClass, _ := generate(t, p, []string{"a dog"}, append(base, diffusion.SchedulerClass(schedule.ClassEuler))...)
	cfg, err := p.Scheduler.As(schedule.ClassEuler)
	if err != nil {
		t.Fatal(err)
	}
	asConfig, _ := generate(t, p, []string{"a dog"}, append(base, diffusion.Scheduler(cfg))...)
	if !slices.Equal(asClass, asConfig) {
		t.Error("SchedulerClass and Scheduler(As) differ")
	}
	pndm, _ := generate(t, p, []string{"a dog"}, base...)
	if maxAbsDiff(asClass, pndm) == 0 {
		t.Error("Euler gave PNDM's image")
	}
	bad, _ := schedule.Defaults(schedule.ClassDDIM)
	bad.BetaSchedule = "nonsense"
	if _, _, err := p.GenerateLatents(context.Background(), []string{"a dog"}, append(base, diffusion.Scheduler(bad))...); err == nil ||
		!strings.Contains(err.Error(), "beta_schedule") {
		t.Errorf("bad scheduler config: err = %v", err)
	}
}

func TestPipelineErrors(t *testing.T) {
	p := tinyPipeline(t)
	ctx := context.Background()
	f := p.ScaleFactor()
	for _, c := range []struct {
		name    string
		prompts []string
		opts    []diffusion.Option
		want    string
	}{
		{"no prompts", nil, nil, "no prompts"},
		{"negatives", []string{"a"}, []diffusion.Option{diffusion.NegativePrompts("x", "y")}, "2 negative prompts for 1 prompts"},
		{"height", []string{"a"}, []diffusion.Option{diffusion.Size(4*f+1, 4*f)}, "multiples of 2"},
		{"width", []string{"a"}, []diffusion.Option{diffusion.Size(4*f, -f)}, "want positive"},
		{"seeds", []string{"a", "b"}, []diffusion.Option{diffusion.Seeds(1)}, "1 seeds for 2 images"},
		{"steps", []string{"a"}, []diffusion.Option{diffusion.Steps(0)}, "steps 0"},
		{"too many steps", []string{"a"}, []diffusion.Option{diffusion.Steps(5000)}, "5000"},
		{"batch", []string{"a"}, []diffusion.Option{diffusion.BatchSize(0)}, "batch size 0"},
		{"eta", []string{"a"}, []diffusion.Option{diffusion.Eta(2)}, "eta 2"},
		{"guidance", []string{"a"}, []diffusion.Option{diffusion.Guidance(math.NaN())}, "guidance scale NaN"},
		{"clip skip", []string{"a"}, []diffusion.Option{diffusion.ClipSkip(9)}, "clip skip 9"},
		{"class", []string{"a"}, []diffusion.Option{diffusion.SchedulerClass("LMSDiscreteScheduler")}, "LMSDiscreteScheduler"},
	} {
		// Steps(1) first, so that a case that wrongly passes is quick; the case's options win.
		_, err := p.Generate(ctx, c.prompts, append([]diffusion.Option{diffusion.Steps(1)}, c.opts...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

// WritePNGs writes readable PNGs with the images' pixels, atomically (no temporary files left).
func TestPipelineWritePNGs(t *testing.T) {
	p := tinyPipeline(t)
	images, err := p.Generate(context.Background(), []string{"a dog", "a cat"}, diffusion.Steps(2), diffusion.Size(16, 16))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	paths, err := diffusion.WritePNGs(dir, "s-", images)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "s-0000.png"), filepath.Join(dir, "s-0001.png")}; !slices.Equal(paths, want) {
		t.Fatalf("paths %v, want %v", paths, want)
	}
	for i, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		back, err := imaging.FromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back.Pix, images[i].(*imaging.RGB).Pix) {
			t.Fatalf("%s: pixels differ after the round trip", path)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("%d files in %s, want 2 (no temporary files)", len(entries), dir)
	}
}
