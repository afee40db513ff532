package align

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"strings"

	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/internal/modelfs"
)

// ImageProcessor turns images into the pixel tensor an image tower reads, as transformers' image
// processor named in a preprocessor_config.json does.
type ImageProcessor interface {
	// Preprocess returns the pixel values of images as float32 in NCHW, shape
	// [len(images), 3, height, width] (also returned). A nil or empty image is an error, and so is
	// a batch whose images come out in different sizes.
	Preprocess(images []image.Image) (pixels []float32, shape []int, err error)
}

// CLIPImageProcessor is transformers' CLIPImageProcessor: resize so that the shortest edge is
// size.shortest_edge (or to size.height × size.width), centre crop to crop_size, rescale, normalise.
type CLIPImageProcessor struct {
	ImageProcessorConfig
}

// ViTImageProcessor is transformers' ViTImageProcessor (DINO's): resize to size.height ×
// size.width with the configured filter, rescale, normalise (a centre crop only if configured).
type ViTImageProcessor struct {
	ImageProcessorConfig
}

// EfficientNetImageProcessor is transformers' EfficientNetImageProcessor (ALIGN's): resize to
// size.height × size.width, optional centre crop, rescale as x·rescale_factor − 1 when
// rescale_offset is set (ALIGN maps to [-1, 1] this way), optional normalisation, and with
// include_top a further division by image_std.
type EfficientNetImageProcessor struct {
	ImageProcessorConfig
	RescaleOffset bool `json:"rescale_offset"`
	IncludeTop    bool `json:"include_top"`
}

// NewCLIPImageProcessor returns transformers' defaults: shortest edge 224, bicubic, crop 224×224,
// rescale 1/255, OpenAI CLIP mean and std.
func NewCLIPImageProcessor() *CLIPImageProcessor {
	return &CLIPImageProcessor{ImageProcessorConfig{
		ImageProcessorType: "CLIPImageProcessor",
		DoResize:           true, Size: SizeDict{ShortestEdge: 224}, Resample: int(imaging.Bicubic),
		DoCenterCrop: true, CropSize: SizeDict{Height: 224, Width: 224},
		DoRescale: true, RescaleFactor: 1.0 / 255,
		DoNormalize: true, ImageMean: openAICLIPMean, ImageStd: openAICLIPStd,
		DoConvertRGB: true,
	}}
}

// NewViTImageProcessor returns transformers' defaults: 224×224, bilinear, rescale 1/255, mean and
// std 0.5.
func NewViTImageProcessor() *ViTImageProcessor {
	return &ViTImageProcessor{ImageProcessorConfig{
		ImageProcessorType: "ViTImageProcessor",
		DoResize:           true, Size: SizeDict{Height: 224, Width: 224}, Resample: int(imaging.Bilinear),
		DoRescale: true, RescaleFactor: 1.0 / 255,
		DoNormalize: true, ImageMean: imagenetStandardMean, ImageStd: imagenetStandardStd,
	}}
}

// NewEfficientNetImageProcessor returns transformers' (v5) defaults: 346×346, bicubic, crop size
// 289×289 but no crop, rescale 1/255 without offset, mean and std 0.5, include_top.
func NewEfficientNetImageProcessor() *EfficientNetImageProcessor {
	return &EfficientNetImageProcessor{
		ImageProcessorConfig: ImageProcessorConfig{
			ImageProcessorType: "EfficientNetImageProcessor",
			DoResize:           true, Size: SizeDict{Height: 346, Width: 346}, Resample: int(imaging.Bicubic),
			CropSize:  SizeDict{Height: 289, Width: 289},
			DoRescale: true, RescaleFactor: 1.0 / 255,
			DoNormalize: true, ImageMean: imagenetStandardMean, ImageStd: imagenetStandardStd,
		},
		IncludeTop: true,
	}
}

// LoadImageProcessor reads a preprocessor_config.json (path is the file, or a folder holding it)
// and returns the processor its image_processor_type names (feature_extractor_type for older
// files): CLIPImageProcessor, ViTImageProcessor or EfficientNetImageProcessor (their "Fast" and
// "Pil" variants too, which compute the same thing). Fields missing from the file take
// transformers' defaults; an unknown field or an unsupported value is an error naming the field.
func LoadImageProcessor(path string) (ImageProcessor, error) {
	return loadImageProcessor(modelfs.OS, path)
}

func loadImageProcessor(fsys modelfs.FS, path string) (ImageProcessor, error) {
	if info, err := fsys.Stat(path); err == nil && info.IsDir() {
		path = fsys.Join(path, "preprocessor_config.json")
	}
	data, err := fsys.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	p, err := ParseImageProcessor(data)
	if err != nil {
		return nil, fmt.Errorf("align: %s: %w", path, err)
	}
	return p, nil
}

// ParseImageProcessor is LoadImageProcessor on the contents of a preprocessor_config.json.
func ParseImageProcessor(data []byte) (ImageProcessor, error) {
	var head struct {
		ImageProcessorType   string `json:"image_processor_type"`
		FeatureExtractorType string `json:"feature_extractor_type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("preprocessor config: %w", err)
	}
	typ, field := head.ImageProcessorType, "image_processor_type"
	if typ == "" {
		typ, field = head.FeatureExtractorType, "feature_extractor_type"
	}
	if typ == "" {
		return nil, errors.New("preprocessor config: no image_processor_type")
	}
	backend := BackendTorchvision
	if strings.HasSuffix(typ, "Pil") {
		backend = BackendPIL
	}
	var (
		p      interface{ validate() error }
		cfg    *ImageProcessorConfig
		kind   string
		keys   = processorKeys
		square = true // what a bare integer size means
	)
	switch processorBaseType(typ) {
	case "CLIPImageProcessor", "CLIPFeatureExtractor":
		c := NewCLIPImageProcessor()
		p, cfg, kind, square = c, &c.ImageProcessorConfig, "CLIPImageProcessor", false
	case "ViTImageProcessor", "ViTFeatureExtractor":
		c := NewViTImageProcessor()
		p, cfg, kind = c, &c.ImageProcessorConfig, "ViTImageProcessor"
	case "EfficientNetImageProcessor":
		c := NewEfficientNetImageProcessor()
		p, cfg, kind = c, &c.ImageProcessorConfig, "EfficientNetImageProcessor"
		keys = append([]string{"rescale_offset", "include_top"}, processorKeys...)
	default:
		return nil, fmt.Errorf("preprocessor config: field %q = %q not supported (want CLIPImageProcessor, ViTImageProcessor or EfficientNetImageProcessor)", field, typ)
	}
	cfg.ImageProcessorType, cfg.Backend = typ, backend
	if err := decodeProcessorConfig(kind, data, p, keys, square); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p.(ImageProcessor), nil
}

func (p *CLIPImageProcessor) validate() error {
	p.Size.resolve(false)
	p.CropSize.resolve(true)
	return p.ImageProcessorConfig.validate("CLIPImageProcessor", true)
}

func (p *ViTImageProcessor) validate() error {
	p.Size.resolve(true)
	p.CropSize.resolve(true)
	return p.ImageProcessorConfig.validate("ViTImageProcessor", false)
}

func (p *EfficientNetImageProcessor) validate() error {
	p.Size.resolve(true)
	p.CropSize.resolve(true)
	return p.ImageProcessorConfig.validate("EfficientNetImageProcessor", false)
}

// Preprocess implements ImageProcessor.
func (p *CLIPImageProcessor) Preprocess(images []image.Image) ([]float32, []int, error) {
	if err := p.validate(); err != nil {
		return nil, nil, err
	}
	return p.run("CLIPImageProcessor", images, p.lut(false, false))
}

// Preprocess implements ImageProcessor.
func (p *ViTImageProcessor) Preprocess(images []image.Image) ([]float32, []int, error) {
	if err := p.validate(); err != nil {
		return nil, nil, err
	}
	return p.run("ViTImageProcessor", images, p.lut(false, false))
}

// Preprocess implements ImageProcessor.
func (p *EfficientNetImageProcessor) Preprocess(images []image.Image) ([]float32, []int, error) {
	if err := p.validate(); err != nil {
		return nil, nil, err
	}
	return p.run("EfficientNetImageProcessor", images, p.lut(p.RescaleOffset, p.IncludeTop))
}

// lut is the per-value arithmetic of the chosen backend, in its order and precision (see
// Backend); offset and includeTop are EfficientNet's rescale_offset (x·scale − 1) and include_top
// (a further x / std).
func (c *ImageProcessorConfig) lut(offset, includeTop bool) *imaging.LUT {
	if c.Backend == BackendPIL {
		return imaging.NewLUT(func(ch int, v uint8) float32 {
			x := float32(v)
			if c.DoRescale {
				// numpy: image.astype(float64) * scale, then .astype(float32).
				x = float32(float64(v) * c.RescaleFactor)
				if offset {
					x -= 1
				}
			}
			if c.DoNormalize {
				x = (x - float32(c.ImageMean[ch])) / float32(c.ImageStd[ch])
			}
			if includeTop {
				x /= float32(c.ImageStd[ch])
			}
			return x
		})
	}
	return imaging.NewLUT(func(ch int, v uint8) float32 {
		x := float32(v)
		switch {
		case c.DoRescale && c.DoNormalize && !offset:
			// Fused: mean and std (float32 tensors) times 1/rescale_factor, a Python float that
			// torch rounds to float32.
			inv := float32(1 / c.RescaleFactor)
			m := float32(c.ImageMean[ch]) * inv
			s := float32(c.ImageStd[ch]) * inv
			x = (x - m) / s
		default:
			if c.DoRescale {
				x = x * float32(c.RescaleFactor)
				if offset {
					x -= 1
				}
			}
			if c.DoNormalize {
				x = (x - float32(c.ImageMean[ch])) / float32(c.ImageStd[ch])
			}
		}
		if includeTop {
			x /= float32(c.ImageStd[ch])
		}
		return x
	})
}

// outputSize is the (width, height) the resize step produces from a w×h image. A shortest edge is
// turned into a size as transformers' get_resize_output_image_size(default_to_square=False):
// the long edge is int(shortest_edge · long / short).
func (c *ImageProcessorConfig) outputSize(w, h int) (int, int) {
	if c.Size.ShortestEdge == 0 {
		return c.Size.Width, c.Size.Height
	}
	s := c.Size.ShortestEdge
	if w <= h {
		return s, int(float64(s*h) / float64(w))
	}
	return int(float64(s*w) / float64(h)), s
}

// run does resize → crop → per-value arithmetic for each image and stacks the results.
func (c *ImageProcessorConfig) run(kind string, images []image.Image, lut *imaging.LUT) ([]float32, []int, error) {
	if len(images) == 0 {
		return nil, nil, fmt.Errorf("%s: no images", kind)
	}
	var out []float32
	var shape []int
	for i, img := range images {
		m, err := c.prepare(img)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: image %d: %w", kind, i, err)
		}
		if shape == nil {
			shape = []int{len(images), 3, m.H, m.W}
			out = make([]float32, len(images)*3*m.H*m.W)
		} else if m.H != shape[2] || m.W != shape[3] {
			return nil, nil, fmt.Errorf("%s: image %d comes out %dx%d, image 0 %dx%d (height x width); a batch needs one size",
				kind, i, m.H, m.W, shape[2], shape[3])
		}
		n := 3 * m.H * m.W
		if _, err := m.ToCHW(out[i*n:(i+1)*n], lut); err != nil {
			return nil, nil, err
		}
	}
	return out, shape, nil
}

// prepare converts one image to RGB, resizes and crops it, all in 8 bits as transformers does.
func (c *ImageProcessorConfig) prepare(img image.Image) (*imaging.RGB, error) {
	m, err := imaging.FromImage(img)
	if err != nil {
		return nil, err
	}
	if c.DoResize {
		w, h := c.outputSize(m.W, m.H)
		f := imaging.Filter(c.Resample)
		if c.Backend == BackendPIL {
			m, err = imaging.Resize(m, w, h, f)
		} else {
			if f == imaging.Lanczos {
				f = imaging.Bicubic // transformers' substitute: torchvision has no LANCZOS for tensors
			}
			m, err = imaging.ResizeTorch(m, w, h, f)
		}
		if err != nil {
			return nil, err
		}
	}
	if c.DoCenterCrop {
		if c.Backend == BackendPIL {
			m, err = imaging.CenterCrop(m, c.CropSize.Width, c.CropSize.Height)
		} else {
			m, err = imaging.CenterCropTorch(m, c.CropSize.Width, c.CropSize.Height)
		}
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}
