package rewardmodel_test

import (
	"context"
	"fmt"
	"image"
	"math"

	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/internal/toyworld/rewardmodel"
)

// The shipped reward model scores a render against two prompts: ALIGN-T prefers the one that
// names the render's context.
func Example() {
	m, err := rewardmodel.Load()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Finalize()
	img, _, err := toyworld.Render(toyworld.Scene{Class: "dog", Color: "brown", Context: "on the beach", Seed: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	ie, err := m.EmbedImages(ctx, []image.Image{img})
	if err != nil {
		fmt.Println(err)
		return
	}
	prompts := []string{"a dog on the beach", "a dog in the snow"}
	te, err := m.EmbedTexts(ctx, prompts)
	if err != nil {
		fmt.Println(err)
		return
	}
	cos := func(a, b []float32) float64 {
		var ab, aa, bb float64
		for i := range a {
			ab += float64(a[i] * b[i])
			aa += float64(a[i] * a[i])
			bb += float64(b[i] * b[i])
		}
		return ab / math.Sqrt(aa*bb)
	}
	fmt.Println(cos(ie[0], te[0]) > cos(ie[0], te[1]))
	// Output: true
}
