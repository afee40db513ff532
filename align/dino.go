package align

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/clip"
	"github.com/gorpo/gorpo/internal/modelfs"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
	"io/fs"
)

// DINOScope is the scope under which LoadDINO keeps the ViT's variables in its Store:
// "/vit/encoder/layer/0/attention/attention/query/weight" is the checkpoint's
// "encoder.layer.0.attention.attention.query.weight" (or "vit.encoder...." in a
// ViTForImageClassification checkpoint).
const DINOScope = "/vit"

// DINO is the self-supervised ViT of DINO (Caron et al., "Emerging Properties in
// Self-Supervised Vision Transformers", ICCV 2021; facebook/dino-vits16 for the DINO metric of
// DreamBooth and RPO), as transformers' ViTModel without pooler builds it. Its image embedding
// is the class token of last_hidden_state (after the final layer norm).
//
// *DINO implements the reward package's ImageEmbedder. Graph code (Forward, ImageFeatures) takes
// the scope holding the variables, Store().Scope(DINOScope); host code (LastHiddenStateNCHW,
// ImageFeaturesNCHW, EmbedImages) compiles once per input shape. Methods are safe for concurrent
// use; calls run one at a time.
type DINO struct {
	// Config is the checkpoint's config.json.
	Config ViTConfig

	// Processor preprocesses EmbedImages' images: the folder's preprocessor_config.json, or
	// without one transformers' ViTImageProcessor defaults resized to the model's image_size.
	Processor ImageProcessor

	runner *clip.Runner
}

// LoadDINO loads a ViTModel checkpoint folder as transformers' save_pretrained writes it:
// config.json and model.safetensors (or its sharded index) are required, preprocessor_config.json
// is read when present. Weights bind by their upstream names, with or without the "vit." prefix;
// the pooler's and a classifier's weights and position_ids buffers are skipped. Any other
// missing, unexpected or mis-shaped tensor is an error listing them all. The model runs on the
// default backend unless WithBackend names another.
func LoadDINO(dir string, opts ...LoadOption) (*DINO, error) {
	return loadDINO(modelfs.OS, dir, opts)
}

// LoadDINOFS is LoadDINO on the folder dir inside fsys (see LoadALIGNFS).
func LoadDINOFS(fsys fs.FS, dir string, opts ...LoadOption) (*DINO, error) {
	return loadDINO(modelfs.In(fsys), dir, opts)
}

func loadDINO(fsys modelfs.FS, dir string, opts []LoadOption) (*DINO, error) {
	if err := fsys.CheckDir("align", dir); err != nil {
		return nil, err
	}
	b, err := loadBackend(opts)
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	cfgPath := fsys.Join(dir, "config.json")
	if _, err := fsys.Stat(cfgPath); err != nil {
		return nil, fmt.Errorf("align: %w (want the checkpoint's config.json)", err)
	}
	cfg, err := loadViTConfig(fsys, cfgPath)
	if err != nil {
		return nil, err
	}
	f, err := safetensors.OpenWeightsIn(fsys, dir, "model", "")
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	store := model.NewStore()
	err = weights.Declare(b, store, func(scope *model.Scope, in []*Node) {
		ViTModel(scope.Store().Scope(DINOScope), cfg, in[0])
	}, shapes.Make(dtypes.Float32, 1, cfg.ImageSize, cfg.ImageSize, cfg.NumChannels))
	if err != nil {
		return nil, fmt.Errorf("align: %s: %w", dir, err)
	}
	bindScope := DINOScope
	if f.Has("vit.embeddings.cls_token") {
		bindScope = "/"
	}
	if err := weights.Bind(store, bindScope, f, weights.BindOptions{Ignore: ignoreDINOTensor}); err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	d := &DINO{Config: cfg, runner: clip.NewRunner(b, store)}
	if d.Processor, err = loadProcessorOr(fsys, dir, func() ImageProcessor {
		p := NewViTImageProcessor()
		p.Size = SizeDict{Height: cfg.ImageSize, Width: cfg.ImageSize}
		return p
	}); err != nil {
		return nil, err
	}
	return d, nil
}

// ignoreDINOTensor reports the checkpoint tensors a ViTModel without pooler does not use.
func ignoreDINOTensor(name string) bool {
	name = strings.TrimPrefix(name, "vit.")
	return strings.HasPrefix(name, "pooler.") || strings.HasPrefix(name, "classifier.") || clip.IgnoreBuffers(name)
}

// loadProcessorOr reads dir/preprocessor_config.json, or returns def() when there is none.
func loadProcessorOr(fsys modelfs.FS, dir string, def func() ImageProcessor) (ImageProcessor, error) {
	path := fsys.Join(dir, "preprocessor_config.json")
	if _, err := fsys.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return def(), nil
	}
	return loadImageProcessor(fsys, path)
}

// Store returns the variable store holding the ViT's weights under DINOScope.
func (d *DINO) Store() *model.Store { return d.runner.Store() }

// Finalize releases the compiled graphs (the weights stay); later calls compile again.
func (d *DINO) Finalize() { d.runner.Finalize() }

// Backend returns the backend the model runs on.
func (d *DINO) Backend() compute.Backend { return d.runner.Backend() }

// Forward builds the ViT (ViTModel) under scope, normally Store().Scope(DINOScope), and returns
// last_hidden_state [batch, 1+patches, hidden_size]. pixels: [batch, image_size, image_size,
// num_channels], channels last, preprocessed. It may be called several times with one scope in a
// graph.
func (d *DINO) Forward(scope *model.Scope, pixels *Node) *Node {
	return ViTModel(scope.ResetVisited(), d.Config, pixels)
}

// ImageFeatures builds DINO's image embeddings, the class token of Forward:
// [batch, hidden_size], unnormalised.
func (d *DINO) ImageFeatures(scope *model.Scope, pixels *Node) *Node {
	return clip.FirstToken(d.Forward(scope, pixels))
}

// run executes the ViT on NCHW pixels, returning last_hidden_state or its class token.
func (d *DINO) run(ctx context.Context, pixels []float32, shape []int, clsOnly bool) (*tensors.Tensor, error) {
	c := d.Config
	x, err := clip.PixelTensor(pixels, shape, c.NumChannels, c.ImageSize, c.ImageSize)
	if err != nil {
		return nil, fmt.Errorf("align: DINO: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("align: DINO: %w", err)
	}
	outs, err := d.runner.Run(fmt.Sprintf("align: DINO (class token only %v)", clsOnly), func(scope *model.Scope, in []*Node) []*Node {
		last := d.Forward(scope.Store().Scope(DINOScope), TransposeAllAxes(in[0], 0, 2, 3, 1))
		if clsOnly {
			return []*Node{clip.FirstToken(last)}
		}
		return []*Node{last}
	}, x)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// LastHiddenStateNCHW runs the ViT on preprocessed pixel values, [batch, num_channels,
// image_size, image_size] in NCHW as the Processor gives them, and returns last_hidden_state
// [batch, 1+patches, hidden_size] in row-major order with its shape. ctx is checked before
// running (one run is not interruptible).
func (d *DINO) LastHiddenStateNCHW(ctx context.Context, pixels []float32, shape []int) ([]float32, []int, error) {
	out, err := d.run(ctx, pixels, shape, false)
	if err != nil {
		return nil, nil, err
	}
	return tensors.MustCopyFlatData[float32](out), out.Shape().Dimensions, nil
}

// ImageFeaturesNCHW is LastHiddenStateNCHW's class token: one unnormalised embedding of
// hidden_size values per image.
func (d *DINO) ImageFeaturesNCHW(ctx context.Context, pixels []float32, shape []int) ([][]float32, error) {
	out, err := d.run(ctx, pixels, shape, true)
	if err != nil {
		return nil, err
	}
	return clip.Rows(out), nil
}

// EmbedImages implements the reward package's ImageEmbedder: the Processor's pixels through
// ImageFeaturesNCHW, one unnormalised embedding per image, in order.
func (d *DINO) EmbedImages(ctx context.Context, images []image.Image) ([][]float32, error) {
	if len(images) == 0 {
		return nil, nil
	}
	pixels, shape, err := d.Processor.Preprocess(images)
	if err != nil {
		return nil, fmt.Errorf("align: DINO: %w", err)
	}
	return d.ImageFeaturesNCHW(ctx, pixels, shape)
}
