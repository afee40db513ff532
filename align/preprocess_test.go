package align

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/imaging"
)

// preprocessImages decodes the fixture's input PNGs, img0.png … (png_count of them, or as many
// as exist).
func preprocessImages(t *testing.T) []image.Image {
	t.Helper()
	io := fixtures.IO(t, "preprocess")
	n := 0
	if io.Has("png_count") {
		c, _ := fixtures.Int64(t, io, "png_count")
		n = int(c[0])
	} else {
		dir := filepath.Dir(fixtures.Path(t, "parity", "preprocess", "img0.png"))
		for ; ; n++ {
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("img%d.png", n))); err != nil {
				break
			}
		}
	}
	var imgs []image.Image
	for i := range n {
		m, err := imaging.Load(fixtures.Path(t, "parity", "preprocess", fmt.Sprintf("img%d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, m)
	}
	return imgs
}

// processorConfig returns the shared settings of any of the three processors.
func processorConfig(p ImageProcessor) *ImageProcessorConfig {
	switch p := p.(type) {
	case *CLIPImageProcessor:
		return &p.ImageProcessorConfig
	case *ViTImageProcessor:
		return &p.ImageProcessorConfig
	case *EfficientNetImageProcessor:
		return &p.ImageProcessorConfig
	}
	panic(fmt.Sprintf("unknown processor %T", p))
}

// TestImageProcessorParity runs each fixture config on the fixture PNGs and compares with
// transformers' pixel_values. The references come from transformers' default (torchvision)
// backend, which BackendTorchvision reproduces bit for bit; BackendPIL, transformers' Pillow
// backend, must agree to one 8-bit step.
func TestImageProcessorParity(t *testing.T) {
	imgs := preprocessImages(t)
	io := fixtures.IO(t, "preprocess")
	for _, name := range []string{"clip", "dino", "align"} {
		for _, backend := range []Backend{BackendTorchvision, BackendPIL} {
			t.Run(name+"/"+backend.String(), func(t *testing.T) {
				p, err := LoadImageProcessor(fixtures.Path(t, "parity", "preprocess", name+"_preprocessor_config.json"))
				if err != nil {
					t.Fatal(err)
				}
				cfg := processorConfig(p)
				cfg.Backend = backend
				want, wantShape := fixtures.Float32(t, io, name)
				got, shape, err := p.Preprocess(imgs)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(shape) != fmt.Sprint(wantShape) {
					t.Fatalf("shape %v, want %v", shape, wantShape)
				}
				var maxAbs float64
				for i := range want {
					maxAbs = max(maxAbs, math.Abs(float64(got[i])-float64(want[i])))
				}
				// One 8-bit step in output units.
				step := 1.0
				if cfg.DoRescale {
					step = cfg.RescaleFactor
				}
				if cfg.DoNormalize {
					step /= min(cfg.ImageStd[0], cfg.ImageStd[1], cfg.ImageStd[2])
				}
				t.Logf("%T %v: shape %v, max |got-want| = %.3g (one 8-bit step = %.3g), rel %.3g",
					p, backend, shape, maxAbs, step, fixtures.RelErr(got, want))
				limit := 1e-6
				if backend == BackendPIL {
					limit = step * 1.001
				}
				if maxAbs > limit {
					t.Errorf("max |got-want| = %g, want <= %g", maxAbs, limit)
				}
			})
		}
	}
}

func TestImageProcessorLoad(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		check      func(t *testing.T, p ImageProcessor)
		err        string // substring of the error, "" for none
	}{
		{name: "CLIP bare size is the shortest edge, bare crop a square",
			json: `{"feature_extractor_type": "CLIPFeatureExtractor", "size": 224, "crop_size": 200, "resample": 3}`,
			check: func(t *testing.T, p ImageProcessor) {
				c := p.(*CLIPImageProcessor)
				if c.Size.ShortestEdge != 224 || c.CropSize.Height != 200 || c.CropSize.Width != 200 || !c.DoCenterCrop {
					t.Errorf("%+v", c.ImageProcessorConfig)
				}
			}},
		{name: "ViT bare size is a square; defaults fill the rest",
			json: `{"feature_extractor_type": "ViTFeatureExtractor", "size": 224, "image_mean": 0.5}`,
			check: func(t *testing.T, p ImageProcessor) {
				c := p.(*ViTImageProcessor)
				if c.Size.Height != 224 || c.Size.Width != 224 || c.Resample != 2 || c.RescaleFactor != 1.0/255 || len(c.ImageMean) != 3 {
					t.Errorf("%+v", c.ImageProcessorConfig)
				}
			}},
		{name: "Fast suffix and neutral keys",
			json: `{"image_processor_type": "ViTImageProcessorFast", "size": {"height": 8, "width": 9}, "data_format": "channels_first", "do_pad": null, "processor_class": "X"}`,
			check: func(t *testing.T, p ImageProcessor) {
				if c := p.(*ViTImageProcessor); c.Backend != BackendTorchvision || c.Size.Width != 9 {
					t.Errorf("%+v", c.ImageProcessorConfig)
				}
			}},
		{name: "Pil suffix selects the PIL backend",
			json: `{"image_processor_type": "EfficientNetImageProcessorPil", "rescale_offset": true}`,
			check: func(t *testing.T, p ImageProcessor) {
				if c := p.(*EfficientNetImageProcessor); c.Backend != BackendPIL || !c.RescaleOffset || !c.IncludeTop {
					t.Errorf("%+v", c)
				}
			}},
		{name: "unknown field", json: `{"image_processor_type": "CLIPImageProcessor", "crop_pct": 0.9}`, err: `"crop_pct"`},
		{name: "unsupported neutral value", json: `{"image_processor_type": "CLIPImageProcessor", "do_pad": true}`, err: `"do_pad"`},
		{name: "EfficientNet field on CLIP", json: `{"image_processor_type": "CLIPImageProcessor", "include_top": true}`, err: `"include_top"`},
		{name: "bad resample", json: `{"image_processor_type": "ViTImageProcessor", "resample": 7}`, err: `"resample"`},
		{name: "box on torchvision", json: `{"image_processor_type": "ViTImageProcessor", "resample": 4}`, err: `"resample"`},
		{name: "box on PIL is fine", json: `{"image_processor_type": "ViTImageProcessorPil", "resample": 4}`},
		{name: "ViT needs height and width", json: `{"image_processor_type": "ViTImageProcessor", "size": {"shortest_edge": 3}}`, err: `"size"`},
		{name: "longest edge", json: `{"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 3, "longest_edge": 9}}`, err: `longest_edge`},
		{name: "size key", json: `{"image_processor_type": "CLIPImageProcessor", "size": {"max_height": 3}}`, err: `max_height`},
		{name: "mean length", json: `{"image_processor_type": "CLIPImageProcessor", "image_mean": [0.5, 0.5]}`, err: `"image_mean"`},
		{name: "zero std", json: `{"image_processor_type": "CLIPImageProcessor", "image_std": [0.5, 0, 0.5]}`, err: `"image_std"`},
		{name: "wrong type", json: `{"image_processor_type": "CLIPImageProcessor", "do_resize": "yes"}`, err: `"do_resize"`},
		{name: "crop size", json: `{"image_processor_type": "CLIPImageProcessor", "crop_size": {"height": 0, "width": 3}}`, err: `"crop_size"`},
		{name: "unknown processor", json: `{"image_processor_type": "SiglipImageProcessor"}`, err: `SiglipImageProcessor`},
		{name: "no type", json: `{"size": 3}`, err: `image_processor_type`},
		{name: "not JSON", json: `{`, err: `preprocessor config`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseImageProcessor([]byte(tc.json))
			switch {
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err != "" && err == nil:
				t.Fatalf("no error, want one naming %s", tc.err)
			case tc.err != "" && !strings.Contains(err.Error(), tc.err):
				t.Fatalf("error %q does not name %s", err, tc.err)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
	// A folder holding preprocessor_config.json loads too; a missing file names its path.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "preprocessor_config.json"), []byte(`{"image_processor_type": "ViTImageProcessor"}`), 0o644)
	if _, err := LoadImageProcessor(dir); err != nil {
		t.Error(err)
	}
	if _, err := LoadImageProcessor(filepath.Join(dir, "nope.json")); err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("missing file: %v", err)
	}
}

func solidImage(w, h int, c color.Color) image.Image {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, c)
		}
	}
	return m
}

func TestImageProcessorShapesAndErrors(t *testing.T) {
	clip := NewCLIPImageProcessor()
	clip.Size, clip.DoCenterCrop = SizeDict{ShortestEdge: 20}, false
	// get_resize_output_image_size: the short side becomes 20, the long int(20·50/30) = 33.
	_, shape, err := clip.Preprocess([]image.Image{solidImage(50, 30, color.White)})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(shape) != "[1 3 20 33]" {
		t.Errorf("landscape shape %v, want [1 3 20 33]", shape)
	}
	_, shape, _ = clip.Preprocess([]image.Image{solidImage(30, 50, color.White)})
	if fmt.Sprint(shape) != "[1 3 33 20]" {
		t.Errorf("portrait shape %v, want [1 3 33 20]", shape)
	}
	if _, _, err := clip.Preprocess([]image.Image{solidImage(50, 30, color.White), solidImage(30, 50, color.White)}); err == nil ||
		!strings.Contains(err.Error(), "image 1") {
		t.Errorf("mixed sizes: %v", err)
	}
	for name, batch := range map[string][]image.Image{
		"nil image":  {solidImage(4, 4, color.Black), nil},
		"zero-sized": {image.NewRGBA(image.Rect(0, 0, 0, 3))},
		"no images":  nil,
	} {
		if _, _, err := NewViTImageProcessor().Preprocess(batch); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A bad setting made in Go is refused at Preprocess, naming the field.
	bad := NewViTImageProcessor()
	bad.Resample = 11
	if _, _, err := bad.Preprocess([]image.Image{solidImage(4, 4, color.Black)}); err == nil || !strings.Contains(err.Error(), "resample") {
		t.Errorf("bad resample: %v", err)
	}
}

// TestImageProcessorValues checks the per-value arithmetic on a constant image, where every
// resize filter returns the input value.
func TestImageProcessorValues(t *testing.T) {
	img := []image.Image{solidImage(9, 7, color.NRGBA{0, 51, 255, 255})}
	eff := NewEfficientNetImageProcessor()
	eff.Size = SizeDict{Height: 5, Width: 6}
	eff.RescaleFactor, eff.RescaleOffset = 1/127.5, true
	eff.DoNormalize, eff.IncludeTop = false, false
	for _, backend := range []Backend{BackendTorchvision, BackendPIL} {
		eff.Backend = backend
		px, shape, err := eff.Preprocess(img)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(shape) != "[1 3 5 6]" {
			t.Fatalf("shape %v", shape)
		}
		for c, want := range []float64{-1, 51/127.5 - 1, 1} {
			if got := px[c*30]; math.Abs(float64(got)-want) > 1e-6 {
				t.Errorf("%v: channel %d = %v, want %v", backend, c, got, want)
			}
		}
	}
	// include_top divides by std once more, after the normalisation.
	eff.DoNormalize, eff.IncludeTop = true, true
	eff.RescaleOffset, eff.RescaleFactor = false, 1.0/255
	eff.ImageMean, eff.ImageStd = ChannelValues{0.5, 0.5, 0.5}, ChannelValues{0.25, 0.5, 1}
	px, _, err := eff.Preprocess(img)
	if err != nil {
		t.Fatal(err)
	}
	for c, want := range []float64{(0 - 0.5) / 0.25 / 0.25, (0.2 - 0.5) / 0.5 / 0.5, (1 - 0.5) / 1 / 1} {
		if got := px[c*30]; math.Abs(float64(got)-want) > 1e-5 {
			t.Errorf("include_top: channel %d = %v, want %v", c, got, want)
		}
	}
}
