package align

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/align/clip"
	clipmodel "github.com/gorpo/gorpo/internal/clip"
	"github.com/gorpo/gorpo/internal/modelfs"
	"github.com/gorpo/gorpo/internal/nn"
	"io/fs"
)

// CLIPConfig is transformers' CLIPConfig, a CLIPModel's config.json: Text and Vision are its
// text_config and vision_config, under their upstream field names (package align/clip documents
// the fields).
type CLIPConfig = clip.Config

// CLIPTextConfig is transformers' CLIPTextConfig (CLIPConfig.Text).
type CLIPTextConfig = clip.TextConfig

// CLIPVisionConfig is transformers' CLIPVisionConfig (CLIPConfig.Vision).
type CLIPVisionConfig = clip.VisionConfig

// CLIPTokenizer is CLIP's byte-level BPE tokenizer (OpenAI's simple_tokenizer, exactly), package
// align/clip's Tokenizer; it is the same type as diffusion.CLIPTokenizer.
type CLIPTokenizer = clip.Tokenizer

// CLIP is CLIP (Radford et al., "Learning Transferable Visual Models From Natural Language
// Supervision", ICML 2021) as transformers' CLIPModel builds it: a ViT image tower and a causal
// text transformer, each pooled (class token; end-of-text token) and linearly projected (no bias)
// into one space, where logits are cosines times exp(logit_scale). The RPO paper's CLIP-I and
// CLIP-T metrics use openai/clip-vit-base-patch16.
//
// *CLIP implements the reward package's Embedder (EmbedImages, EmbedTexts), returning the
// unnormalised projected features (get_image_features, get_text_features). Graph code
// (ImageFeatures, TextFeatures, LogitsPerImage) takes the scope holding the variables,
// Store().RootScope(); host code (ImageFeaturesNCHW, TextFeaturesIDs, Forward, EmbedImages,
// EmbedTexts) compiles once per input shape. Methods are safe for concurrent use; calls run one
// at a time.
type CLIP struct {
	// Config is the checkpoint's config.json.
	Config CLIPConfig

	// Processor preprocesses EmbedImages' images: the folder's preprocessor_config.json, or
	// without one transformers' CLIPImageProcessor defaults resized and cropped to the model's
	// image_size.
	Processor ImageProcessor

	// Tokenizer tokenizes EmbedTexts' texts (padded to its model_max_length, 77, as CLIP's
	// processor does with padding="max_length"): vocab.json + merges.txt, or tokenizer.json. It
	// is nil when the folder has neither; then EmbedTexts fails and TextFeaturesIDs still works.
	Tokenizer *CLIPTokenizer

	noTokenizer error
	runner      *clipmodel.Runner
}

// LoadCLIP loads a CLIPModel checkpoint folder as transformers' save_pretrained writes it
// (openai/clip-vit-base-patch16): config.json and model.safetensors (or its sharded index) are
// required; preprocessor_config.json and the tokenizer files are read when present. Weights bind
// by their upstream names ("text_model.…", "vision_model.…", "text_projection.weight",
// "visual_projection.weight", "logit_scale"); position_ids buffers are skipped. Any other missing,
// unexpected or mis-shaped tensor is an error listing them all. The model runs on the default
// backend unless WithBackend names another.
func LoadCLIP(dir string, opts ...LoadOption) (*CLIP, error) {
	return loadCLIP(modelfs.OS, dir, opts)
}

// LoadCLIPFS is LoadCLIP on the folder dir inside fsys (see LoadALIGNFS).
func LoadCLIPFS(fsys fs.FS, dir string, opts ...LoadOption) (*CLIP, error) {
	return loadCLIP(modelfs.In(fsys), dir, opts)
}

func loadCLIP(fsys modelfs.FS, dir string, opts []LoadOption) (*CLIP, error) {
	b, err := loadBackend(opts)
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	m, err := clipmodel.LoadModelIn(b, fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	c := &CLIP{Config: m.Config, runner: clipmodel.NewRunner(b, m.Store)}
	size := m.Config.Vision.ImageSize
	if c.Processor, err = loadProcessorOr(fsys, dir, func() ImageProcessor {
		p := NewCLIPImageProcessor()
		p.Size = SizeDict{ShortestEdge: size}
		p.CropSize = SizeDict{Height: size, Width: size}
		return p
	}); err != nil {
		return nil, err
	}
	if clipHasTokenizer(fsys, dir) {
		if fsys.IsOS() {
			c.Tokenizer, err = clip.LoadTokenizer(dir)
		} else {
			c.Tokenizer, err = clip.LoadTokenizerFS(fsys.FS(), dir)
		}
		if err != nil {
			return nil, fmt.Errorf("align: %w", err)
		}
	} else {
		c.noTokenizer = fmt.Errorf("align: %s: %w: no vocab.json + merges.txt or tokenizer.json, needed to tokenize texts "+
			"(TextFeaturesIDs takes token ids)", dir, ErrMissingFile)
	}
	return c, nil
}

// clipHasTokenizer reports whether dir holds CLIP tokenizer files.
func clipHasTokenizer(fsys modelfs.FS, dir string) bool {
	for _, name := range []string{"vocab.json", "tokenizer.json"} {
		if fsys.Exists(fsys.Join(dir, name)) {
			return true
		}
	}
	return false
}

// Store returns the variable store holding the model's weights under their upstream names
// ("/vision_model/…", "/text_model/…", "/visual_projection/…", "/text_projection/…",
// "/logit_scale").
func (c *CLIP) Store() *model.Store { return c.runner.Store() }

// Finalize releases the compiled graphs (the weights stay); later calls compile again.
func (c *CLIP) Finalize() { c.runner.Finalize() }

// Backend returns the backend the model runs on.
func (c *CLIP) Backend() compute.Backend { return c.runner.Backend() }

// ImageFeatures builds CLIPModel.get_image_features: the projected (unnormalised) pooled output
// of the image tower, [batch, projection_dim]. pixels: [batch, image_size, image_size,
// num_channels], channels last, preprocessed. It reads "vision_model" and "visual_projection"
// under scope.
func (c *CLIP) ImageFeatures(scope *model.Scope, pixels *Node) *Node {
	return clipmodel.ImageFeatures(scope.ResetVisited(), c.Config, pixels)
}

// TextFeatures builds CLIPModel.get_text_features: the projected (unnormalised) end-of-text
// state of the text tower, [batch, projection_dim]. ids: [batch, L] token ids, L ≤
// text_config.max_position_embeddings; attentionMask: [batch, L] or nil (the causal mask alone;
// padding after the end token then does not change the result). It reads "text_model" and
// "text_projection" under scope.
func (c *CLIP) TextFeatures(scope *model.Scope, ids, attentionMask *Node) *Node {
	return clipmodel.TextFeatures(scope.ResetVisited(), c.Config, ids, attentionMask)
}

// LogitsPerImage builds CLIPModel's logits_per_image [images, texts]: the cosines of
// imageFeatures [images, projection_dim] and textFeatures [texts, projection_dim] times
// exp(logit_scale), the learned scalar under scope.
func (c *CLIP) LogitsPerImage(scope *model.Scope, imageFeatures, textFeatures *Node) *Node {
	g := imageFeatures.Graph()
	scale := nn.Variable(scope, "logit_scale", shapes.Make(imageFeatures.DType()),
		nn.ConstantInit(c.Config.LogitScaleInitValue)).NodeValue(g)
	sim := Dot(clipmodel.Normalize(imageFeatures), clipmodel.Normalize(textFeatures)).General([]int{1}, nil, []int{1}, nil)
	return Mul(sim, Exp(scale))
}

// CLIPOutput is what Forward returns: CLIPModel's outputs as rows.
type CLIPOutput struct {
	ImageFeatures, TextFeatures [][]float32 // projected, unnormalised
	ImageEmbeds, TextEmbeds     [][]float32 // the same, L2-normalised
	LogitsPerImage              [][]float32 // [images][texts]: exp(logit_scale)·cosine
}

// ImageFeaturesNCHW runs ImageFeatures on preprocessed pixel values, [batch, num_channels,
// image_size, image_size] in NCHW as the Processor gives them: one embedding of projection_dim
// values per image. ctx is checked before running (one run is not interruptible).
func (c *CLIP) ImageFeaturesNCHW(ctx context.Context, pixels []float32, shape []int) ([][]float32, error) {
	x, err := c.pixelTensor(pixels, shape)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("align: CLIP: %w", err)
	}
	outs, err := c.runner.Run("align: CLIP image features", func(scope *model.Scope, in []*Node) []*Node {
		return []*Node{c.ImageFeatures(scope, TransposeAllAxes(in[0], 0, 2, 3, 1))}
	}, x)
	if err != nil {
		return nil, err
	}
	return clipmodel.Rows(outs[0]), nil
}

// TextFeaturesIDs runs TextFeatures on token ids, one row per text, all rows of one length (as
// the Tokenizer pads them), every id in [0, vocab_size); rows longer than
// max_position_embeddings are cut to it. One embedding of projection_dim values per text.
func (c *CLIP) TextFeaturesIDs(ctx context.Context, ids [][]int) ([][]float32, error) {
	x, err := c.idsTensor(ids)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("align: CLIP: %w", err)
	}
	outs, err := c.runner.Run("align: CLIP text features", func(scope *model.Scope, in []*Node) []*Node {
		return []*Node{c.TextFeatures(scope, in[0], nil)}
	}, x)
	if err != nil {
		return nil, err
	}
	return clipmodel.Rows(outs[0]), nil
}

// Forward runs CLIPModel.forward on preprocessed pixels (NCHW, as for ImageFeaturesNCHW) and
// token ids (as for TextFeaturesIDs).
func (c *CLIP) Forward(ctx context.Context, pixels []float32, shape []int, ids [][]int) (*CLIPOutput, error) {
	x, err := c.pixelTensor(pixels, shape)
	if err != nil {
		return nil, err
	}
	t, err := c.idsTensor(ids)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("align: CLIP: %w", err)
	}
	outs, err := c.runner.Run("align: CLIP forward", func(scope *model.Scope, in []*Node) []*Node {
		o := clipmodel.Forward(scope, c.Config, TransposeAllAxes(in[0], 0, 2, 3, 1), in[1], nil)
		return []*Node{o.ImageFeatures, o.TextFeatures, o.ImageEmbeds, o.TextEmbeds, o.LogitsPerImage}
	}, x, t)
	if err != nil {
		return nil, err
	}
	return &CLIPOutput{
		ImageFeatures: clipmodel.Rows(outs[0]), TextFeatures: clipmodel.Rows(outs[1]),
		ImageEmbeds: clipmodel.Rows(outs[2]), TextEmbeds: clipmodel.Rows(outs[3]),
		LogitsPerImage: clipmodel.Rows(outs[4]),
	}, nil
}

// LogitScale returns the learned logit_scale (logits are cosines times its exponential).
func (c *CLIP) LogitScale() (float32, error) {
	v := c.Store().GetVariable("/logit_scale")
	if v == nil || !v.HasValue() {
		return 0, errors.New("align: CLIP has no logit_scale value")
	}
	t, err := v.Value()
	if err != nil {
		return 0, fmt.Errorf("align: CLIP logit_scale: %w", err)
	}
	flat, err := tensors.CopyFlatData[float32](t)
	if err != nil || len(flat) != 1 {
		return 0, fmt.Errorf("align: CLIP logit_scale %s: %v", t.Shape(), err)
	}
	return flat[0], nil
}

// EmbedImages implements the reward package's Embedder: the Processor's pixels through
// ImageFeaturesNCHW, one unnormalised embedding per image, in order.
func (c *CLIP) EmbedImages(ctx context.Context, images []image.Image) ([][]float32, error) {
	if len(images) == 0 {
		return nil, nil
	}
	pixels, shape, err := c.Processor.Preprocess(images)
	if err != nil {
		return nil, fmt.Errorf("align: CLIP: %w", err)
	}
	return c.ImageFeaturesNCHW(ctx, pixels, shape)
}

// EmbedTexts implements the reward package's Embedder: each text tokenized by the Tokenizer
// (begin token, at most model_max_length-2 BPE ids, end token, padding), through
// TextFeaturesIDs, one unnormalised embedding per text, in order. Without tokenizer files in the
// checkpoint folder it returns an error wrapping ErrMissingFile.
func (c *CLIP) EmbedTexts(ctx context.Context, texts []string) ([][]float32, error) {
	if c.Tokenizer == nil {
		if c.noTokenizer != nil {
			return nil, c.noTokenizer
		}
		return nil, fmt.Errorf("align: CLIP: no Tokenizer: %w", ErrMissingFile)
	}
	if len(texts) == 0 {
		return nil, nil
	}
	ids, _ := c.Tokenizer.BatchEncode(texts)
	return c.TextFeaturesIDs(ctx, ids)
}

func (c *CLIP) pixelTensor(pixels []float32, shape []int) (*tensors.Tensor, error) {
	v := c.Config.Vision
	x, err := clipmodel.PixelTensor(pixels, shape, v.NumChannels, v.ImageSize, v.ImageSize)
	if err != nil {
		return nil, fmt.Errorf("align: CLIP: %w", err)
	}
	return x, nil
}

func (c *CLIP) idsTensor(ids [][]int) (*tensors.Tensor, error) {
	t := c.Config.Text
	x, err := clipmodel.TokenTensor(ids, t.VocabSize, t.MaxPositionEmbeddings)
	if err != nil {
		return nil, fmt.Errorf("align: CLIP: %w", err)
	}
	return x, nil
}
