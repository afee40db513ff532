package rewardmodel

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/internal/toyworld"
)

// Held-out thresholds: examples/toyreward measured, on its 2000 held-out renders (TRAINING.md),
// context 1.000, colour 0.989, class 0.935, accessory 0.825, prompt form 1.000, retrieval
// 0.903 / 0.879; on the test's 256 renders ([TestSeedStart, TestSeedStart+TestSize)) the shipped
// model gives 1.000, 0.992, 0.945, 0.941 (of 17 renders with an accessory), 1.000, 0.934 / 0.883.
// The thresholds leave a margin for retraining.
const (
	minSeparation  = 0.90 // context, colour and class swaps each
	minAccessory   = 0.70
	minPromptForm  = 0.95
	minImageToText = 0.75
	minTextToImage = 0.75
	maxCosMismatch = 0.70 // mean cos with a swapped description, below the match's
)

func loadShipped(t *testing.T) *align.ALIGN {
	t.Helper()
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Finalize)
	return m
}

func TestLoadShipped(t *testing.T) {
	m := loadShipped(t)
	vocab := Vocabulary()
	want := NewConfig(len(vocab))
	if got := m.Config.ProjectionDim; got != want.ProjectionDim {
		t.Errorf("projection_dim %d, want %d", got, want.ProjectionDim)
	}
	if m.Tokenizer == nil || m.Processor == nil {
		t.Fatal("the shipped folder lacks its tokenizer or preprocessor_config.json")
	}
	if got := m.Tokenizer.VocabSize(); got != len(vocab) || m.Config.TextConfig.VocabSize != len(vocab) {
		t.Fatalf("shipped vocabulary has %d tokens (config %d), the world's %d: the world's language changed, retrain with examples/toyreward",
			got, m.Config.TextConfig.VocabSize, len(vocab))
	}
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, VocabFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSpace(string(data)), "\n"); !slices.Equal(got, vocab) {
		t.Fatal("shipped vocab.txt differs from Vocabulary(): the world's language changed, retrain with examples/toyreward")
	}
	for _, name := range []string{ConfigFile, WeightsFile, TokenizerFile, PreprocessorFile, TrainingFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if again, err := Dir(); err != nil || again != dir {
		t.Errorf("Dir again: %q, %v; want %q", again, err, dir)
	}
	if tmp, err := m.Temperature(); err != nil || !(tmp > 0 && tmp < 1) {
		t.Errorf("temperature %v, %v; want in (0, 1)", tmp, err)
	}
}

// TestVocabularyCovers checks that every caption and scored prompt tokenises without [UNK].
func TestVocabularyCovers(t *testing.T) {
	vocab := Vocabulary()
	if !slices.Equal(vocab[:5], []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
		t.Fatalf("vocabulary starts %v", vocab[:5])
	}
	if len(vocab) > 250 {
		t.Errorf("vocabulary has %d tokens, want a small one", len(vocab))
	}
	tok, err := tokenizer(vocab)
	if err != nil {
		t.Fatal(err)
	}
	check := func(text string) {
		ids := tok.Encode(text)
		if slices.Contains(ids, tok.Unk()) {
			t.Errorf("%q has an unknown word: %v", text, tok.Tokens(text))
		}
		if len(ids)+2 > TextLength {
			t.Errorf("%q needs %d positions, more than %d", text, len(ids)+2, TextLength)
		}
	}
	for _, seed := range SeedRange(0, 500) {
		c, err := toyworld.Caption(toyworld.GenericScene(seed))
		if err != nil {
			t.Fatal(err)
		}
		check(c)
	}
	for _, s := range toyworld.Subjects() {
		ps, _ := toyworld.EvaluationPrompts(s.Name, "[V]")
		tp, _ := toyworld.TrainingPrompts(s.Name, "[V]")
		for _, p := range append(ps, tp...) {
			check(strings.ReplaceAll(p.Text, "[V] ", ""))
		}
	}
	check("a photo of an orange dog wearing a rainbow scarf with the Statue of Liberty in the background.")
}

// TestSeparatesCaptions is the reward's contract on renders it never saw: an image is closer to
// its own description than to the description with one attribute changed.
func TestSeparatesCaptions(t *testing.T) {
	m := loadShipped(t)
	seeds := SeedRange(TestSeedStart, TestSize)
	rep, err := Evaluate(context.Background(), m, seeds, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *rep)
	for _, a := range []string{"context", "colour", "class"} {
		if got := rep.Separation[a]; got < minSeparation {
			t.Errorf("image closer to its description than to one with another %s in %.3f of renders, want ≥ %.2f", a, got, minSeparation)
		}
	}
	if got := rep.Separation["accessory"]; got < minAccessory {
		t.Errorf("accessory separation %.3f, want ≥ %.2f", got, minAccessory)
	}
	if rep.PromptContext < minPromptForm {
		t.Errorf("prompt-form context separation %.3f, want ≥ %.2f", rep.PromptContext, minPromptForm)
	}
	if rep.ImageToText < minImageToText || rep.TextToImage < minTextToImage {
		t.Errorf("retrieval top-1 image→text %.3f, text→image %.3f; want ≥ %.2f, %.2f", rep.ImageToText, rep.TextToImage, minImageToText, minTextToImage)
	}
	if !(rep.MeanCosMatch > rep.MeanCosMismatch) || rep.MeanCosMismatch > maxCosMismatch {
		t.Errorf("mean cos match %.3f, mismatch %.3f", rep.MeanCosMatch, rep.MeanCosMismatch)
	}
}

// TestDeterministic embeds the same renders and texts twice, and through a second load.
func TestDeterministic(t *testing.T) {
	ctx := context.Background()
	ex, err := NewExamples(SeedRange(TestSeedStart, 8))
	if err != nil {
		t.Fatal(err)
	}
	again, err := NewExamples(SeedRange(TestSeedStart, 8))
	if err != nil {
		t.Fatal(err)
	}
	imgs := make([]image.Image, len(ex))
	var texts []string
	for i, e := range ex {
		if e.Caption != again[i].Caption || e.Negative != again[i].Negative || !slices.Equal(e.Image.Pix, again[i].Image.Pix) {
			t.Fatalf("example %d differs between two draws", i)
		}
		imgs[i] = e.Image
		texts = append(texts, e.Caption, e.Negative)
	}
	embed := func(m *align.ALIGN) ([][]float32, [][]float32) {
		ie, err := m.EmbedImages(ctx, imgs)
		if err != nil {
			t.Fatal(err)
		}
		te, err := m.EmbedTexts(ctx, texts)
		if err != nil {
			t.Fatal(err)
		}
		return ie, te
	}
	m1 := loadShipped(t)
	i1, t1 := embed(m1)
	i2, t2 := embed(m1)
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := align.LoadALIGN(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Finalize()
	i3, t3 := embed(m2)
	for _, pair := range [][2][][]float32{{i1, i2}, {i1, i3}, {t1, t2}, {t1, t3}} {
		for r := range pair[0] {
			if !slices.Equal(pair[0][r], pair[1][r]) {
				t.Fatalf("row %d differs between runs", r)
			}
		}
	}
}

// TestTrainDeterministic trains twice for two tiny steps and checks the weights agree and the
// saved folder loads.
func TestTrainDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	ctx := context.Background()
	opts := TrainOptions{Steps: 2, Batch: 4, Seed: 7}
	var dirs []string
	for range 2 {
		tr, err := Train(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "align")
		if err := tr.Save(dir, "test\n"); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	a, err := os.ReadFile(filepath.Join(dirs[0], WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dirs[1], WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Fatal("two trainings with the same seed wrote different weights")
	}
	m, err := align.LoadALIGN(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	m.Finalize()
}
