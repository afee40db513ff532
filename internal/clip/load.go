package clip

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/modelfs"
	"github.com/gorpo/gorpo/internal/nn"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// TextModelScope is where a loaded CLIPTextModel's variables live in its store: "/text_model",
// the prefix of Stable Diffusion's text_encoder checkpoints ("text_model.embeddings...").
const TextModelScope = "/text_model"

// IgnoreBuffers reports the checkpoint tensors that are buffers rather than weights: the
// "position_ids" older transformers versions saved beside the embeddings.
func IgnoreBuffers(name string) bool {
	return name == "position_ids" || strings.HasSuffix(name, ".position_ids")
}

// TextModel is a CLIPTextModel (Stable Diffusion's text_encoder/) loaded for inference: its
// configuration and a store holding its weights under TextModelScope.
type TextModel struct {
	Config TextConfig
	Store  *model.Store
}

// LoadTextModel reads a CLIPTextModel folder: config.json (a bare CLIPTextModel config, or a
// CLIPModel's whose text tower is taken) and model.safetensors (or its sharded form). Tensor
// names may carry the "text_model." prefix (Stable Diffusion's checkpoints, transformers 4) or
// not (transformers 5's save_pretrained); position_ids buffers are ignored. Errors name the
// missing file, the unsupported config field, or every missing, unexpected and mis-shaped
// tensor.
func LoadTextModel(backend compute.Backend, dir string) (*TextModel, error) {
	cfg, f, err := openFolder(modelfs.OS, dir, ParseTextConfig)
	if err != nil {
		return nil, err
	}
	return BindTextModel(backend, cfg, f)
}

// BindTextModel is LoadTextModel for a configuration and weights already read: it declares the
// CLIPTextModel for cfg and binds f's tensors to it, so a caller can choose the weights file
// (a variant's model.fp16.safetensors, say). Errors as LoadTextModel's.
func BindTextModel(backend compute.Backend, cfg TextConfig, f *safetensors.File) (*TextModel, error) {
	bindScope := TextModelScope
	if hasPrefix(f, "text_model.") {
		bindScope = "/"
	}
	store, err := declareAndBind(backend, f, bindScope, func(scope *model.Scope, in []*graph.Node) {
		TextTransformer(scope.In("text_model"), cfg, in[0], nil)
	}, shapes.Make(dtypes.Int32, 1, min(cfg.MaxPositionEmbeddings, 77)))
	if err != nil {
		return nil, err
	}
	return &TextModel{Config: cfg, Store: store}, nil
}

// Model is a CLIPModel loaded for inference: its configuration and a store holding its weights
// at the root, under the upstream names (text_model/..., vision_model/..., text_projection,
// visual_projection, logit_scale).
type Model struct {
	Config Config
	Store  *model.Store
}

// LoadModel reads a CLIPModel folder: config.json and model.safetensors (or its sharded form).
// Errors as LoadTextModel's.
func LoadModel(backend compute.Backend, dir string) (*Model, error) {
	return LoadModelIn(backend, modelfs.OS, dir)
}

// LoadModelIn is LoadModel on the folder dir of the file system m.
func LoadModelIn(backend compute.Backend, m modelfs.FS, dir string) (*Model, error) {
	cfg, f, err := openFolder(m, dir, ParseConfig)
	if err != nil {
		return nil, err
	}
	v := cfg.Vision
	store, err := declareAndBind(backend, f, "/", func(scope *model.Scope, in []*graph.Node) {
		Forward(scope, cfg, in[0], in[1], nil)
	}, shapes.Make(dtypes.Float32, 1, v.ImageSize, v.ImageSize, v.NumChannels),
		shapes.Make(dtypes.Int32, 1, min(cfg.Text.MaxPositionEmbeddings, 77)))
	if err != nil {
		return nil, err
	}
	return &Model{Config: cfg, Store: store}, nil
}

// openFolder reads a save_pretrained folder's config.json on m with parse and opens its
// model.safetensors (or sharded index). Errors name the file.
func openFolder[C any](m modelfs.FS, dir string, parse func(data []byte) (C, error)) (C, *safetensors.File, error) {
	var cfg C
	if err := m.CheckDir("clip", dir); err != nil {
		return cfg, nil, err
	}
	path := m.Join(dir, "config.json")
	data, err := m.ReadFile(path)
	if err != nil {
		return cfg, nil, fmt.Errorf("clip: %w", err) // *fs.PathError names the file
	}
	if cfg, err = parse(data); err != nil {
		return cfg, nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := safetensors.OpenWeightsIn(m, dir, "model", "")
	if err != nil {
		return cfg, nil, fmt.Errorf("clip: %w", err)
	}
	return cfg, f, nil
}

// declareAndBind creates a store with the variables build declares for inputs, and binds f's
// tensors (position_ids buffers ignored) to those under bindScope.
func declareAndBind(backend compute.Backend, f *safetensors.File, bindScope string,
	build func(scope *model.Scope, in []*graph.Node), inputs ...shapes.Shape) (*model.Store, error) {
	store := model.NewStore()
	if err := weights.Declare(backend, store, build, inputs...); err != nil {
		return nil, err
	}
	if err := weights.Bind(store, bindScope, f, weights.BindOptions{Ignore: IgnoreBuffers}); err != nil {
		return nil, fmt.Errorf("clip: %w", err)
	}
	return store, nil
}

// hasPrefix reports whether any tensor of f is named with prefix.
func hasPrefix(f *safetensors.File, prefix string) bool {
	for _, name := range f.Names() {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// NewTextModel creates a CLIPTextModel for cfg with PyTorch's default random initialisation
// (see nn.Variable), drawn deterministically from seed: for sizing and timing a model whose
// weights are not at hand.
func NewTextModel(backend compute.Backend, cfg TextConfig, seed int64) (*TextModel, error) {
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, seed)
	err := weights.Declare(backend, store, func(scope *model.Scope, in []*graph.Node) {
		TextTransformer(scope.In("text_model"), cfg, in[0], nil)
	}, shapes.Make(dtypes.Int32, 1, min(cfg.MaxPositionEmbeddings, 77)))
	if err != nil {
		return nil, err
	}
	if err := nn.InitializeVariables(backend, store); err != nil {
		return nil, fmt.Errorf("clip: initialising the text model: %w", err)
	}
	return &TextModel{Config: cfg, Store: store}, nil
}
