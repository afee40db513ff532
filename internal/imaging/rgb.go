// Package imaging holds the 8-bit image work that must agree bit for bit with the Python
// libraries the project is compared against: decoding into RGB as Pillow's convert("RGB") does,
// resizing exactly as Pillow's Image.resize (separable fixed-point convolution, antialiased when
// shrinking), centre cropping as transformers crops, and conversion to float32 planes.
//
// Everything works on RGB, an 8-bit interleaved image like Pillow's "RGB" mode. Arithmetic that
// Pillow does in fixed point is done in the same fixed point here, so that a resize gives the same
// bytes, not merely close ones.
package imaging

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"

	_ "image/jpeg" // register the decoders image.Decode uses
	_ "image/png"
)

// RGB is an 8-bit RGB image: Pix holds the pixels row by row, three bytes (R, G, B) each, so the
// pixel (x, y) starts at Pix[3*(y*W+x)]. It implements image.Image (opaque) so it can be encoded
// or drawn with the standard library.
type RGB struct {
	Pix  []uint8
	W, H int
}

// ErrEmpty is returned for an image with no pixels.
var ErrEmpty = errors.New("imaging: empty image")

// NewRGB returns a black w×h image.
func NewRGB(w, h int) *RGB {
	if w < 0 || h < 0 {
		w, h = 0, 0
	}
	return &RGB{Pix: make([]uint8, 3*w*h), W: w, H: h}
}

// Bounds implements image.Image: the rectangle (0,0)-(W,H).
func (m *RGB) Bounds() image.Rectangle { return image.Rect(0, 0, m.W, m.H) }

// ColorModel implements image.Image.
func (m *RGB) ColorModel() color.Model { return color.RGBAModel }

// At implements image.Image; outside the bounds it is transparent black.
func (m *RGB) At(x, y int) color.Color {
	if x < 0 || y < 0 || x >= m.W || y >= m.H {
		return color.RGBA{}
	}
	i := 3 * (y*m.W + x)
	return color.RGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], 255}
}

// Clone returns a copy of m.
func (m *RGB) Clone() *RGB {
	return &RGB{Pix: append([]uint8(nil), m.Pix...), W: m.W, H: m.H}
}

// DefaultMaxPixels is the largest image Load and Decode accept, in pixels (width × height):
// Pillow's Image.MAX_IMAGE_PIXELS (89,478,485, about 9459×9459), above which Pillow warns of a
// decompression bomb. Decoding allocates about 7 bytes a pixel (the decoder's image and the RGB
// copy), so this bounds a photo at about 630 MB; LoadMax and DecodeMax take another limit.
const DefaultMaxPixels = 89_478_485

// ErrTooLarge is wrapped by the error for an image whose header declares more pixels than the
// limit. The size is read from the header (image.DecodeConfig) before any pixel is decoded, so a
// small file that claims a huge image costs nothing.
var ErrTooLarge = errors.New("image too large")

// Load decodes the PNG or JPEG file at path into RGB, refusing images above DefaultMaxPixels.
func Load(path string) (*RGB, error) { return LoadMax(path, DefaultMaxPixels) }

// LoadMax is Load with a limit of maxPixels (width × height; ≤ 0: DefaultMaxPixels).
func LoadMax(path string, maxPixels int) (*RGB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("imaging: %w", err)
	}
	defer f.Close()
	m, err := DecodeMax(f, maxPixels)
	if err != nil {
		return nil, fmt.Errorf("imaging: %s: %w", path, err)
	}
	return m, nil
}

// Decode reads a PNG or JPEG image and converts it to RGB (see FromImage), refusing images above
// DefaultMaxPixels.
func Decode(r io.Reader) (*RGB, error) { return DecodeMax(r, DefaultMaxPixels) }

// DecodeMax is Decode with a limit of maxPixels (width × height; ≤ 0: DefaultMaxPixels): the
// header is read first and an image declaring more pixels is refused with ErrTooLarge.
func DecodeMax(r io.Reader, maxPixels int) (*RGB, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("imaging: decode: %w", err)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("imaging: decode: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: %dx%d", ErrEmpty, cfg.Width, cfg.Height)
	}
	if cfg.Width > maxPixels/cfg.Height {
		return nil, fmt.Errorf("imaging: decode: the header declares %d×%d pixels (%.1f megapixels), above the limit of %d pixels: %w",
			cfg.Width, cfg.Height, float64(cfg.Width)*float64(cfg.Height)/1e6, maxPixels, ErrTooLarge)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("imaging: decode: %w", err)
	}
	return FromImage(img)
}

// FromImage converts img to RGB as Pillow's Image.convert("RGB") does: gray is replicated into the
// three channels, palettes are looked up, and alpha is dropped without compositing (the colour
// under a transparent pixel is kept as stored, as for PNG's non-premultiplied RGBA; Go's
// premultiplied image.RGBA is un-premultiplied first, which is exact for opaque pixels). 16-bit
// images keep their high byte, as Pillow's PNG reader does for 16-bit RGB. CMYK (Adobe JPEG) uses
// Pillow's cmyk→rgb rounding. JPEG's YCbCr uses Go's decoder and colour conversion, which differ
// slightly from libjpeg's (chroma upsampling and rounding), so a JPEG may not decode to exactly
// Pillow's bytes; PNG does.
//
// A nil image or one with no pixels is an error.
func FromImage(img image.Image) (*RGB, error) {
	if img == nil {
		return nil, errors.New("imaging: nil image")
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("%w: %dx%d", ErrEmpty, w, h)
	}
	out := NewRGB(w, h)
	p := out.Pix
	switch src := img.(type) {
	case *RGB:
		return src.Clone(), nil
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				o := 3 * (y*w + x)
				p[o], p[o+1], p[o+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				o := 3 * (y*w + x)
				r, g, bb, a := row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]
				if a != 255 {
					c := color.NRGBAModel.Convert(color.RGBA{r, g, bb, a}).(color.NRGBA)
					r, g, bb = c.R, c.G, c.B
				}
				p[o], p[o+1], p[o+2] = r, g, bb
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				o := 3 * (y*w + x)
				v := row[x]
				p[o], p[o+1], p[o+2] = v, v, v
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8
		for i, c := range src.Palette {
			lut[i] = rgbOf(c)
		}
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				o := 3 * (y*w + x)
				c := lut[row[x]]
				p[o], p[o+1], p[o+2] = c[0], c[1], c[2]
			}
		}
	case *image.CMYK:
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				o := 3 * (y*w + x)
				nk := 255 - int(row[4*x+3])
				for c := 0; c < 3; c++ {
					p[o+c] = clip8(nk - mulDiv255(int(row[4*x+c]), nk))
				}
			}
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := src.YCbCrAt(b.Min.X+x, b.Min.Y+y)
				o := 3 * (y*w + x)
				p[o], p[o+1], p[o+2] = color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			}
		}
	case *image.NYCbCrA:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := src.YCbCrAt(b.Min.X+x, b.Min.Y+y)
				o := 3 * (y*w + x)
				p[o], p[o+1], p[o+2] = color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := rgbOf(img.At(b.Min.X+x, b.Min.Y+y))
				o := 3 * (y*w + x)
				p[o], p[o+1], p[o+2] = c[0], c[1], c[2]
			}
		}
	}
	return out, nil
}

// rgbOf returns the non-premultiplied 8-bit colour of c with alpha dropped.
func rgbOf(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.NRGBA64:
		return [3]uint8{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8)}
	case color.Gray:
		return [3]uint8{c.Y, c.Y, c.Y}
	case color.Gray16:
		v := uint8(c.Y >> 8)
		return [3]uint8{v, v, v}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [3]uint8{uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)}
}

// mulDiv255 is Pillow's MULDIV255: a*b/255 rounded, with shifts.
func mulDiv255(a, b int) int {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

func clip8(v int) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}
