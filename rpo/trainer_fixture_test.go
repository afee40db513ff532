package rpo

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/fixtures"
)

// Test fixtures of the Trainer: a tiny Stable Diffusion folder made of the random-weight parity
// fixtures (as diffusion's tests build it), a fake embedder, and synthetic reference photos.

// WriteTinySD is writeTinySD for the examples (package rpo_test).
var WriteTinySD = writeTinySD

// NewFakeEmbedder is newFakeEmbedder for the examples.
func NewFakeEmbedder() *FakeEmbedder { return newFakeEmbedder() }

// TestReferences is testReferences for the examples.
var TestReferences = testReferences

// The scheduler and model index of stable-diffusion-v1-5, as its repository ships them.
const (
	tinySchedulerConfig = `{
  "_class_name": "PNDMScheduler",
  "_diffusers_version": "0.6.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "num_train_timesteps": 1000,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null,
  "clip_sample": false
}
`
	tinyModelIndex = `{
  "_class_name": "StableDiffusionPipeline",
  "_diffusers_version": "0.6.0",
  "scheduler": ["diffusers", "PNDMScheduler"],
  "text_encoder": ["transformers", "CLIPTextModel"],
  "tokenizer": ["transformers", "CLIPTokenizer"],
  "unet": ["diffusers", "UNet2DConditionModel"],
  "vae": ["diffusers", "AutoencoderKL"]
}
`
)

// writeTinySD writes a Stable Diffusion 1.x folder in diffusers' layout into dir from the
// random-weight parity fixtures: parity/unet_sd1 as unet/, parity/vae as vae/,
// parity/clip_text_quickgelu as text_encoder/, SD 1.5's PNDM scheduler_config.json, and a
// tokenizer cut from CLIP's (tokenizers/clip) to the text encoder's small vocabulary. The same
// construction as diffusion's pipeline tests (package-internal there).
func writeTinySD(dir string) error {
	root, err := fixtures.Root()
	if err != nil {
		return err
	}
	for _, c := range []struct{ from, to, weights string }{
		{"unet_sd1", "unet", "diffusion_pytorch_model.safetensors"},
		{"vae", "vae", "diffusion_pytorch_model.safetensors"},
		{"clip_text_quickgelu", "text_encoder", "model.safetensors"},
	} {
		for _, name := range []string{"config.json", c.weights} {
			if err := copyTestFile(filepath.Join(root, "parity", c.from, name), filepath.Join(dir, c.to, name)); err != nil {
				return err
			}
		}
	}
	if err := writeTinyTokenizer(filepath.Join(root, "tokenizers", "clip"),
		filepath.Join(dir, "text_encoder", "config.json"), filepath.Join(dir, "tokenizer")); err != nil {
		return err
	}
	if err := writeTestFile(filepath.Join(dir, "scheduler", "scheduler_config.json"), []byte(tinySchedulerConfig)); err != nil {
		return err
	}
	return writeTestFile(filepath.Join(dir, "model_index.json"), []byte(tinyModelIndex))
}

// writeTinyTokenizer writes into dir a CLIP BPE tokenizer whose ids fit the text encoder
// described by textConfig: CLIP's vocabulary below the encoder's begin and end token ids (the 512
// byte symbols and the first merges), with those two tokens at the encoder's ids.
func writeTinyTokenizer(clipDir, textConfig, dir string) error {
	data, err := os.ReadFile(textConfig)
	if err != nil {
		return err
	}
	var cfg struct {
		VocabSize int `json:"vocab_size"`
		BOS       int `json:"bos_token_id"`
		EOS       int `json:"eos_token_id"`
		Pad       int `json:"pad_token_id"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", textConfig, err)
	}
	limit := min(cfg.BOS, cfg.EOS)
	if limit <= 512 || cfg.BOS >= cfg.VocabSize || cfg.EOS >= cfg.VocabSize || cfg.BOS == cfg.EOS {
		return fmt.Errorf("%s: bos %d, eos %d, vocab_size %d: too small for a cut CLIP tokenizer", textConfig, cfg.BOS, cfg.EOS, cfg.VocabSize)
	}
	data, err = os.ReadFile(filepath.Join(clipDir, "vocab.json"))
	if err != nil {
		return err
	}
	var full map[string]int
	if err := json.Unmarshal(data, &full); err != nil {
		return err
	}
	vocab := map[string]int{"<|startoftext|>": cfg.BOS, "<|endoftext|>": cfg.EOS}
	byID := map[int]string{}
	for tok, id := range full {
		if id < limit {
			vocab[tok] = id
		}
		byID[id] = tok
	}
	pad := "<|endoftext|>"
	switch {
	case cfg.Pad == cfg.BOS:
		pad = "<|startoftext|>"
	case cfg.Pad < limit:
		pad = byID[cfg.Pad]
	case cfg.Pad != cfg.EOS:
		return fmt.Errorf("%s: pad_token_id %d is not a token the cut tokenizer keeps", textConfig, cfg.Pad)
	}
	f, err := os.Open(filepath.Join(clipDir, "merges.txt"))
	if err != nil {
		return err
	}
	defer f.Close()
	var merges strings.Builder
	sc := bufio.NewScanner(f)
	for n := 0; n < limit-512 && sc.Scan(); {
		line := sc.Text()
		merges.WriteString(line + "\n")
		if !strings.HasPrefix(line, "#version") {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	vocabJSON, err := json.Marshal(vocab)
	if err != nil {
		return err
	}
	tokCfg, err := json.MarshalIndent(map[string]any{
		"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
		"pad_token": pad, "model_max_length": 77, "tokenizer_class": "CLIPTokenizer",
	}, "", "  ")
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"vocab.json": vocabJSON, "merges.txt": []byte(merges.String()), "tokenizer_config.json": tokCfg,
	} {
		if err := writeTestFile(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}

func writeTestFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func copyTestFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

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
