package rewardtest_test

import (
	"context"
	"fmt"

	"github.com/gorpo/gorpo/reward"
	"github.com/gorpo/gorpo/reward/rewardtest"
)

// A Scorer for a test: the fake embedder stands in for ALIGN, the synthetic photos for the
// subject's.
func ExampleFakeEmbedder() {
	ctx := context.Background()
	judge := rewardtest.NewFakeEmbedder()
	scorer, err := reward.NewScorer(ctx, judge, rewardtest.References(3))
	if err != nil {
		fmt.Println(err)
		return
	}
	scores, err := scorer.Score(ctx, rewardtest.References(1), []string{"a photo of a dog"}, reward.Harmonic(0))
	if err != nil {
		fmt.Println(err)
		return
	}
	imageCalls, images, textCalls, texts := judge.Calls()
	fmt.Printf("%d score, reward in (0, 1]: %v\n", len(scores), scores[0].Reward > 0 && scores[0].Reward <= 1)
	fmt.Printf("embedded %d images in %d calls, %d texts in %d calls\n", images, imageCalls, texts, textCalls)
	// Output:
	// 1 score, reward in (0, 1]: true
	// embedded 4 images in 2 calls, 1 texts in 1 calls
}
