package align

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/hostexec"
	"github.com/gorpo/gorpo/internal/modelfs"
	"github.com/gorpo/gorpo/internal/nn"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// alignDType is the dtype ALIGN computes in.
var alignDType = dtypes.Float32

// ALIGNTextLength is the length AlignProcessor pads ALIGN's texts to (padding="max_length",
// max_length=64).
const ALIGNTextLength = 64

// ALIGN is ALIGN (Jia et al., 2021, "Scaling Up Visual and Vision-Language Representation
// Learning With Noisy Text Supervision", arXiv:2102.05918) as transformers' AlignModel builds it:
// an EfficientNet image tower whose pooled output is the image features, and a BERT text tower
// whose first-token state, through text_projection, is the text features. Both live in one
// space; the logits are their cosines divided by a learned temperature.
//
// RPO scores images with it: ALIGN-I is the image-image cosine, ALIGN-T the image-text one.
// *ALIGN implements the reward package's Embedder (EmbedImages, EmbedTexts), returning the
// unnormalised features.
//
// Graph code (ImageFeatures, TextFeatures, LogitsPerImage) takes the scope holding the model's
// variables, usually Store().RootScope(); host code (ImageFeaturesNCHW, TextFeaturesIDs,
// Forward, EmbedImages, EmbedTexts) compiles once per input shape and reuses the compiled graph.
// The methods are safe for concurrent use; calls run one at a time.
type ALIGN struct {
	// Config is the checkpoint's config.json.
	Config *AlignConfig

	// Processor is the image processor of preprocessor_config.json, nil when the folder has none
	// (then EmbedImages fails and ImageFeaturesNCHW still works).
	Processor ImageProcessor

	// Tokenizer is the WordPiece tokenizer of vocab.txt or tokenizer.json, nil when the folder
	// has neither (then EmbedTexts fails and TextFeaturesIDs still works).
	Tokenizer *WordPiece

	// TextLength is the length EmbedTexts pads texts to, ALIGNTextLength unless changed. As with
	// AlignProcessor (which pads to max_length without truncating), a longer text keeps all its
	// tokens up to text_config.max_position_embeddings, where it is cut.
	TextLength int

	dir         string
	noProcessor error
	noTokenizer error
	backend     compute.Backend
	store       *model.Store
	mu          sync.Mutex
	imageExec   *hostexec.Exec
	textExec    *hostexec.Exec
	forwardExec *hostexec.Exec
}

// ErrMissingFile is wrapped by the errors of EmbedImages and EmbedTexts when the checkpoint folder
// lacks the preprocessor_config.json or the tokenizer files they need.
var ErrMissingFile = errors.New("file missing from the checkpoint folder")

// LoadALIGN loads an ALIGN checkpoint folder as transformers' save_pretrained writes it
// (kakaobrain/align-base): config.json and model.safetensors (or its sharded index) are required;
// preprocessor_config.json (EfficientNetImageProcessor) and the tokenizer (vocab.txt, else
// tokenizer.json, with tokenizer_config.json and special_tokens_map.json when present) are read
// when present. Without them the model still loads for tensor-level use (ImageFeaturesNCHW,
// TextFeaturesIDs, Forward) and EmbedImages / EmbedTexts return an error naming the missing file.
//
// Weights bind by their upstream names ("vision_model.encoder.blocks.0.…", "text_model.…",
// "text_projection.…", "temperature"); BatchNorm's num_batches_tracked, the text tower's buffers
// and its unused pooler are skipped. Any other missing, unexpected or mis-shaped tensor is an
// error listing them all. The model runs on the default backend unless WithBackend names
// another.
func LoadALIGN(dir string, opts ...LoadOption) (*ALIGN, error) {
	return loadALIGN(modelfs.OS, dir, opts)
}

// LoadALIGNFS is LoadALIGN on the folder dir inside fsys (slash-separated, "." for its root):
// an embed.FS compiled into the program, a zip.Reader, a fstest.MapFS. Every file is read from
// fsys into memory; nothing is written to disk.
func LoadALIGNFS(fsys fs.FS, dir string, opts ...LoadOption) (*ALIGN, error) {
	return loadALIGN(modelfs.In(fsys), dir, opts)
}

func loadALIGN(fsys modelfs.FS, dir string, opts []LoadOption) (*ALIGN, error) {
	if err := fsys.CheckDir("align", dir); err != nil {
		return nil, err
	}
	b, err := loadBackend(opts)
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	info, err := fsys.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("align: %s is not a folder, want a checkpoint folder with config.json and model.safetensors", dir)
	}
	cfgPath := fsys.Join(dir, "config.json")
	if _, err := fsys.Stat(cfgPath); err != nil {
		return nil, fmt.Errorf("align: %s: %w (want the checkpoint's config.json)", cfgPath, err)
	}
	cfg, err := loadAlignConfig(fsys, cfgPath)
	if err != nil {
		return nil, err
	}
	f, err := safetensors.OpenWeightsIn(fsys, dir, "model", "")
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	m := &ALIGN{Config: cfg, TextLength: ALIGNTextLength, dir: dir, backend: b, store: model.NewStore()}
	if err := m.declare(); err != nil {
		return nil, err
	}
	err = weights.Bind(m.store, "/", f, weights.BindOptions{
		Ignore:   ignoreAlignTensor,
		Optional: func(name string) bool { return name == "temperature" },
	})
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	if err := m.loadProcessing(fsys); err != nil {
		return nil, err
	}
	m.newExecs()
	return m, nil
}

// NewALIGN creates an ALIGN model for cfg with PyTorch's default random initialisation, drawn
// deterministically from seed, without image processor or tokenizer: for tensor-level use
// (ImageFeaturesNCHW, TextFeaturesIDs, Forward) when sizing and timing a model whose weights are
// not at hand, as examples/sdscale does for ALIGN-base.
func NewALIGN(cfg *AlignConfig, seed int64) (*ALIGN, error) {
	b, err := backend.Default()
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	m := &ALIGN{Config: cfg, TextLength: ALIGNTextLength, dir: "(random weights)", backend: b, store: model.NewStore()}
	m.store.SetParam(model.ParamInitialSeed, seed)
	if err := m.declare(); err != nil {
		return nil, err
	}
	if err := nn.InitializeVariables(b, m.store); err != nil {
		return nil, fmt.Errorf("align: initialising the variables: %w", err)
	}
	m.noProcessor = errors.New("align: a randomly initialised model has no image processor")
	m.noTokenizer = errors.New("align: a randomly initialised model has no tokenizer")
	m.newExecs()
	return m, nil
}

// ignoreAlignTensor reports the checkpoint tensors ALIGN does not use.
func ignoreAlignTensor(name string) bool {
	switch {
	case strings.HasSuffix(name, ".num_batches_tracked"),
		strings.HasPrefix(name, "text_model.pooler."),
		name == "text_model.embeddings.position_ids",
		name == "text_model.embeddings.token_type_ids":
		return true
	}
	return false
}

// declare creates every variable with its shape by building the whole model once.
func (m *ALIGN) declare() error {
	tc, vc := m.Config.TextConfig, m.Config.VisionConfig
	seq := min(8, tc.MaxPositionEmbeddings)
	ids := shapes.Make(dtypes.Int32, 1, seq)
	err := weights.Declare(m.backend, m.store, func(scope *model.Scope, in []*Node) {
		img := m.ImageFeatures(scope, in[0])
		txt := m.TextFeatures(scope, in[1], in[2], in[3])
		m.LogitsPerImage(scope, img, txt)
	}, shapes.Make(alignDType, 1, vc.ImageSize, vc.ImageSize, vc.NumChannels), ids, ids, ids)
	if err != nil {
		return fmt.Errorf("align: %s: %w", m.dir, err)
	}
	return nil
}

// loadProcessing reads the image processor and the tokenizer when the folder has them.
func (m *ALIGN) loadProcessing(fsys modelfs.FS) error {
	pp := fsys.Join(m.dir, "preprocessor_config.json")
	if exists, err := alignFileExists(fsys, pp); err != nil {
		return fmt.Errorf("align: %w", err)
	} else if exists {
		if m.Processor, err = loadImageProcessor(fsys, pp); err != nil {
			return err
		}
	} else {
		m.noProcessor = fmt.Errorf("align: %s: %w: no preprocessor_config.json, needed to preprocess images "+
			"(ImageFeaturesNCHW takes preprocessed pixels)", m.dir, ErrMissingFile)
	}
	var haveTokenizer bool
	for _, name := range []string{"vocab.txt", "tokenizer.json"} {
		exists, err := alignFileExists(fsys, fsys.Join(m.dir, name))
		if err != nil {
			return fmt.Errorf("align: %w", err)
		}
		haveTokenizer = haveTokenizer || exists
	}
	if haveTokenizer {
		var err error
		if m.Tokenizer, err = loadWordPiece(fsys, m.dir); err != nil {
			return fmt.Errorf("align: %w", err)
		}
	} else {
		m.noTokenizer = fmt.Errorf("align: %s: %w: no vocab.txt or tokenizer.json, needed to tokenize texts "+
			"(TextFeaturesIDs takes token ids)", m.dir, ErrMissingFile)
	}
	return nil
}

func alignFileExists(fsys modelfs.FS, path string) (bool, error) {
	_, err := fsys.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Store returns the variable store holding the model's weights under their upstream names
// ("/vision_model/…", "/text_model/…", "/text_projection/…", "/temperature").
func (m *ALIGN) Store() *model.Store { return m.store }

// Backend returns the backend the model runs on.
func (m *ALIGN) Backend() compute.Backend { return m.backend }

// ImageFeatures builds ALIGN's image features (AlignModel.get_image_features: the vision
// tower's pooled output, unnormalised) for pixels: [batch, height, width, num_channels], channels
// last, preprocessed. It returns [batch, projection_dim]. scope is where the model's variables
// live (Store().RootScope()); it reads "vision_model" under it.
func (m *ALIGN) ImageFeatures(scope *model.Scope, pixels *Node) *Node {
	_, pooled := AlignVisionModel(scope.In("vision_model"), m.Config.VisionConfig, pixels)
	return pooled
}

// TextFeatures builds ALIGN's text features (AlignModel.get_text_features: text_projection of the
// text tower's first-token last hidden state, unnormalised) for ids, attentionMask and
// tokenTypeIDs: [batch, seq] (the latter two may be nil; see AlignTextModel). It returns
// [batch, projection_dim]. It reads "text_model" and "text_projection" under scope.
func (m *ALIGN) TextFeatures(scope *model.Scope, ids, attentionMask, tokenTypeIDs *Node) *Node {
	last := AlignTextModel(scope.In("text_model"), m.Config.TextConfig, ids, attentionMask, tokenTypeIDs)
	d := last.Shape().Dim(-1)
	first := Reshape(Slice(last, AxisRange(), AxisElem(0)), last.Shape().Dim(0), d)
	return nn.Linear(scope.In("text_projection"), first, m.Config.ProjectionDim, true)
}

// LogitsPerImage builds AlignModel's logits_per_image [images, texts]: the cosines of
// imageFeatures [images, dim] and textFeatures [texts, dim], divided by the learned
// "temperature" under scope.
func (m *ALIGN) LogitsPerImage(scope *model.Scope, imageFeatures, textFeatures *Node) *Node {
	t := nn.Variable(scope, "temperature", shapes.Make(alignDType), nn.ConstantInit(m.Config.TemperatureInitValue))
	img, txt := L2Normalize(imageFeatures, -1), L2Normalize(textFeatures, -1)
	cos := Dot(img, txt).General([]int{1}, nil, []int{1}, nil)
	return Div(cos, t.NodeValue(imageFeatures.Graph()))
}

// Temperature returns the model's temperature (logits are cosines divided by it).
func (m *ALIGN) Temperature() (float32, error) {
	v := m.store.GetVariable("/temperature")
	if v == nil {
		return 0, errors.New("align: no temperature variable")
	}
	if !v.HasValue() {
		return float32(m.Config.TemperatureInitValue), nil
	}
	t, err := v.Value()
	if err != nil {
		return 0, fmt.Errorf("align: temperature: %w", err)
	}
	flat, err := tensors.CopyFlatData[float32](t)
	if err != nil || len(flat) != 1 {
		return 0, fmt.Errorf("align: temperature %s: %v", t.Shape(), err)
	}
	return flat[0], nil
}
