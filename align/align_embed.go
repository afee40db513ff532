package align

import (
	"context"
	"errors"
	"fmt"
	"image"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/hostexec"
)

// AlignOutput is what AlignModel's forward returns, as host rows.
type AlignOutput struct {
	// ImageFeatures [images][projection_dim] and TextFeatures [texts][projection_dim] are the
	// unnormalised features (get_image_features, get_text_features).
	ImageFeatures, TextFeatures [][]float32
	// ImageEmbeds and TextEmbeds are the features scaled to unit length.
	ImageEmbeds, TextEmbeds [][]float32
	// LogitsPerImage [images][texts] is ImageEmbeds·TextEmbedsᵀ / temperature.
	LogitsPerImage [][]float32
}

// newExecs prepares the host-side computations; each compiles on first use for each input shape.
func (m *ALIGN) newExecs() {
	nhwc := func(pixels *Node) *Node { return TransposeAllAxes(pixels, 0, 2, 3, 1) }
	m.imageExec = hostexec.New(m.backend, m.store, "ALIGN image features", func(scope *model.Scope, in []*Node) []*Node {
		return []*Node{m.ImageFeatures(scope, nhwc(in[0]))}
	})
	m.textExec = hostexec.New(m.backend, m.store, "ALIGN text features", func(scope *model.Scope, in []*Node) []*Node {
		return []*Node{m.TextFeatures(scope, in[0], in[1], in[2])}
	})
	m.forwardExec = hostexec.New(m.backend, m.store, "ALIGN forward", func(scope *model.Scope, in []*Node) []*Node {
		img := m.ImageFeatures(scope, nhwc(in[0]))
		txt := m.TextFeatures(scope, in[1], in[2], in[3])
		logits := m.LogitsPerImage(scope, img, txt)
		return []*Node{img, txt, L2Normalize(img, -1), L2Normalize(txt, -1), logits}
	})
}

// Finalize releases the compiled graphs and the weights; m must not be used afterwards.
func (m *ALIGN) Finalize() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range []*hostexec.Exec{m.imageExec, m.textExec, m.forwardExec} {
		if e != nil {
			e.Finalize()
		}
	}
	m.imageExec, m.textExec, m.forwardExec = nil, nil, nil
	m.store.Finalize()
}

// ImageFeaturesNCHW returns the image features [batch][projection_dim] (unnormalised) of pixel
// values laid out NCHW with shape [batch, num_channels, height, width], as an image processor
// makes them (EfficientNetImageProcessor: values in [-1, 1] for ALIGN).
func (m *ALIGN) ImageFeaturesNCHW(ctx context.Context, pixels []float32, shape []int) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("align: image features: %w", err)
	}
	t, err := m.pixelTensor(pixels, shape)
	if err != nil {
		return nil, err
	}
	outs, err := m.run(fmt.Sprintf("image features of pixels %v", shape), &m.imageExec, t)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// TextFeaturesIDs returns the text features [batch][projection_dim] (unnormalised) of token ids
// [batch][seq], with the attention mask (1 for tokens, 0 for padding) and token type ids of the
// same shape; mask nil means all ones and types nil all zeros. Every id must be below
// text_config.vocab_size, every type below type_vocab_size, and seq at most
// max_position_embeddings.
func (m *ALIGN) TextFeaturesIDs(ctx context.Context, ids, mask, types [][]int) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("align: text features: %w", err)
	}
	in, err := m.textTensors(ids, mask, types)
	if err != nil {
		return nil, err
	}
	outs, err := m.run(fmt.Sprintf("text features of %d×%d token ids", len(ids), len(ids[0])), &m.textExec, in...)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// Forward runs AlignModel's forward pass on pixel values (NCHW, see ImageFeaturesNCHW) and token
// ids (see TextFeaturesIDs) and returns the features, the unit embeddings and logits_per_image.
func (m *ALIGN) Forward(ctx context.Context, pixels []float32, shape []int, ids, mask, types [][]int) (*AlignOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("align: forward: %w", err)
	}
	p, err := m.pixelTensor(pixels, shape)
	if err != nil {
		return nil, err
	}
	in, err := m.textTensors(ids, mask, types)
	if err != nil {
		p.FinalizeAll()
		return nil, err
	}
	outs, err := m.run(fmt.Sprintf("forward of pixels %v and %d×%d token ids", shape, len(ids), len(ids[0])),
		&m.forwardExec, append([]*tensors.Tensor{p}, in...)...)
	if err != nil {
		return nil, err
	}
	return &AlignOutput{ImageFeatures: outs[0], TextFeatures: outs[1], ImageEmbeds: outs[2], TextEmbeds: outs[3],
		LogitsPerImage: outs[4]}, nil
}

// EmbedImages returns the image features [len(images)][projection_dim] (unnormalised) of images,
// preprocessed by the checkpoint's image processor. It implements reward's ImageEmbedder.
func (m *ALIGN) EmbedImages(ctx context.Context, images []image.Image) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("align: EmbedImages: %w", err)
	}
	if len(images) == 0 {
		return nil, errors.New("align: EmbedImages: no images, want at least one")
	}
	for i, img := range images {
		if why := alignBadImage(img); why != "" {
			return nil, fmt.Errorf("align: EmbedImages: image %d %s", i, why)
		}
	}
	if m.Processor == nil {
		return nil, m.noProcessor
	}
	pixels, shape, err := m.Processor.Preprocess(images)
	if err != nil {
		return nil, fmt.Errorf("align: EmbedImages: %w", err)
	}
	return m.ImageFeaturesNCHW(ctx, pixels, shape)
}

// EmbedTexts returns the text features [len(texts)][projection_dim] (unnormalised) of texts,
// tokenised as AlignProcessor does: [CLS] word pieces [SEP], padded with [PAD] to TextLength.
// It implements reward's Embedder with EmbedImages.
func (m *ALIGN) EmbedTexts(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("align: EmbedTexts: %w", err)
	}
	if len(texts) == 0 {
		return nil, errors.New("align: EmbedTexts: no texts, want at least one")
	}
	if m.Tokenizer == nil {
		return nil, m.noTokenizer
	}
	ids, mask, types := m.EncodeTexts(texts)
	return m.TextFeaturesIDs(ctx, ids, mask, types)
}

// EncodeTexts tokenises texts as EmbedTexts does (it needs the Tokenizer): every row has the
// same length, TextLength, or more when a text needs more, up to max_position_embeddings.
func (m *ALIGN) EncodeTexts(texts []string) (ids, mask, types [][]int) {
	n := m.TextLength
	if n <= 0 {
		n = ALIGNTextLength
	}
	for _, t := range texts {
		n = max(n, len(m.Tokenizer.Encode(t))+2)
	}
	n = min(n, m.Config.TextConfig.MaxPositionEmbeddings)
	return m.Tokenizer.BatchEncode(texts, n)
}

// alignBadImage says what is wrong with an image that cannot be embedded, or "".
func alignBadImage(img image.Image) (why string) {
	if img == nil {
		return "is nil, want an image"
	}
	defer func() {
		if recover() != nil {
			why = "is a nil image, want an image" // a typed nil pointer
		}
	}()
	if b := img.Bounds(); b.Empty() {
		return fmt.Sprintf("has bounds %v, want a non-empty image", b)
	}
	return ""
}

// pixelTensor checks NCHW pixel values against the configuration and wraps them in a tensor.
func (m *ALIGN) pixelTensor(pixels []float32, shape []int) (*tensors.Tensor, error) {
	c := m.Config.VisionConfig.NumChannels
	if len(shape) != 4 || shape[0] < 1 || shape[1] != c || shape[2] < 1 || shape[3] < 1 {
		return nil, fmt.Errorf("align: pixel shape %v, want [batch ≥ 1, %d, height ≥ 1, width ≥ 1] (NCHW)", shape, c)
	}
	if n := shape[0] * shape[1] * shape[2] * shape[3]; n != len(pixels) {
		return nil, fmt.Errorf("align: %d pixel values for shape %v, want %d", len(pixels), shape, n)
	}
	return tensors.FromFlatDataAndDimensions(append([]float32(nil), pixels...), shape...), nil
}

// textTensors checks token ids, attention mask and token types and returns them as int32
// tensors [batch, seq].
func (m *ALIGN) textTensors(ids, mask, types [][]int) ([]*tensors.Tensor, error) {
	tc := m.Config.TextConfig
	if len(ids) == 0 || len(ids[0]) == 0 {
		return nil, errors.New("align: no token ids, want [batch ≥ 1][seq ≥ 1]")
	}
	batch, seq := len(ids), len(ids[0])
	if seq > tc.MaxPositionEmbeddings {
		return nil, fmt.Errorf("align: %d tokens per text, more than text_config.max_position_embeddings = %d",
			seq, tc.MaxPositionEmbeddings)
	}
	flat := func(name string, rows [][]int, def, limit int, allowed string) ([]int32, error) {
		out := make([]int32, batch*seq)
		if rows == nil {
			for i := range out {
				out[i] = int32(def)
			}
			return out, nil
		}
		if len(rows) != batch {
			return nil, fmt.Errorf("align: %s has %d rows, want %d like the token ids", name, len(rows), batch)
		}
		for i, row := range rows {
			if len(row) != seq {
				return nil, fmt.Errorf("align: %s[%d] has %d entries, want %d like ids[0]", name, i, len(row), seq)
			}
			for j, v := range row {
				if v < 0 || v >= limit {
					return nil, fmt.Errorf("align: %s[%d][%d] = %d, want %s", name, i, j, v, allowed)
				}
				out[i*seq+j] = int32(v)
			}
		}
		return out, nil
	}
	idv, err := flat("ids", ids, 0, tc.VocabSize, fmt.Sprintf("0 ≤ id < text_config.vocab_size = %d", tc.VocabSize))
	if err != nil {
		return nil, err
	}
	maskv, err := flat("attention mask", mask, 1, 2, "0 or 1")
	if err != nil {
		return nil, err
	}
	typev, err := flat("token type ids", types, 0, tc.TypeVocabSize,
		fmt.Sprintf("0 ≤ type < text_config.type_vocab_size = %d", tc.TypeVocabSize))
	if err != nil {
		return nil, err
	}
	out := make([]*tensors.Tensor, 3)
	for i, v := range [][]int32{idv, maskv, typev} {
		out[i] = tensors.FromFlatDataAndDimensions(v, batch, seq)
	}
	return out, nil
}

// run executes the computation in *execField on args (which it finalizes) and returns each output
// [rows, cols] as host rows. Graph-building panics come back as errors.
func (m *ALIGN) run(what string, execField **hostexec.Exec, args ...*tensors.Tensor) (outs [][][]float32, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() {
		for _, a := range args {
			_ = a.FinalizeAll()
		}
	}()
	exec := *execField
	if exec == nil {
		return nil, fmt.Errorf("align: %s: the model was finalized", what)
	}
	in := make([]any, len(args))
	for i, a := range args {
		in[i] = a
	}
	results, err := exec.Call(in...)
	if err != nil {
		return nil, fmt.Errorf("align: %s: %w", what, err)
	}
	for _, t := range results {
		rows, err := alignTensorRows(t)
		_ = t.FinalizeAll()
		if err != nil {
			return nil, fmt.Errorf("align: %s: %w", what, err)
		}
		outs = append(outs, rows)
	}
	return outs, nil
}

// alignTensorRows copies a float32 [rows, cols] tensor into host rows.
func alignTensorRows(t *tensors.Tensor) ([][]float32, error) {
	dims := t.Shape().Dimensions
	if len(dims) != 2 {
		return nil, fmt.Errorf("output shape %s, want [rows, cols]", t.Shape())
	}
	flat, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, err
	}
	rows := make([][]float32, dims[0])
	for i := range rows {
		rows[i] = flat[i*dims[1] : (i+1)*dims[1] : (i+1)*dims[1]]
	}
	return rows, nil
}
