package diffusion

import (
	"context"
	"fmt"
	"io/fs"
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/align/clip"
	"github.com/gorpo/gorpo/internal/backend"
	clipmodel "github.com/gorpo/gorpo/internal/clip"
	"github.com/gorpo/gorpo/internal/modelfs"
	"github.com/gorpo/gorpo/internal/safetensors"
)

// TextEncoderConfig is the text encoder's config.json: transformers' CLIPTextConfig, under its
// upstream field names (hidden_act "quick_gelu" for SD 1.x, "gelu" for SD 2.x, ...): package
// align/clip's TextConfig, which documents the fields.
type TextEncoderConfig = clip.TextConfig

// TextEncoderScope is the scope under which LoadTextEncoder keeps the text encoder's variables in
// its Store: "/text_model/encoder/layers/0/self_attn/q_proj/weight" is the checkpoint's
// "text_model.encoder.layers.0.self_attn.q_proj.weight".
const TextEncoderScope = clipmodel.TextModelScope

// TextEncoder is Stable Diffusion's text encoder, transformers' CLIPTextModel: token and
// position embeddings, a causal pre-norm transformer and a final layer norm, whose
// last_hidden_state conditions the U-Net's cross-attention.
//
// Graph side, Forward builds it under a scope; host side, Encode takes token ids (as
// CLIPTokenizer's BatchEncode gives them) and returns the hidden states, compiling once per
// input shape. Methods are safe for concurrent use; host calls run one at a time. It computes in
// float32 unless SetComputeDType chooses another dtype.
type TextEncoder struct {
	cfg    TextEncoderConfig
	runner *clipmodel.Runner
	dtype  atomic.Int32 // compute dtype (a dtypes.DType); zero is Float32
}

// LoadTextEncoder reads a diffusers text_encoder/ folder (a transformers CLIPTextModel):
// config.json and model.safetensors (or its sharded index). Tensor names may carry the
// "text_model." prefix (Stable Diffusion's checkpoints) or not (what transformers 5 writes);
// position_ids buffers are skipped; Variant reads model.<variant>.safetensors instead. Errors
// name the missing file, the unsupported config.json field, or every missing, unexpected and
// mis-shaped tensor. It runs on the default backend unless WithBackend names another.
func LoadTextEncoder(dir string, opts ...LoadOption) (*TextEncoder, error) {
	return loadTextEncoder(modelfs.OS, dir, opts)
}

// LoadTextEncoderFS is LoadTextEncoder on the folder dir inside fsys (see LoadUNetFS).
func LoadTextEncoderFS(fsys fs.FS, dir string, opts ...LoadOption) (*TextEncoder, error) {
	return loadTextEncoder(modelfs.In(fsys), dir, opts)
}

func loadTextEncoder(m modelfs.FS, dir string, opts []LoadOption) (*TextEncoder, error) {
	readConfig := func(m modelfs.FS, path string) (TextEncoderConfig, error) {
		data, err := m.ReadFile(path)
		if err != nil {
			return TextEncoderConfig{}, fmt.Errorf("text encoder: clip: %w", err)
		}
		cfg, err := clipmodel.ParseTextConfig(data)
		if err != nil {
			return cfg, fmt.Errorf("text encoder: %s: %w", path, err)
		}
		return cfg, nil
	}
	return loadModel("text encoder", m, dir, transformersFiles, opts, readConfig,
		func(b compute.Backend, cfg TextEncoderConfig, f *safetensors.File) (*TextEncoder, error) {
			tm, err := clipmodel.BindTextModel(b, cfg, f)
			if err != nil {
				return nil, err
			}
			return &TextEncoder{cfg: tm.Config, runner: clipmodel.NewRunner(b, tm.Store)}, nil
		})
}

// Backend returns the backend the text encoder's weights live on and its graphs run on (see
// UNet.Backend).
func (te *TextEncoder) Backend() compute.Backend { return te.runner.Backend() }

// NewTextEncoder creates a text encoder for cfg with PyTorch's default random initialisation,
// drawn deterministically from seed: for timing and sizing a model whose weights are not at hand
// (examples/sdscale builds Stable Diffusion's from its published config.json this way).
func NewTextEncoder(cfg TextEncoderConfig, seed int64) (*TextEncoder, error) {
	b, err := backend.Default()
	if err != nil {
		return nil, fmt.Errorf("text encoder: %w", err)
	}
	m, err := clipmodel.NewTextModel(b, cfg, seed)
	if err != nil {
		return nil, fmt.Errorf("text encoder: %w", err)
	}
	return &TextEncoder{cfg: m.Config, runner: clipmodel.NewRunner(b, m.Store)}, nil
}

// Config returns the text encoder's configuration.
func (te *TextEncoder) Config() TextEncoderConfig { return te.cfg }

// Store returns the Store holding the text encoder's variables under TextEncoderScope.
func (te *TextEncoder) Store() *model.Store { return te.runner.Store() }

// SetComputeDType sets the dtype Forward and Encode compute in: dtypes.Float32 (the default),
// dtypes.BFloat16 (or Float16) for mixed precision on XLA GPU backends, or Float64. As for
// UNet.SetComputeDType, the weights stay float32, the layers convert them as they read them,
// layer norms and softmax stay in float32, and the outputs come back as float32. Half precision
// is for XLA backends: the Go backend runs it slower than float32.
func (te *TextEncoder) SetComputeDType(dtype dtypes.DType) error {
	dtype, err := checkComputeDType("text encoder", dtype)
	if err != nil {
		return err
	}
	te.dtype.Store(int32(dtype))
	return nil
}

// ComputeDType returns the dtype the text encoder computes in (see SetComputeDType).
func (te *TextEncoder) ComputeDType() dtypes.DType { return orFloat32(dtypes.DType(te.dtype.Load())) }

// Finalize releases the compiled graphs (the weights stay); later calls compile again.
func (te *TextEncoder) Finalize() { te.runner.Finalize() }

// Forward builds the text encoder (transformers' CLIPTextTransformer) under scope, normally
// Store().Scope(TextEncoderScope); variables the scope's Store lacks are created with PyTorch's
// default initialisation. It may be called several times with one scope in a graph (the copies
// share their weights).
//
//   - ids: [batch, L] token ids (any integer dtype), L ≤ max_position_embeddings; no attention
//     mask, as Stable Diffusion's pipelines call it.
//   - lastHidden: [batch, L, hidden_size], last_hidden_state (after the final layer norm): the
//     U-Net's context.
//   - pooled: [batch, hidden_size], pooler_output: lastHidden at the end-of-text token.
//   - hidden: transformers' hidden_states, num_hidden_layers+1 nodes [batch, L, hidden_size]: the
//     embeddings, then each layer's output, without the final layer norm.
//
// It computes in ComputeDType; the outputs are float32.
func (te *TextEncoder) Forward(scope *model.Scope, ids *Node) (lastHidden, pooled *Node, hidden []*Node) {
	o := clipmodel.TextTransformerIn(scope.ResetVisited(), te.cfg, ids, nil, te.ComputeDType())
	f32 := func(x *Node) *Node { return ConvertDType(x, dtypes.Float32) }
	hidden = make([]*Node, len(o.Hidden))
	for i, h := range o.Hidden {
		hidden[i] = f32(h)
	}
	return f32(o.LastHidden), f32(o.Pooled), hidden
}

// EncodeOption adjusts Encode.
type EncodeOption func(*encodeOptions)

type encodeOptions struct {
	clipSkip int
	rawSkip  bool
}

// WithClipSkip makes Encode return hidden_states[-(n+1)], the output of the layer n before the
// last (n = 1: the penultimate layer, the conditioning of Stable Diffusion 2.x's original
// OpenCLIP code and of diffusers' clip_skip=1), with the final layer norm applied, as both of
// those apply it. n = 0 is the default, last_hidden_state.
func WithClipSkip(n int) EncodeOption {
	return func(o *encodeOptions) { o.clipSkip = n }
}

// WithoutFinalLayerNorm makes a WithClipSkip(n ≥ 1) output the raw hidden state, without the final
// layer norm: transformers' hidden_states[-(n+1)] as returned. It has no effect on
// last_hidden_state.
func WithoutFinalLayerNorm() EncodeOption {
	return func(o *encodeOptions) { o.rawSkip = true }
}

// Encode runs the text encoder on token ids, one row per prompt, all rows of one length (as
// CLIPTokenizer.BatchEncode pads them), every id in [0, vocab_size). Rows longer than
// max_position_embeddings are cut to it. It returns the hidden states [batch, L, hidden_size]
// in row-major order and that shape: last_hidden_state, or with WithClipSkip an earlier
// layer's output.
//
// ctx is checked before running (one run is not interruptible).
func (te *TextEncoder) Encode(ctx context.Context, ids [][]int, opts ...EncodeOption) ([]float32, []int, error) {
	var o encodeOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.clipSkip < 0 || o.clipSkip > te.cfg.NumHiddenLayers {
		return nil, nil, fmt.Errorf("text encoder: clip skip %d, want 0 to num_hidden_layers (%d)", o.clipSkip, te.cfg.NumHiddenLayers)
	}
	x, err := clipmodel.TokenTensor(ids, te.cfg.VocabSize, te.cfg.MaxPositionEmbeddings)
	if err != nil {
		return nil, nil, fmt.Errorf("text encoder: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("text encoder: %w", err)
	}
	dtype := te.ComputeDType()
	key := fmt.Sprintf("text encoder: skip %d raw %v in %s", o.clipSkip, o.rawSkip && o.clipSkip > 0, dtype)
	outs, err := te.runner.Run(key, func(scope *model.Scope, in []*Node) []*Node {
		out := clipmodel.TextTransformerIn(scope.Store().Scope(TextEncoderScope), te.cfg, in[0], nil, dtype)
		if o.clipSkip == 0 {
			return []*Node{ConvertDType(out.LastHidden, dtypes.Float32)}
		}
		h := out.Hidden[len(out.Hidden)-1-o.clipSkip]
		if !o.rawSkip {
			h = out.FinalNorm(h)
		}
		return []*Node{ConvertDType(h, dtypes.Float32)}
	}, x)
	if err != nil {
		return nil, nil, err
	}
	return tensors.MustCopyFlatData[float32](outs[0]), outs[0].Shape().Dimensions, nil
}
