package align_test

import (
	"context"
	"fmt"
	"image"
	"log"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/reward"
)

// *DINO is the embedder of the DINO metric.
var _ reward.ImageEmbedder = (*align.DINO)(nil)

// LoadDINO reads a transformers ViTModel folder (config.json, model.safetensors and, when present,
// preprocessor_config.json). The embedding of an image is the class token of the last hidden
// state; the reward package compares them by cosine.
func ExampleLoadDINO() {
	d, err := align.LoadDINO("../testdata/fixtures/parity/dino_vit")
	if err != nil {
		log.Fatal(err)
	}
	defer d.Finalize()
	img := image.NewGray(image.Rect(0, 0, 50, 50))
	for i := range img.Pix {
		img.Pix[i] = uint8(i % 251)
	}
	embs, err := d.EmbedImages(context.Background(), []image.Image{img})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(embs), len(embs[0]) == d.Config.HiddenSize, d.Config.NumPatches(), "patches")
	// Output:
	// 1 true 16 patches
}
