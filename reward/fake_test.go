package reward

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"sync"
)

// fakeEmbedder maps each solid-colour test image to a fixed vector chosen by its colour, and each
// text to a vector by a map, recording every call. An unknown colour or text is an error, so a
// test that forgets to strip a token fails loudly.
type fakeEmbedder struct {
	images map[color.RGBA][]float32
	texts  map[string][]float32

	failImages error // returned by EmbedImages when set
	failTexts  error // returned by EmbedTexts when set
	dropOne    bool  // EmbedImages returns one embedding too few

	mu         sync.Mutex
	imageCalls [][]color.RGBA
	textCalls  [][]string
}

func (f *fakeEmbedder) EmbedImages(ctx context.Context, images []image.Image) ([][]float32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := make([]color.RGBA, len(images))
	out := make([][]float32, 0, len(images))
	for i, img := range images {
		call[i] = colourOf(img)
	}
	f.imageCalls = append(f.imageCalls, call)
	if f.failImages != nil {
		return nil, f.failImages
	}
	for _, c := range call {
		v, ok := f.images[c]
		if !ok {
			return nil, fmt.Errorf("fake: no embedding for colour %v", c)
		}
		out = append(out, v)
	}
	if f.dropOne {
		out = out[:len(out)-1]
	}
	return out, nil
}

func (f *fakeEmbedder) EmbedTexts(ctx context.Context, texts []string) ([][]float32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.textCalls = append(f.textCalls, append([]string{}, texts...))
	if f.failTexts != nil {
		return nil, f.failTexts
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v, ok := f.texts[t]
		if !ok {
			return nil, fmt.Errorf("fake: no embedding for text %q", t)
		}
		out[i] = v
	}
	return out, nil
}

// imageCount is the number of images embedded so far, and calls the number of calls.
func (f *fakeEmbedder) imageCount() (images, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.imageCalls {
		images += len(c)
	}
	return images, len(f.imageCalls)
}

func (f *fakeEmbedder) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imageCalls, f.textCalls = nil, nil
}

func colourOf(img image.Image) color.RGBA {
	b := img.Bounds()
	return color.RGBAModel.Convert(img.At(b.Min.X, b.Min.Y)).(color.RGBA)
}

// solid is a 4×4 image of one colour.
func solid(c color.RGBA) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	draw.Draw(img, img.Bounds(), image.NewUniform(c), image.Point{}, draw.Src)
	return img
}

// The test world. References R1 = (1,0,0) and R2 = (0,2,0); images A = (3,3,0), B = (0,0,5),
// C = (-1,0,0) and D = (0,-4,0); texts snow = (1,1,1) and beach = (0,0,-2). By hand:
//
//	cos(A,R1) = cos(A,R2) = 1/√2   cos(B,·) = 0   cos(C,R1) = -1, cos(C,R2) = 0   cos(D,R2) = -1
//	cos(A,snow) = √(2/3)   cos(B,snow) = 1/√3   cos(C,snow) = -1/√3   cos(B,beach) = -1
var (
	colR1 = color.RGBA{200, 0, 0, 255}
	colR2 = color.RGBA{0, 200, 0, 255}
	colR3 = color.RGBA{0, 0, 200, 255}
	colA  = color.RGBA{100, 100, 0, 255}
	colB  = color.RGBA{0, 100, 100, 255}
	colC  = color.RGBA{100, 0, 100, 255}
	colD  = color.RGBA{50, 50, 50, 255}

	textSnow  = "a dog in the snow"
	textBeach = "a dog on the beach"
)

func newFake() *fakeEmbedder {
	return &fakeEmbedder{
		images: map[color.RGBA][]float32{
			colR1: {1, 0, 0},
			colR2: {0, 2, 0},
			colR3: {0, 0, 7},
			colA:  {3, 3, 0},
			colB:  {0, 0, 5},
			colC:  {-1, 0, 0},
			colD:  {0, -4, 0},
		},
		texts: map[string][]float32{
			textSnow:  {1, 1, 1},
			textBeach: {0, 0, -2},
		},
	}
}

func refs() []image.Image { return []image.Image{solid(colR1), solid(colR2)} }
