package basemodel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/clip"
	"github.com/gorpo/gorpo/internal/nn"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/trainrun"
	"github.com/gorpo/gorpo/internal/weights"
)

// Model is the base model being trained: one Store holding the U-Net under "/unet", the text
// encoder under "/text_model" (CLIPTextModel's own names), their moving averages under "/ema"
// and the optimiser's state under "/optimizer"; and the frozen autoencoder whose latents the
// U-Net denoises (its own Store).
type Model struct {
	Config  Config
	Vocab   Vocab
	UNet    *diffusion.UNet
	VAE     *diffusion.AutoencoderKL
	store   *model.Store
	backend compute.Backend
}

// New creates the model with PyTorch's default random initialisation, drawn from seed, and its
// moving averages equal to it, on the latents of vae (trained beforehand, never changed here).
func New(b compute.Backend, cfg Config, vocab Vocab, vae *diffusion.AutoencoderKL, seed int64) (*Model, error) {
	if vae == nil {
		return nil, fmt.Errorf("basemodel: no VAE: the base model denoises an autoencoder's latents")
	}
	if err := cfg.Validate(vae.Config()); err != nil {
		return nil, err
	}
	if cfg.Text.VocabSize != len(vocab.Tokens) {
		return nil, fmt.Errorf("basemodel: text encoder vocab_size %d, want the vocabulary's %d", cfg.Text.VocabSize, len(vocab.Tokens))
	}
	u, err := diffusion.NewUNet(cfg.UNet, seed)
	if err != nil {
		return nil, err
	}
	store := u.Store()
	if err := weights.Declare(b, store, func(scope *model.Scope, in []*graph.Node) {
		clip.TextTransformer(scope.In("text_model"), cfg.Text, in[0], nil)
	}, shapes.Make(dtypes.Int32, 1, cfg.Text.MaxPositionEmbeddings)); err != nil {
		return nil, err
	}
	if err := nn.InitializeVariables(b, store); err != nil {
		return nil, fmt.Errorf("basemodel: initialising the text encoder: %w", err)
	}
	m := &Model{Config: cfg, Vocab: vocab, UNet: u, VAE: vae, store: store, backend: b}
	for _, scope := range []string{diffusion.UNetScope, clip.TextModelScope} {
		if err := copyVariables(store, scope, emaScope+scope); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Store returns the Store holding every variable of the model and of its training.
func (m *Model) Store() *model.Store { return m.store }

// copyVariables copies every variable under from to the same relative path under to, as
// non-trainable clones.
func copyVariables(store *model.Store, from, to string) error {
	var vars []*model.Variable
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), from+"/") {
			vars = append(vars, v)
		}
	}
	for _, v := range vars {
		value, err := v.Value()
		if err != nil {
			return fmt.Errorf("basemodel: %s: %w", v.Path(), err)
		}
		clone, err := value.LocalClone()
		if err != nil {
			return fmt.Errorf("basemodel: %s: %w", v.Path(), err)
		}
		path := to + strings.TrimPrefix(v.Path(), from)
		if old := store.GetVariable(path); old != nil {
			if err := old.SetValue(clone); err != nil {
				return err
			}
			continue
		}
		nv, err := store.CreateVariable(path, clone)
		if err != nil {
			return fmt.Errorf("basemodel: %s: %w", path, err)
		}
		nv.SetTrainable(false)
	}
	return nil
}

// saveState writes every variable of the Store (the model, its averages, the optimiser) to
// path by variable path, atomically.
func (m *Model) saveState(path string) error {
	ts, err := weights.Tensors(m.store, "/")
	if err != nil {
		return err
	}
	return safetensors.Write(path, ts, map[string]string{"format": "gorpo-basemodel-state"})
}

// loadState sets every variable from a saveState file, creating those the Store lacks (the
// optimiser's state); a variable of the Store the file lacks is an error.
func (m *Model) loadState(path string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, name := range f.Names() {
		vpath := weights.VariablePath("/", name)
		have[vpath] = true
		t, err := f.Tensor(name)
		if err != nil {
			return err
		}
		value, err := tensorValue(t)
		if err != nil {
			return fmt.Errorf("basemodel: %s: %s: %w", path, name, err)
		}
		if v := m.store.GetVariable(vpath); v != nil {
			if !v.Shape().Equal(value.Shape()) {
				return fmt.Errorf("basemodel: %s: %s has shape %s, the model %s", path, name, value.Shape(), v.Shape())
			}
			if err := v.SetValue(value); err != nil {
				return err
			}
			continue
		}
		v, err := m.store.CreateVariable(vpath, value)
		if err != nil {
			return fmt.Errorf("basemodel: %s: %w", vpath, err)
		}
		v.SetTrainable(false)
	}
	for v := range m.store.IterVariables() {
		if !have[v.Path()] {
			return fmt.Errorf("basemodel: %s: no %s", path, weights.UpstreamName("/", v.Path()))
		}
	}
	return nil
}

// Export writes the model as a diffusers folder that diffusion.LoadPipeline reads:
// model_index.json, vae/ (the frozen autoencoder, config.json with its scaling_factor), unet/ (config.json, diffusion_pytorch_model.safetensors),
// text_encoder/ (config.json, model.safetensors under "text_model." names, as Stable Diffusion
// ships it), tokenizer/ (vocab.json, merges.txt, tokenizer_config.json) and
// scheduler/scheduler_config.json, then extra files (name → content, TRAINING.md). With ema the
// weights are the moving averages. The folder is built beside dir and renamed into place; an
// existing dir is replaced only once the new one is complete.
func (m *Model) Export(dir string, ema bool, extra map[string][]byte) error {
	if err := trainrun.ReplaceDir(dir, func(tmp string) error { return m.writeFolder(tmp, ema, extra) }); err != nil {
		return fmt.Errorf("basemodel: export to %s: %w", dir, err)
	}
	return nil
}

func (m *Model) writeFolder(dir string, ema bool, extra map[string][]byte) error {
	if err := writeJSON(filepath.Join(dir, "model_index.json"), m.Config.modelIndex()); err != nil {
		return err
	}
	unetScope, textScope := diffusion.UNetScope, clip.TextModelScope
	if ema {
		unetScope, textScope = emaScope+unetScope, emaScope+textScope
	}
	if err := m.VAE.Save(filepath.Join(dir, "vae")); err != nil {
		return err
	}
	if err := m.UNet.Save(filepath.Join(dir, "unet")); err != nil {
		return err
	}
	if ema { // Save wrote the trained weights: put the averages in their place
		if err := weights.Save(m.store, unetScope, filepath.Join(dir, "unet", "diffusion_pytorch_model.safetensors"),
			map[string]string{"format": "pt"}); err != nil {
			return err
		}
	}
	te := filepath.Join(dir, "text_encoder")
	if err := os.MkdirAll(te, 0o755); err != nil {
		return err
	}
	ts, err := weights.Tensors(m.store, textScope)
	if err != nil {
		return err
	}
	for _, t := range ts {
		t.Name = "text_model." + t.Name
	}
	if err := safetensors.Write(filepath.Join(te, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	tc, err := m.Config.textConfigJSON()
	if err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(te, "config.json"), tc); err != nil {
		return err
	}
	if err := m.Vocab.WriteTokenizer(filepath.Join(dir, "tokenizer")); err != nil {
		return err
	}
	sd := filepath.Join(dir, "scheduler")
	if err := os.MkdirAll(sd, 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(sd, "scheduler_config.json"), m.Config.schedulerJSON()); err != nil {
		return err
	}
	for name, data := range extra {
		if err := writeFile(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}

// tensorValue converts an F32 or I64 safetensors tensor into a GoMLX tensor of its shape.
func tensorValue(t *safetensors.Tensor) (*tensors.Tensor, error) {
	switch t.DType {
	case "F32":
		v, err := t.Float32()
		if err != nil {
			return nil, err
		}
		if len(t.Shape) == 0 {
			return tensors.FromScalar(v[0]), nil
		}
		return tensors.FromFlatDataAndDimensions(v, t.Shape...), nil
	case "I64":
		v, err := t.Int64()
		if err != nil {
			return nil, err
		}
		if len(t.Shape) == 0 {
			return tensors.FromScalar(v[0]), nil
		}
		return tensors.FromFlatDataAndDimensions(v, t.Shape...), nil
	}
	return nil, fmt.Errorf("dtype %s, want F32 or I64", t.DType)
}
