package reward_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"strings"

	"github.com/gorpo/gorpo/reward"
)

// colourEmbedder is a toy joint embedding: an image is its colour (R, G, B) and a text the sum of
// the colour words in it. Real code uses align's ALIGN model.
type colourEmbedder struct{}

func (colourEmbedder) EmbedImages(_ context.Context, images []image.Image) ([][]float32, error) {
	out := make([][]float32, len(images))
	for i, img := range images {
		r, g, b, _ := img.At(0, 0).RGBA()
		out[i] = []float32{float32(r), float32(g), float32(b)}
	}
	return out, nil
}

func (colourEmbedder) EmbedTexts(_ context.Context, texts []string) ([][]float32, error) {
	words := map[string][]float32{"red": {1, 0, 0}, "green": {0, 1, 0}, "blue": {0, 0, 1}}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{0.1, 0.1, 0.1}
		for _, w := range strings.Fields(t) {
			for j, v := range words[w] {
				out[i][j] += v
			}
		}
	}
	return out, nil
}

func photo(r, g, b uint8) image.Image {
	return image.NewUniform(color.RGBA{r, g, b, 255})
}

// Score three generated images of a red toy for "a [V] toy in blue light" against two reference
// photos. The copy of the references ignores the prompt and the blue image loses the subject;
// with λ = 0.3 the harmonic reward prefers the purple image, which keeps both.
func ExampleScorer() {
	ctx := context.Background()
	references := []image.Image{photo(220, 20, 20), photo(200, 40, 30)}
	scorer, err := reward.NewScorer(ctx, colourEmbedder{}, references)
	if err != nil {
		panic(err)
	}
	prompt := "a [V] toy in blue light"
	fmt.Printf("text embedded: %q\n", scorer.CleanPrompt(prompt))

	generated := []image.Image{photo(210, 30, 20), photo(150, 20, 200), photo(20, 20, 220)}
	scores, err := scorer.Score(ctx, generated, []string{prompt}, 0.3)
	if err != nil {
		panic(err)
	}
	for i, name := range []string{"copy", "purple", "blue"} {
		s := scores[i]
		fmt.Printf("%-6s ALIGN-I %.3f  ALIGN-T %.3f  reward %.3f\n", name, s.AlignI, s.AlignT, s.Reward)
	}
	// Output:
	// text embedded: "a toy in blue light"
	// copy   ALIGN-I 0.999  ALIGN-T 0.597  reward 0.679
	// purple ALIGN-I 0.846  ALIGN-T 0.926  reward 0.900
	// blue   ALIGN-I 0.609  ALIGN-T 1.000  reward 0.839
}
