package rewardmodel

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/internal/toyworld"
)

// TextLength is the number of positions of the text tower (text_config.max_position_embeddings
// and tokenizer_config.json's model_max_length): the world's longest caption, "[CLS] a photo of
// an orange dog wearing a … with the Statue of Liberty in the background [SEP]", needs about 20.
const TextLength = 32

// NewConfig returns the reward model's architecture as transformers' AlignConfig, sized to the
// toy world: an EfficientNet for 32×32 pictures (width ×0.5: a 16-channel stem, stages of 16,
// 24, 40 and 64 channels, feature maps 16×16 → 16 → 8 → 4 → 4, 6 MBConv blocks) whose 64 pooled
// channels are the image features, and a 2-layer BERT (hidden 48, 4 heads) over vocabSize
// WordPiece tokens whose first token is projected to the same 64 dimensions.
func NewConfig(vocabSize int) *align.AlignConfig {
	v := align.NewAlignVisionConfig()
	v.ImageSize = toyworld.Size
	v.WidthCoefficient = 0.5
	v.DepthCoefficient = 1.0
	v.KernelSizes = []int{3, 3, 5, 3}
	v.InChannels = []int{32, 32, 48, 80}
	v.OutChannels = []int{32, 48, 80, 128}
	v.Strides = []int{1, 2, 2, 1}
	v.NumBlockRepeats = []int{1, 2, 2, 1}
	v.ExpandRatios = []int{1, 4, 4, 4}
	v.HiddenDim = 64
	v.DropConnectRate = 0 // trained without drop-connect

	t := align.NewAlignTextConfig()
	t.VocabSize = vocabSize
	t.HiddenSize = 48
	t.NumHiddenLayers = 2
	t.NumAttentionHeads = 4
	t.IntermediateSize = 96
	t.MaxPositionEmbeddings = TextLength
	t.HiddenDropoutProb, t.AttentionProbsDropoutProb = 0, 0 // trained without dropout

	c := align.NewAlignConfig()
	c.TextConfig, c.VisionConfig = t, v
	c.ProjectionDim = v.HiddenSize()
	c.TemperatureInitValue = 0.1
	return c
}

// configJSON is config.json as transformers writes it: AlignConfig's fields by their upstream
// names, plus the generic ones that tell transformers which classes to build.
func configJSON(c *align.AlignConfig) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	sub := func(v any, modelType string) (map[string]any, error) {
		data, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		m["model_type"] = modelType
		return m, nil
	}
	text, err := sub(c.TextConfig, "align_text_model")
	if err != nil {
		return nil, err
	}
	text["initializer_range"] = 0.02
	text["use_cache"] = true
	vision, err := sub(c.VisionConfig, "align_vision_model")
	if err != nil {
		return nil, err
	}
	vision["initializer_range"] = 0.02
	top := map[string]any{
		"architectures":          []string{"AlignModel"},
		"model_type":             "align",
		"projection_dim":         c.ProjectionDim,
		"temperature_init_value": c.TemperatureInitValue,
		"initializer_range":      0.02,
		"torch_dtype":            "float32",
		"text_config":            text,
		"vision_config":          vision,
	}
	data, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	if _, err := align.ParseAlignConfig(data); err != nil {
		return nil, fmt.Errorf("rewardmodel: config.json does not read back: %w", err)
	}
	return data, nil
}

// preprocessorJSON is preprocessor_config.json: EfficientNetImageProcessor at the world's size,
// pixel values rescaled to [-1, 1] as ALIGN's are (x/127.5 − 1), no normalisation. Resizing a
// 32×32 render to 32×32 leaves it as it is; other pictures are resized bicubically.
func preprocessorJSON() []byte {
	s := toyworld.Size
	return []byte(fmt.Sprintf(`{
  "image_processor_type": "EfficientNetImageProcessor",
  "do_resize": true,
  "size": {"height": %d, "width": %d},
  "resample": 3,
  "do_center_crop": false,
  "crop_size": {"height": %d, "width": %d},
  "do_rescale": true,
  "rescale_factor": 0.00784313725490196,
  "rescale_offset": true,
  "do_normalize": false,
  "image_mean": [0.5, 0.5, 0.5],
  "image_std": [0.5, 0.5, 0.5],
  "include_top": false
}
`, s, s, s, s))
}

// tokenizerJSON is tokenizer_config.json: BertTokenizer, lower-casing, TextLength positions.
func tokenizerJSON() []byte {
	return []byte(fmt.Sprintf(`{
  "tokenizer_class": "BertTokenizer",
  "do_lower_case": true,
  "model_max_length": %d,
  "unk_token": "[UNK]",
  "sep_token": "[SEP]",
  "pad_token": "[PAD]",
  "cls_token": "[CLS]",
  "mask_token": "[MASK]"
}
`, TextLength))
}

// vocabTxt is vocab.txt: one token a line, the id being the line number.
func vocabTxt(vocab []string) []byte {
	return []byte(strings.Join(vocab, "\n") + "\n")
}
