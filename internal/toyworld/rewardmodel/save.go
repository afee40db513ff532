package rewardmodel

import (
	"fmt"
	"image"
	"os"
	"path/filepath"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/internal/weights"
)

// Files of the model folder, as transformers' save_pretrained writes an ALIGN checkpoint (and
// TRAINING.md, how it was made).
const (
	ConfigFile       = "config.json"
	WeightsFile      = "model.safetensors"
	VocabFile        = "vocab.txt"
	TokenizerFile    = "tokenizer_config.json"
	PreprocessorFile = "preprocessor_config.json"
	TrainingFile     = "TRAINING.md"
)

// Save writes the model folder to dir, replacing it only once the new folder is complete:
// config.json, model.safetensors (upstream tensor names), vocab.txt, tokenizer_config.json,
// preprocessor_config.json and, when training is not empty, TRAINING.md. align.LoadALIGN reads it.
func (t *Trained) Save(dir, training string) error {
	cfgJSON, err := configJSON(t.Config)
	if err != nil {
		return fmt.Errorf("rewardmodel: %w", err)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("rewardmodel: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("rewardmodel: %w", err)
	}
	defer os.RemoveAll(tmp)
	files := map[string][]byte{
		ConfigFile:       cfgJSON,
		VocabFile:        vocabTxt(t.Vocab),
		TokenizerFile:    tokenizerJSON(),
		PreprocessorFile: preprocessorJSON(),
	}
	if training != "" {
		files[TrainingFile] = []byte(training)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return fmt.Errorf("rewardmodel: %w", err)
		}
	}
	meta := map[string]string{"format": "pt", "producer": "gorpo examples/toyreward"}
	if err := weights.Save(t.store, modelScope, filepath.Join(tmp, WeightsFile), meta); err != nil {
		return fmt.Errorf("rewardmodel: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("rewardmodel: %w", err)
	}
	return replaceDir(tmp, dir)
}

// replaceDir moves the complete folder tmp to dir, moving an existing dir aside first and
// removing it after.
func replaceDir(tmp, dir string) error {
	old := ""
	if _, err := os.Stat(dir); err == nil {
		old = dir + ".old"
		_ = os.RemoveAll(old)
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("rewardmodel: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			_ = os.Rename(old, dir)
		}
		return fmt.Errorf("rewardmodel: %w", err)
	}
	if old != "" {
		_ = os.RemoveAll(old)
	}
	return nil
}

// preprocess runs the model's image processor over the examples' renders.
func preprocess(proc align.ImageProcessor, ex []Example) ([]float32, []int, error) {
	imgs := make([]image.Image, len(ex))
	for i, e := range ex {
		imgs[i] = e.Image
	}
	px, shape, err := proc.Preprocess(imgs)
	if err != nil {
		return nil, nil, fmt.Errorf("rewardmodel: %w", err)
	}
	return px, shape, nil
}
