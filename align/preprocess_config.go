package align

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/gorpo/gorpo/internal/imaging"
)

// SizeDict is transformers' size dictionary: {"height", "width"} or {"shortest_edge"}. A bare
// integer (older configs write "size": 224) and a [height, width] list are read too; what a bare
// integer means depends on the processor (CLIP: the shortest edge; otherwise a square), as in
// transformers' get_size_dict.
type SizeDict struct {
	Height       int `json:"height,omitempty"`
	Width        int `json:"width,omitempty"`
	ShortestEdge int `json:"shortest_edge,omitempty"`
	LongestEdge  int `json:"longest_edge,omitempty"`

	scalar int // a bare integer, resolved by the processor
}

// UnmarshalJSON reads a dictionary, an integer or a [height, width] list.
func (s *SizeDict) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	*s = SizeDict{}
	switch data[0] {
	case '{':
		var m map[string]*int
		if err := json.Unmarshal(data, &m); err != nil {
			return err
		}
		for k, v := range m {
			if v == nil {
				continue
			}
			switch k {
			case "height":
				s.Height = *v
			case "width":
				s.Width = *v
			case "shortest_edge":
				s.ShortestEdge = *v
			case "longest_edge":
				s.LongestEdge = *v
			default:
				return fmt.Errorf("key %q not supported (want height/width or shortest_edge)", k)
			}
		}
	case '[':
		var l []int
		if err := json.Unmarshal(data, &l); err != nil {
			return err
		}
		if len(l) != 2 {
			return fmt.Errorf("list %s: want [height, width]", data)
		}
		s.Height, s.Width = l[0], l[1]
	default:
		var n int
		if err := json.Unmarshal(data, &n); err != nil {
			return err
		}
		s.scalar = n
	}
	return nil
}

// resolve turns a bare integer into a shortest edge or a square, as get_size_dict does.
func (s *SizeDict) resolve(defaultToSquare bool) {
	if s.scalar == 0 {
		return
	}
	if defaultToSquare {
		s.Height, s.Width = s.scalar, s.scalar
	} else {
		s.ShortestEdge = s.scalar
	}
	s.scalar = 0
}

func (s SizeDict) hasHW() bool { return s.Height > 0 && s.Width > 0 }

// ChannelValues is a per-channel setting (image_mean, image_std): a list of three numbers, or one
// number for all channels.
type ChannelValues []float64

// UnmarshalJSON reads a number or a list.
func (c *ChannelValues) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	if len(data) > 0 && data[0] != '[' {
		var v float64
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		*c = ChannelValues{v, v, v}
		return nil
	}
	var l []float64
	if err := json.Unmarshal(data, &l); err != nil {
		return err
	}
	*c = l
	return nil
}

// Backend says whose arithmetic an image processor reproduces. Transformers 5 implements each
// image processor twice: on torchvision tensors (its default whenever torchvision is installed,
// and what the reference fixtures were made with) and on Pillow/numpy (its fallback, and what
// transformers 4's processors did). The two agree to one 8-bit step at a few pixels: their
// resizers quantise the filter weights differently, and the rescale and normalise round
// differently in float32.
type Backend int

const (
	// BackendTorchvision reproduces transformers' torchvision backend: the resize of
	// imaging.ResizeTorch, the crop of imaging.CenterCropTorch, and in float32
	// (x − mean/rescale_factor) / (std/rescale_factor) when rescaling and normalising both.
	BackendTorchvision Backend = iota
	// BackendPIL reproduces transformers' Pillow/numpy backend: Pillow's resize
	// (imaging.Resize), numpy's crop (imaging.CenterCrop), rescale in float64 then cast to
	// float32, then (x − mean) / std in float32.
	BackendPIL
)

// String returns "torchvision" or "pil".
func (b Backend) String() string {
	switch b {
	case BackendTorchvision:
		return "torchvision"
	case BackendPIL:
		return "pil"
	}
	return fmt.Sprintf("Backend(%d)", int(b))
}

// ImageProcessorConfig holds the settings transformers' image processors share, by their upstream
// names in preprocessor_config.json. The processors run resize → centre crop → rescale →
// normalise, each step when its do_* flag is set.
type ImageProcessorConfig struct {
	ImageProcessorType string `json:"image_processor_type,omitempty"`

	// Backend is not in the file: it chooses which of transformers' two implementations to
	// match. The default is BackendTorchvision; a type name ending in "Pil" selects BackendPIL.
	Backend Backend `json:"-"`

	DoResize bool     `json:"do_resize"`
	Size     SizeDict `json:"size"`
	// Resample is Pillow's filter number: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box,
	// 5 hamming.
	Resample int `json:"resample"`

	DoCenterCrop bool     `json:"do_center_crop"`
	CropSize     SizeDict `json:"crop_size"`

	DoRescale     bool    `json:"do_rescale"`
	RescaleFactor float64 `json:"rescale_factor"`

	DoNormalize bool          `json:"do_normalize"`
	ImageMean   ChannelValues `json:"image_mean"`
	ImageStd    ChannelValues `json:"image_std"`

	// DoConvertRGB is accepted for compatibility; images are always converted to RGB, which is
	// what it asks for and what a three-channel model needs.
	DoConvertRGB bool `json:"do_convert_rgb"`
}

var (
	openAICLIPMean       = ChannelValues{0.48145466, 0.4578275, 0.40821073}
	openAICLIPStd        = ChannelValues{0.26862954, 0.26130258, 0.27577711}
	imagenetStandardMean = ChannelValues{0.5, 0.5, 0.5}
	imagenetStandardStd  = ChannelValues{0.5, 0.5, 0.5}
)

// processorNeutralKeys are preprocessor_config.json keys that do not change the pixels, each with
// a check of the values that are fine to ignore (nil: any value).
var processorNeutralKeys = map[string]func(raw json.RawMessage, defaultToSquare bool) bool{
	"image_processor_type":   nil,
	"feature_extractor_type": nil,
	"processor_class":        nil,
	"return_tensors":         nil,
	"device":                 nil,
	"disable_grouping":       nil,
	"input_data_format":      nil,
	"data_format": func(raw json.RawMessage, _ bool) bool {
		return rawIsNull(raw) || string(bytes.TrimSpace(raw)) == `"channels_first"`
	},
	"do_pad":       func(raw json.RawMessage, _ bool) bool { return rawIsNull(raw) || rawIsFalse(raw) },
	"pad_size":     func(raw json.RawMessage, _ bool) bool { return rawIsNull(raw) },
	"reducing_gap": func(raw json.RawMessage, _ bool) bool { return rawIsNull(raw) },
	"default_to_square": func(raw json.RawMessage, square bool) bool {
		s := string(bytes.TrimSpace(raw))
		return s == "null" || s == fmt.Sprint(square)
	},
}

func rawIsNull(raw json.RawMessage) bool  { return string(bytes.TrimSpace(raw)) == "null" }
func rawIsFalse(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "false" }

// decodeProcessorConfig unmarshals data into dst after checking that every key is either one of
// known (dst's own fields) or neutral; the error names the first offending key.
func decodeProcessorConfig(kind string, data []byte, dst any, known []string, defaultToSquare bool) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if slices.Contains(known, k) {
			continue
		}
		check, ok := processorNeutralKeys[k]
		if !ok {
			return fmt.Errorf("%s: field %q not supported", kind, k)
		}
		if check != nil && !check(raw[k], defaultToSquare) {
			return fmt.Errorf("%s: field %q = %s not supported", kind, k, bytes.TrimSpace(raw[k]))
		}
	}
	for _, k := range keys {
		if !slices.Contains(known, k) {
			continue
		}
		// Field by field, so that an error names the field.
		one, _ := json.Marshal(map[string]json.RawMessage{k: raw[k]})
		if err := json.Unmarshal(one, dst); err != nil {
			return fmt.Errorf("%s: field %q: %w", kind, k, jsonFieldError(err))
		}
	}
	return nil
}

func jsonFieldError(err error) error {
	if e, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Errorf("value of type %s not allowed", e.Value)
	}
	return err
}

var processorKeys = []string{
	"do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor",
	"do_normalize", "image_mean", "image_std", "do_convert_rgb",
}

// validate checks the shared settings; shortestEdgeOK says whether size may be a shortest edge.
func (c *ImageProcessorConfig) validate(kind string, shortestEdgeOK bool) error {
	if c.Backend != BackendTorchvision && c.Backend != BackendPIL {
		return fmt.Errorf("%s: unknown %v", kind, c.Backend)
	}
	if c.DoResize {
		switch {
		case c.Size.LongestEdge != 0:
			return fmt.Errorf("%s: field \"size\": longest_edge not supported", kind)
		case c.Size.hasHW() && c.Size.ShortestEdge == 0:
		case shortestEdgeOK && c.Size.ShortestEdge > 0 && c.Size.Height == 0 && c.Size.Width == 0:
		case shortestEdgeOK:
			return fmt.Errorf("%s: field \"size\" = %+v: want shortest_edge or height and width > 0", kind, c.Size)
		default:
			return fmt.Errorf("%s: field \"size\" = %+v: want height and width > 0", kind, c.Size)
		}
		if f := imaging.Filter(c.Resample); !f.Valid() {
			return fmt.Errorf("%s: field \"resample\" = %d: want 0..5 (Pillow's filters)", kind, c.Resample)
		} else if c.Backend == BackendTorchvision && (f == imaging.Box || f == imaging.Hamming) {
			return fmt.Errorf("%s: field \"resample\" = %d (%v): not supported by the torchvision backend", kind, c.Resample, f)
		}
	}
	for _, f := range []struct {
		name string
		v    []int
	}{{"size", []int{c.Size.Height, c.Size.Width, c.Size.ShortestEdge}}, {"crop_size", []int{c.CropSize.Height, c.CropSize.Width}}} {
		for _, v := range f.v {
			if v > sizeLimits[f.name] {
				return fmt.Errorf("%s: field %q = %d pixels, want at most %d", kind, f.name, v, sizeLimits[f.name])
			}
		}
	}
	if c.DoCenterCrop && (!c.CropSize.hasHW() || c.CropSize.ShortestEdge != 0 || c.CropSize.LongestEdge != 0) {
		return fmt.Errorf("%s: field \"crop_size\" = %+v: want height and width > 0", kind, c.CropSize)
	}
	if c.DoRescale && (math.IsNaN(c.RescaleFactor) || math.IsInf(c.RescaleFactor, 0) || c.RescaleFactor == 0) {
		return fmt.Errorf("%s: field \"rescale_factor\" = %v: want a finite non-zero number", kind, c.RescaleFactor)
	}
	if c.DoNormalize {
		if err := checkChannelValues(kind, "image_mean", c.ImageMean, false); err != nil {
			return err
		}
		if err := checkChannelValues(kind, "image_std", c.ImageStd, true); err != nil {
			return err
		}
	}
	return nil
}

func checkChannelValues(kind, field string, v ChannelValues, nonZero bool) error {
	if len(v) != 3 {
		return fmt.Errorf("%s: field %q has %d values, want 3 (or one number)", kind, field, len(v))
	}
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) || (nonZero && x == 0) {
			return fmt.Errorf("%s: field %q = %v: want finite%s values", kind, field, []float64(v),
				map[bool]string{true: " non-zero", false: ""}[nonZero])
		}
	}
	return nil
}

// baseType strips the backend suffixes transformers uses ("Fast" for torchvision, "Pil").
func processorBaseType(t string) string {
	t = strings.TrimSuffix(t, "Fast")
	return strings.TrimSuffix(t, "Pil")
}
