package reward_test

import (
	"context"
	"image"
	"os"

	"github.com/gorpo/gorpo/reward"
)

// Evaluate generated images with the paper's metrics, one prompt at a time, and tabulate them.
// The toy colourEmbedder (see ExampleScorer) stands in for both DINO and CLIP.
func ExampleReport() {
	ctx := context.Background()
	references := []image.Image{photo(220, 20, 20), photo(200, 40, 30)}
	generated := map[string][]image.Image{
		"a [V] toy in blue light": {photo(150, 20, 200), photo(20, 20, 220)},
		"a [V] toy on green moss": {photo(160, 120, 20), photo(200, 30, 30)},
	}
	var report reward.Report
	for _, prompt := range []string{"a [V] toy in blue light", "a [V] toy on green moss"} {
		images := generated[prompt]
		dino, err := reward.DINOScores(ctx, colourEmbedder{}, images, references)
		if err != nil {
			panic(err)
		}
		clipT, err := reward.CLIPTScores(ctx, colourEmbedder{}, images, []string{prompt})
		if err != nil {
			panic(err)
		}
		for i := range images {
			m := reward.Metrics{reward.MetricDINO: dino[i], reward.MetricCLIPT: clipT[i]}
			if err := report.Add("red toy", prompt, m); err != nil {
				panic(err)
			}
		}
	}
	if err := report.Summary().WriteMarkdown(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// | subject | prompt | n | DINO | CLIP-T |
	// |---|---|---:|---:|---:|
	// | red toy | a [V] toy in blue light | 2 | 0.455 ± 0.237 | 0.926 ± 0.074 |
	// | red toy | a [V] toy on green moss | 2 | 0.938 ± 0.060 | 0.460 ± 0.213 |
	// | red toy | *all prompts* | 2 | 0.696 ± 0.241 | 0.693 ± 0.233 |
	// | *all subjects* |  | 1 | 0.696 ± 0.000 | 0.693 ± 0.000 |
}
