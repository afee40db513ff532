package align

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// clipParityTol is the fixtures' bound for a correct float32 implementation (max|a-b|/max|b|).
const clipParityTol = 1e-4

// clipIONames lists a fixture's io.safetensors tensors and fails unless every wanted one is there.
func clipIONames(t testing.TB, f *safetensors.File, want ...string) {
	t.Helper()
	names := f.Names()
	t.Logf("%s: %v", f.Path, names)
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Fatalf("%s has no tensor %q (it has %v)", f.Path, w, names)
		}
	}
}

// clipCheckRows compares rows with the fixture tensor name [len(rows), d].
func clipCheckRows(t *testing.T, io *safetensors.File, name string, rows [][]float32) {
	t.Helper()
	want, shape := fixtures.Float32(t, io, name)
	if len(shape) != 2 || len(rows) != shape[0] {
		t.Fatalf("%s: %d rows, want shape %v", name, len(rows), shape)
	}
	var got []float32
	for i, r := range rows {
		if len(r) != shape[1] {
			t.Fatalf("%s: row %d has %d values, want %d", name, i, len(r), shape[1])
		}
		got = append(got, r...)
	}
	e := fixtures.RelErr(got, want)
	t.Logf("%s: max|a-b|/max|b| = %.3g", name, e)
	if e > clipParityTol {
		t.Errorf("%s: relative error %.3g > %.3g", name, e, clipParityTol)
	}
}

// clipInputs reads the CLIP fixture's pixel values and token ids.
func clipInputs(t testing.TB, io *safetensors.File) (pixels []float32, shape []int, ids [][]int) {
	t.Helper()
	pixels, shape = fixtures.Float32(t, io, "pixel_values")
	flat, idShape := fixtures.Int64(t, io, "input_ids")
	ids = make([][]int, idShape[0])
	for i := range ids {
		for _, v := range flat[i*idShape[1] : (i+1)*idShape[1]] {
			ids[i] = append(ids[i], int(v))
		}
	}
	return pixels, shape, ids
}

func TestCLIPParity(t *testing.T) {
	io := fixtures.IO(t, "clip")
	clipIONames(t, io, "pixel_values", "input_ids", "image_features", "text_features", "image_embeds", "text_embeds", "logits_per_image")
	m, err := LoadCLIP(fixtures.Path(t, "parity", "clip"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	pixels, shape, ids := clipInputs(t, io)
	ctx := context.Background()
	out, err := m.Forward(ctx, pixels, shape, ids)
	if err != nil {
		t.Fatal(err)
	}
	clipCheckRows(t, io, "image_features", out.ImageFeatures)
	clipCheckRows(t, io, "text_features", out.TextFeatures)
	clipCheckRows(t, io, "image_embeds", out.ImageEmbeds)
	clipCheckRows(t, io, "text_embeds", out.TextEmbeds)
	clipCheckRows(t, io, "logits_per_image", out.LogitsPerImage)

	// The separate host calls give the same features.
	img, err := m.ImageFeaturesNCHW(ctx, pixels, shape)
	if err != nil {
		t.Fatal(err)
	}
	clipCheckRows(t, io, "image_features", img)
	txt, err := m.TextFeaturesIDs(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	clipCheckRows(t, io, "text_features", txt)

	// logits_per_image = exp(logit_scale)·cosine, from the features and LogitScale.
	scale, err := m.LogitScale()
	if err != nil {
		t.Fatal(err)
	}
	logits := make([][]float32, len(img))
	for i := range img {
		for j := range txt {
			var dot, ni, nt float64
			for k := range img[i] {
				dot += float64(img[i][k]) * float64(txt[j][k])
				ni += float64(img[i][k]) * float64(img[i][k])
				nt += float64(txt[j][k]) * float64(txt[j][k])
			}
			logits[i] = append(logits[i], float32(math.Exp(float64(scale))*dot/math.Sqrt(ni*nt)))
		}
	}
	clipCheckRows(t, io, "logits_per_image", logits)
}

// clipCopyFile copies src to dst.
func clipCopyFile(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// clipFolder copies the CLIP fixture with the preprocess fixture's CLIPImageProcessor config.
func clipFolder(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"config.json", "model.safetensors"} {
		clipCopyFile(t, fixtures.Path(t, "parity", "clip", name), filepath.Join(dir, name))
	}
	clipCopyFile(t, fixtures.Path(t, "parity", "preprocess", "clip_preprocessor_config.json"), filepath.Join(dir, "preprocessor_config.json"))
	return dir
}

// clipTokenizerFolder is clipFolder with CLIP's real tokenizer files and a text tower widened to
// CLIP's 49408-token vocabulary (the fixture's 1000 embeddings, then rows repeating them) with
// eos_token_id 49407, so EmbedTexts can run real prompts through it.
func clipTokenizerFolder(t testing.TB) string {
	t.Helper()
	dir := clipFolder(t)
	for _, name := range []string{"vocab.json", "merges.txt"} {
		clipCopyFile(t, fixtures.Path(t, "tokenizers", "clip", name), filepath.Join(dir, name))
	}
	var cfg map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	text := cfg["text_config"].(map[string]any)
	const vocab = 49408
	text["vocab_size"], text["eos_token_id"], text["bos_token_id"] = vocab, 49407, 49406
	data, _ = json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []*safetensors.Tensor
	for _, name := range f.Names() {
		v, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "text_model.embeddings.token_embedding.weight" {
			d := shape[1]
			wide := make([]float32, vocab*d)
			for i := range vocab {
				copy(wide[i*d:(i+1)*d], v[(i%shape[0])*d:])
			}
			v, shape = wide, []int{vocab, d}
		}
		ts = append(ts, safetensors.FromFloat32(name, shape, v))
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// EmbedImages is the processor's pixels through the image tower: on the fixture photos it gives
// the features of transformers' own pixel values.
func TestCLIPEmbedImages(t *testing.T) {
	m, err := LoadCLIP(clipFolder(t))
	if err != nil {
		t.Fatal(err)
	}
	checkEmbedImages(t, m, "clip", m.Config.ProjectionDim)
	if out, err := m.EmbedImages(context.Background(), nil); err != nil || len(out) != 0 {
		t.Fatalf("no images: %v, %v", out, err)
	}
}

// EmbedTexts tokenizes as CLIP's processor does (padded to 77) and runs the text tower.
func TestCLIPEmbedTexts(t *testing.T) {
	m, err := LoadCLIP(clipTokenizerFolder(t))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"a photo of a dog", "a sks dog on the Moon, in the style of a watercolour painting"}
	got, err := m.EmbedTexts(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := m.Tokenizer.BatchEncode(texts)
	if len(ids[0]) != 77 || ids[0][0] != 49406 {
		t.Fatalf("tokenized %v", ids[0])
	}
	want, err := m.TextFeaturesIDs(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) {
		t.Fatal("EmbedTexts differs from TextFeaturesIDs of the tokenizer's ids")
	}
	if slices.Equal(got[0], got[1]) {
		t.Fatal("two prompts gave one embedding")
	}
	// Padding after the end token does not change the pooled features (the mask is causal).
	short := [][]int{ids[0][:10]}
	s, err := m.TextFeaturesIDs(context.Background(), short)
	if err != nil {
		t.Fatal(err)
	}
	if e := fixtures.RelErr(s[0], want[0]); e > 1e-5 {
		t.Fatalf("unpadded text: relative error %.3g", e)
	}
}

func TestCLIPErrors(t *testing.T) {
	ctx := context.Background()
	m, err := LoadCLIP(fixtures.Path(t, "parity", "clip"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.EmbedTexts(ctx, []string{"a dog"}); !errors.Is(err, ErrMissingFile) {
		t.Errorf("EmbedTexts without a tokenizer: %v", err)
	}
	if _, err := m.ImageFeaturesNCHW(ctx, make([]float32, 10), []int{1, 3, 2, 2}); err == nil || !strings.Contains(err.Error(), "pixel values") {
		t.Errorf("wrong pixel shape: %v", err)
	}
	if _, err := m.TextFeaturesIDs(ctx, [][]int{{1, 5000}}); err == nil || !strings.Contains(err.Error(), "ids[0][1]") {
		t.Errorf("id out of range: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.TextFeaturesIDs(cancelled, [][]int{{1, 2}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}

	empty := t.TempDir()
	if _, err := LoadCLIP(empty); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("no config.json: %v", err)
	}
	clipCopyFile(t, fixtures.Path(t, "parity", "clip", "config.json"), filepath.Join(empty, "config.json"))
	if _, err := LoadCLIP(empty); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("no weights: %v", err)
	}
	f, err := safetensors.Open(fixtures.Path(t, "parity", "clip", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []*safetensors.Tensor
	for _, name := range f.Names() {
		v, shape, _ := f.Float32(name)
		if name == "vision_model.embeddings.patch_embedding.weight" {
			shape = []int{shape[0], shape[1], shape[2] * shape[3]}
		}
		ts = append(ts, safetensors.FromFloat32(name, shape, v))
	}
	if err := safetensors.Write(filepath.Join(empty, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCLIP(empty); !errors.Is(err, weights.ErrMismatch) || !strings.Contains(err.Error(), "patch_embedding.weight") {
		t.Errorf("mis-shaped checkpoint: %v", err)
	}
	if err := os.WriteFile(filepath.Join(empty, "config.json"), []byte(`{"vision_config": {"hidden_act": "elu"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCLIP(empty); err == nil || !strings.Contains(err.Error(), "hidden_act") {
		t.Errorf("unsupported hidden_act: %v", err)
	}
}

// clipBenchImages returns n random 64×48 RGBA images.
func clipBenchImages(n int) []image.Image {
	r := rand.New(rand.NewPCG(1, 2))
	images := make([]image.Image, n)
	for i := range images {
		img := image.NewRGBA(image.Rect(0, 0, 64, 48))
		for j := range img.Pix {
			img.Pix[j] = uint8(r.IntN(256))
		}
		images[i] = img
	}
	return images
}

// BenchmarkCLIP measures embedding throughput on the parity fixture's configuration, through
// EmbedImages (image processor included) and EmbedTexts (tokenizer included, padded to 77), 32
// at a time as the reward's default batch:
//
//	GOEXPERIMENT=simd go test ./align/ -run '^$' -bench 'CLIP|DINO'
func BenchmarkCLIP(b *testing.B) {
	m, err := LoadCLIP(clipTokenizerFolder(b))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Finalize()
	ctx := context.Background()
	const batch = 32
	images := clipBenchImages(batch)
	texts := make([]string, batch)
	for i := range texts {
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

// imageEmbedder is what CLIP and DINO share for checkEmbedImages.
type imageEmbedder interface {
	ImageFeaturesNCHW(ctx context.Context, pixels []float32, shape []int) ([][]float32, error)
	EmbedImages(ctx context.Context, images []image.Image) ([][]float32, error)
}

// checkEmbedImages asserts that EmbedImages on the fixture photos (through the model's own
// processor) gives the features of transformers' pixel values for processor key, dim wide.
func checkEmbedImages(t *testing.T, m imageEmbedder, key string, dim int) {
	t.Helper()
	io := fixtures.IO(t, "preprocess")
	pixels, shape := fixtures.Float32(t, io, key)
	want, err := m.ImageFeaturesNCHW(context.Background(), pixels, shape)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.EmbedImages(context.Background(), preprocessImages(t))
	if err != nil {
		t.Fatal(err)
	}
	var g, w []float32
	for i := range got {
		g, w = append(g, got[i]...), append(w, want[i]...)
	}
	if e := fixtures.RelErr(g, w); len(got) != len(want) || len(got[0]) != dim || e > 1e-5 {
		t.Fatalf("EmbedImages: %d embeddings of width %d (want %d), relative error %.3g from the features of transformers' pixels",
			len(got), len(got[0]), dim, e)
	}
}
