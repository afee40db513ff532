package align_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/reward"
)

// *ALIGN is the embedder behind RPO's reward.
var _ reward.Embedder = (*align.ALIGN)(nil)

// LoadALIGN reads a transformers ALIGN checkpoint folder (config.json, model.safetensors and,
// for EmbedImages and EmbedTexts, preprocessor_config.json and vocab.txt). This one, the parity
// fixture, has only the model: token ids and pixel values go in directly.
func ExampleLoadALIGN() {
	m, err := align.LoadALIGN("../testdata/fixtures/parity/align")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Finalize()
	ctx := context.Background()

	// [CLS] two word pieces [SEP], padded: ids, attention mask (token types default to 0).
	text, err := m.TextFeaturesIDs(ctx, [][]int{{2, 40, 41, 3, 0, 0}}, [][]int{{1, 1, 1, 1, 0, 0}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	// A grey image, NCHW with values in [-1, 1] as the image processor makes them.
	size := m.Config.VisionConfig.ImageSize
	img, err := m.ImageFeaturesNCHW(ctx, make([]float32, 3*size*size), []int{1, 3, size, size})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(text[0]) == m.Config.ProjectionDim, len(img[0]) == m.Config.ProjectionDim)

	// Without a tokenizer in the folder, EmbedTexts says which file is missing.
	_, err = m.EmbedTexts(ctx, []string{"a photo of a dog"})
	fmt.Println(errors.Is(err, align.ErrMissingFile))
	// Output:
	// true true
	// true
}
