package align_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"log"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/reward"
)

// *CLIP is the embedder of the CLIP-I and CLIP-T metrics.
var _ reward.Embedder = (*align.CLIP)(nil)

// LoadCLIP reads a transformers CLIPModel folder (config.json, model.safetensors and, when present,
// preprocessor_config.json and the tokenizer's vocab.json + merges.txt). This one, the parity
// fixture, has no tokenizer and a 1000-token vocabulary (begin 998, end 999): token ids go in
// directly; images go through the default CLIPImageProcessor sized to its 32×32 input.
func ExampleLoadCLIP() {
	m, err := align.LoadCLIP("../testdata/fixtures/parity/clip")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Finalize()
	ctx := context.Background()

	images := make([]image.Image, 2)
	for i, c := range []color.RGBA{{200, 30, 30, 255}, {30, 30, 200, 255}} {
		img := image.NewRGBA(image.Rect(0, 0, 48, 40))
		for p := 0; p < len(img.Pix); p += 4 {
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = c.R, c.G, c.B, c.A
		}
		images[i] = img
	}
	imgs, err := m.EmbedImages(ctx, images)
	if err != nil {
		log.Fatal(err)
	}
	texts, err := m.TextFeaturesIDs(ctx, [][]int{{998, 17, 42, 999, 999, 999}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(imgs), len(imgs[0]), len(texts), len(texts[0]), m.Config.ProjectionDim)
	// Output:
	// 2 16 1 16 16
}
