package diffusion_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorpo/gorpo/internal/fixtures"
)

// The scheduler and model index of stable-diffusion-v1-5, as its repository ships them.
const (
	sd15SchedulerConfig = `{
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
	sd15ModelIndex = `{
  "_class_name": "StableDiffusionPipeline",
  "_diffusers_version": "0.6.0",
  "feature_extractor": ["transformers", "CLIPImageProcessor"],
  "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
  "scheduler": ["diffusers", "PNDMScheduler"],
  "text_encoder": ["transformers", "CLIPTextModel"],
  "tokenizer": ["transformers", "CLIPTokenizer"],
  "unet": ["diffusers", "UNet2DConditionModel"],
  "vae": ["diffusers", "AutoencoderKL"]
}
`
)

// writeTinySD writes a Stable Diffusion 1.x folder in diffusers' layout into dir, made of the
// random-weight parity fixtures: parity/unet_sd1 as unet/, parity/vae as vae/,
// parity/clip_text_quickgelu as text_encoder/, SD 1.5's PNDM scheduler_config.json, and a
// tokenizer cut from CLIP's (tokenizers/clip) to fit the text encoder's small vocabulary.
// The fixture root is $GORPO_FIXTURES or testdata/fixtures.
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
			if err := copyFile(filepath.Join(root, "parity", c.from, name), filepath.Join(dir, c.to, name)); err != nil {
				return err
			}
		}
	}
	if err := writeTinyTokenizer(filepath.Join(root, "tokenizers", "clip"),
		filepath.Join(dir, "text_encoder", "config.json"), filepath.Join(dir, "tokenizer")); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "scheduler", "scheduler_config.json"), []byte(sd15SchedulerConfig)); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "model_index.json"), []byte(sd15ModelIndex))
}

// writeTinyTokenizer writes into dir a valid BPE tokenizer whose ids fit the text encoder
// described by textConfig. CLIP's vocabulary holds the 256 byte symbols and their "</w>" forms
// at ids 0-511, then merge i's result at id 512+i, then <|startoftext|> and <|endoftext|>; keeping
// the merges and entries below the encoder's begin and end token ids, and giving those two
// tokens its ids, is CLIP's tokenizer with a shorter merge list.
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
		if err := writeFile(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func copyFile(from, to string) error {
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
