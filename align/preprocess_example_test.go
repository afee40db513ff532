package align_test

import (
	"fmt"
	"image"
	"image/color"
	"log"

	"github.com/gorpo/gorpo/align"
)

// A processor comes from the preprocessor_config.json saved beside a checkpoint (LoadImageProcessor
// reads it from a file or folder); its output is the pixel_values tensor transformers would give.
func ExampleLoadImageProcessor() {
	p, err := align.ParseImageProcessor([]byte(`{
		"image_processor_type": "CLIPImageProcessor",
		"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32},
		"resample": 3, "do_center_crop": true
	}`))
	if err != nil {
		log.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = 255 // white
	}
	img.Set(0, 0, color.Black)
	pixels, shape, err := p.Preprocess([]image.Image{img})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(shape, len(pixels))
	// The red plane's last pixel, white normalised with CLIP's mean and std:
	// (1 - 0.48145466) / 0.26862954.
	fmt.Printf("%.4f\n", pixels[32*32-1])
	// Output:
	// [1 3 32 32] 3072
	// 1.9303
}
