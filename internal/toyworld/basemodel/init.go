package basemodel

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/clip"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// InitFrom sets the model's weights, and their moving averages, from a folder Export wrote (the
// shipped model, Dir, included), so that training goes on from there rather than from random
// weights: its unet/ and text_encoder/ weights must match the model's variables by name and
// shape, and its tokenizer must be the model's vocabulary. The optimiser's state starts afresh.
// On error the model may be partly set; start over with New.
func (m *Model) InitFrom(dir string) error {
	if err := m.checkVocab(dir); err != nil {
		return err
	}
	if err := m.setFrom(filepath.Join(dir, "unet", "diffusion_pytorch_model.safetensors"), diffusion.UNetScope, diffusion.UNetScope); err != nil {
		return err
	}
	return m.initText(dir)
}

// InitTextFrom sets only the text encoder (and its moving average) from a folder Export wrote,
// whose tokenizer must be the model's vocabulary: a new U-Net (another latent space, another
// architecture) then starts with words the old model already learnt to tell apart.
func (m *Model) InitTextFrom(dir string) error {
	if err := m.checkVocab(dir); err != nil {
		return err
	}
	return m.initText(dir)
}

func (m *Model) initText(dir string) error {
	// The text encoder's file names its tensors "text_model.…", the variables' paths relative to "/".
	if err := m.setFrom(filepath.Join(dir, "text_encoder", "model.safetensors"), clip.TextModelScope, "/"); err != nil {
		return err
	}
	for _, scope := range []string{diffusion.UNetScope, clip.TextModelScope} {
		if err := copyVariables(m.store, scope, emaScope+scope); err != nil {
			return err
		}
	}
	return nil
}

// checkVocab reports whether dir's tokenizer is the model's vocabulary.
func (m *Model) checkVocab(dir string) error {
	tmp, err := os.MkdirTemp("", "basemodel-vocab")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := m.Vocab.WriteTokenizer(tmp); err != nil {
		return err
	}
	for _, name := range []string{"vocab.json", "merges.txt"} {
		want, err := os.ReadFile(filepath.Join(tmp, name))
		if err != nil {
			return err
		}
		have, err := os.ReadFile(filepath.Join(dir, "tokenizer", name))
		if err != nil {
			return fmt.Errorf("basemodel: init from %s: %w", dir, err)
		}
		if !bytes.Equal(have, want) {
			return fmt.Errorf("basemodel: init from %s: tokenizer/%s is not the model's vocabulary", dir, name)
		}
	}
	return nil
}

// setFrom sets every variable under scope from the tensor of path named by its path relative to
// nameScope; the file must hold exactly those tensors (buffers the text encoder ignores aside).
func (m *Model) setFrom(path, scope, nameScope string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("basemodel: init: %w", err)
	}
	var errs []error
	used := map[string]bool{}
	for v := range m.store.IterVariables() {
		if !strings.HasPrefix(v.Path(), scope+"/") {
			continue
		}
		name := weights.UpstreamName(nameScope, v.Path())
		t, err := f.Tensor(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("no %s %v", name, v.Shape().Dimensions))
			continue
		}
		used[name] = true
		value, err := tensorValue(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if !v.Shape().Equal(value.Shape()) {
			errs = append(errs, fmt.Errorf("%s has shape %s, the model %s", name, value.Shape(), v.Shape()))
			continue
		}
		if err := v.SetValue(value); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range f.Names() {
		if !used[name] && !clip.IgnoreBuffers(name) {
			errs = append(errs, fmt.Errorf("%s is no variable of the model", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("basemodel: init from %s: %w", path, err)
	}
	return nil
}
