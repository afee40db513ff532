package align

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/safetensors"
)

// alignParityTol is the fixtures' float32 agreement, max|a−b| / max|b|.
const alignParityTol = 1e-4

// loadFixtureALIGN loads parity/align (config.json and model.safetensors only).
func loadFixtureALIGN(t testing.TB) *ALIGN {
	t.Helper()
	m, err := LoadALIGN(fixtures.Path(t, "parity", "align"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Finalize)
	return m
}

// alignInt64Rows reads an integer [rows, cols] tensor of the fixture as rows of ints.
func alignInt64Rows(t testing.TB, v []int64, shape []int) [][]int {
	t.Helper()
	if len(shape) != 2 {
		t.Fatalf("shape %v, want [batch, seq]", shape)
	}
	rows := make([][]int, shape[0])
	for i := range rows {
		rows[i] = make([]int, shape[1])
		for j := range rows[i] {
			rows[i][j] = int(v[i*shape[1]+j])
		}
	}
	return rows
}

func alignFlatRows(rows [][]float32) ([]float32, []int) {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	if len(rows) == 0 {
		return out, []int{0}
	}
	return out, []int{len(rows), len(rows[0])}
}

// alignInputs reads the fixture's inputs, after checking that io.safetensors holds every tensor
// the test compares.
func alignInputs(t *testing.T) (pixels []float32, pixelShape []int, ids, mask, types [][]int) {
	t.Helper()
	ref := fixtures.IO(t, "align")
	names := ref.Names()
	for _, want := range []string{"pixel_values", "input_ids", "attention_mask", "token_type_ids",
		"image_features", "text_features", "image_embeds", "text_embeds", "logits_per_image"} {
		if !slices.Contains(names, want) {
			t.Fatalf("parity/align/io.safetensors has %v, missing %q", names, want)
		}
	}
	pixels, pixelShape = fixtures.Float32(t, ref, "pixel_values")
	rows := func(name string) [][]int {
		v, shape := fixtures.Int64(t, ref, name)
		return alignInt64Rows(t, v, shape)
	}
	ids, mask, types = rows("input_ids"), rows("attention_mask"), rows("token_type_ids")
	return
}

// TestALIGNParity compares AlignModel's outputs with transformers' on parity/align.
func TestALIGNParity(t *testing.T) {
	m := loadFixtureALIGN(t)
	pixels, pixelShape, ids, mask, types := alignInputs(t)
	ref := fixtures.IO(t, "align")
	ctx := context.Background()

	out, err := m.Forward(ctx, pixels, pixelShape, ids, mask, types)
	if err != nil {
		t.Fatal(err)
	}
	imgF, err := m.ImageFeaturesNCHW(ctx, pixels, pixelShape)
	if err != nil {
		t.Fatal(err)
	}
	txtF, err := m.TextFeaturesIDs(ctx, ids, mask, types)
	if err != nil {
		t.Fatal(err)
	}
	dim := m.Config.ProjectionDim
	for _, c := range []struct {
		name      string
		got       [][]float32
		wantShape []int
	}{
		{"image_features", out.ImageFeatures, []int{pixelShape[0], dim}},
		{"text_features", out.TextFeatures, []int{len(ids), dim}},
		{"image_embeds", out.ImageEmbeds, []int{pixelShape[0], dim}},
		{"text_embeds", out.TextEmbeds, []int{len(ids), dim}},
		{"logits_per_image", out.LogitsPerImage, []int{pixelShape[0], len(ids)}},
		{"image_features", imgF, []int{pixelShape[0], dim}}, // ImageFeaturesNCHW
		{"text_features", txtF, []int{len(ids), dim}},       // TextFeaturesIDs
	} {
		want, wantShape := fixtures.Float32(t, ref, c.name)
		got, shape := alignFlatRows(c.got)
		if fmt.Sprint(wantShape) != fmt.Sprint(c.wantShape) || fmt.Sprint(shape) != fmt.Sprint(c.wantShape) {
			t.Fatalf("%s: shape %v, reference %v, want %v from config.json and the inputs", c.name, shape, wantShape, c.wantShape)
		}
		for i, v := range got {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s[%d] = %v", c.name, i, v)
			}
		}
		e := fixtures.RelErr(got, want)
		t.Logf("%-16s %v  max|a-b|/max|b| = %.3g", c.name, shape, e)
		if e > alignParityTol {
			t.Errorf("%s: relative error %.3g > %g", c.name, e, alignParityTol)
		}
	}
}

// alignCopyFile copies src to dst.
func alignCopyFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// alignFolder builds a complete checkpoint folder in a temporary directory: the parity/align
// config and weights, the fixture WordPiece vocabulary as vocab.txt and the ALIGN preprocess
// fixture's preprocessor_config.json.
func alignFolder(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	alignCopyFile(t, fixtures.Path(t, "parity", "align", "config.json"), filepath.Join(dir, "config.json"))
	alignCopyFile(t, fixtures.Path(t, "parity", "align", "model.safetensors"), filepath.Join(dir, "model.safetensors"))
	alignCopyFile(t, fixtures.Path(t, "tokenizers", "bert_vocab.txt"), filepath.Join(dir, "vocab.txt"))
	alignCopyFile(t, fixtures.Path(t, "parity", "preprocess", "align_preprocessor_config.json"),
		filepath.Join(dir, "preprocessor_config.json"))
	return dir
}

// alignCheckEmbeddings checks n finite, non-zero vectors of length dim.
func alignCheckEmbeddings(t *testing.T, what string, embs [][]float32, n, dim int) {
	t.Helper()
	if len(embs) != n {
		t.Fatalf("%s: %d embeddings, want %d", what, len(embs), n)
	}
	for i, e := range embs {
		if len(e) != dim {
			t.Fatalf("%s[%d]: length %d, want projection_dim %d", what, i, len(e), dim)
		}
		var ss float64
		for _, v := range e {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s[%d] has %v", what, i, v)
			}
			ss += float64(v) * float64(v)
		}
		if ss == 0 {
			t.Fatalf("%s[%d] is all zeros", what, i)
		}
	}
}

// TestALIGNEmbedRoundTrip runs EmbedTexts and EmbedImages through the tokenizer and the image
// processor, and checks them against the tensor-level methods on the tokenizer and processor
// references.
func TestALIGNEmbedRoundTrip(t *testing.T) {
	m, err := LoadALIGN(alignFolder(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	if m.Tokenizer == nil || m.Processor == nil {
		t.Fatalf("tokenizer %v, processor %v: want both loaded", m.Tokenizer, m.Processor)
	}
	ctx := context.Background()
	dim := m.Config.ProjectionDim

	// Texts: EmbedTexts equals TextFeaturesIDs on BERT's reference ids padded to 64.
	ref := fixtures.TokenizerReference(t)
	var texts []string
	var ids, mask [][]int
	for i, p := range ref.Prompts {
		padded := ref.BERTPadded64[i]
		if len(ref.BERTTokens[i])+2 > len(padded) || len(padded) != m.TextLength {
			continue // truncated by the reference; EmbedTexts keeps every token
		}
		texts = append(texts, p)
		ids = append(ids, padded)
		row := make([]int, len(padded))
		for j := range len(ref.BERTTokens[i]) + 2 {
			row[j] = 1
		}
		mask = append(mask, row)
	}
	if len(texts) == 0 {
		t.Fatal("no reference prompt fits in 64 tokens")
	}
	got, err := m.EmbedTexts(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	alignCheckEmbeddings(t, "EmbedTexts", got, len(texts), dim)
	want, err := m.TextFeaturesIDs(ctx, ids, mask, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := alignFlatRows(got)
	w, _ := alignFlatRows(want)
	if e := fixtures.RelErr(g, w); e > 1e-6 {
		t.Fatalf("EmbedTexts vs TextFeaturesIDs on the reference ids: relative error %.3g", e)
	}

	// A text longer than TextLength keeps its tokens (as AlignProcessor, which does not truncate)
	// up to max_position_embeddings.
	long := strings.Repeat("a dog ", 100)
	if _, err := m.EmbedTexts(ctx, []string{long, "a dog"}); err != nil {
		t.Fatal(err)
	}

	// Images: EmbedImages equals ImageFeaturesNCHW on the processor's reference pixels.
	imgs := preprocessImages(t)
	gotImg, err := m.EmbedImages(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	alignCheckEmbeddings(t, "EmbedImages", gotImg, len(imgs), dim)
	pixels, shape := fixtures.Float32(t, fixtures.IO(t, "preprocess"), "align")
	wantImg, err := m.ImageFeaturesNCHW(ctx, pixels, shape)
	if err != nil {
		t.Fatal(err)
	}
	g, _ = alignFlatRows(gotImg)
	w, _ = alignFlatRows(wantImg)
	if e := fixtures.RelErr(g, w); e > 1e-6 {
		t.Fatalf("EmbedImages vs ImageFeaturesNCHW on the processor's reference pixels: relative error %.3g", e)
	}
}

// TestALIGNErrors checks that bad folders and bad inputs are errors naming what is wrong.
func TestALIGNErrors(t *testing.T) {
	wantErr := func(t *testing.T, err error, parts ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("no error, want one mentioning %q", parts)
		}
		for _, p := range parts {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q does not mention %q", err, p)
			}
		}
	}
	t.Run("folder", func(t *testing.T) {
		dir := t.TempDir()
		_, err := LoadALIGN(dir)
		wantErr(t, err, "config.json")
		alignCopyFile(t, fixtures.Path(t, "parity", "align", "config.json"), filepath.Join(dir, "config.json"))
		_, err = LoadALIGN(dir)
		wantErr(t, err, "model.safetensors")
		_, err = LoadALIGN(filepath.Join(dir, "config.json"))
		wantErr(t, err, "not a folder")

		// A config that does not match the weights: every disagreement is named.
		cfg, err := LoadAlignConfig(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		layers := cfg.TextConfig.NumHiddenLayers
		data, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		raw["text_config"].(map[string]any)["num_hidden_layers"] = layers + 1
		data, _ = json.Marshal(raw)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		alignCopyFile(t, fixtures.Path(t, "parity", "align", "model.safetensors"), filepath.Join(dir, "model.safetensors"))
		_, err = LoadALIGN(dir)
		wantErr(t, err, "missing", fmt.Sprintf("text_model.encoder.layer.%d.attention.self.query.weight", layers))
	})

	m := loadFixtureALIGN(t)
	ctx := context.Background()
	t.Run("missing processing files", func(t *testing.T) {
		img := image.NewRGBA(image.Rect(0, 0, 8, 8))
		_, err := m.EmbedImages(ctx, []image.Image{img})
		wantErr(t, err, "preprocessor_config.json")
		if !errors.Is(err, ErrMissingFile) {
			t.Fatalf("%v does not wrap ErrMissingFile", err)
		}
		_, err = m.EmbedTexts(ctx, []string{"a dog"})
		wantErr(t, err, "vocab.txt", "tokenizer.json")
		if !errors.Is(err, ErrMissingFile) {
			t.Fatalf("%v does not wrap ErrMissingFile", err)
		}
	})
	t.Run("images", func(t *testing.T) {
		_, err := m.EmbedImages(ctx, nil)
		wantErr(t, err, "no images")
		_, err = m.EmbedImages(ctx, []image.Image{image.NewRGBA(image.Rect(0, 0, 8, 8)), image.NewRGBA(image.Rect(0, 0, 0, 5))})
		wantErr(t, err, "image 1", "bounds")
		var nilImg *image.RGBA
		_, err = m.EmbedImages(ctx, []image.Image{nilImg})
		wantErr(t, err, "image 0", "nil")
		_, err = m.ImageFeaturesNCHW(ctx, make([]float32, 12), []int{1, 3, 2})
		wantErr(t, err, "pixel shape")
		_, err = m.ImageFeaturesNCHW(ctx, make([]float32, 10), []int{1, 3, 2, 2})
		wantErr(t, err, "10 pixel values")
		_, err = m.ImageFeaturesNCHW(ctx, make([]float32, 3), []int{1, 3, 1, 1}) // too small for the stem
		wantErr(t, err, "image features")
	})
	t.Run("texts", func(t *testing.T) {
		tc := m.Config.TextConfig
		_, err := m.TextFeaturesIDs(ctx, nil, nil, nil)
		wantErr(t, err, "no token ids")
		_, err = m.TextFeaturesIDs(ctx, [][]int{{1, 2}, {1}}, nil, nil)
		wantErr(t, err, "ids[1]")
		_, err = m.TextFeaturesIDs(ctx, [][]int{{1, tc.VocabSize}}, nil, nil)
		wantErr(t, err, "vocab_size")
		_, err = m.TextFeaturesIDs(ctx, [][]int{{1, 2}}, [][]int{{1, 2}}, nil)
		wantErr(t, err, "attention mask")
		_, err = m.TextFeaturesIDs(ctx, [][]int{{1, 2}}, nil, [][]int{{0, tc.TypeVocabSize}})
		wantErr(t, err, "type_vocab_size")
		_, err = m.TextFeaturesIDs(ctx, [][]int{make([]int, tc.MaxPositionEmbeddings+1)}, nil, nil)
		wantErr(t, err, "max_position_embeddings")
		_, err = m.EmbedTexts(ctx, nil)
		wantErr(t, err, "no texts")
	})
	t.Run("cancelled", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		cancel()
		_, err := m.TextFeaturesIDs(c, [][]int{{1, 2}}, nil, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
}

// TestALIGNTemperature reads the checkpoint's temperature.
func TestALIGNTemperature(t *testing.T) {
	m := loadFixtureALIGN(t)
	want, _ := fixtures.Float32(t, alignWeightsFile(t), "temperature")
	got, err := m.Temperature()
	if err != nil {
		t.Fatal(err)
	}
	if got != want[0] {
		t.Fatalf("temperature %v, want %v", got, want[0])
	}
}

func alignWeightsFile(t testing.TB) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(fixtures.Path(t, "parity", "align", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}
