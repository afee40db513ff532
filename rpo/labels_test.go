package rpo

import (
	"math/rand/v2"
	"testing"

	"github.com/gorpo/gorpo/preference"
)

// A pair whose reference has by far the higher reward is labelled 1 (the reference preferred)
// nearly every time it is visited, and the opposite pair 0, all the way into the step's batch,
// where label k belongs to the reference image k and the other image B+k (issue 12: flipping y
// in the pairs' construction passed every other test of the package). TestRPOLossGradientSigns
// checks which way the loss then pushes each label.
func TestLabelDirection(t *testing.T) {
	cfg := testConfig(ObjectiveRPO)
	cfg.BatchSize = 2
	training := []string{"a [V] dog on the moon", "a [V] dog in the snow"}
	const gap = 10 // σ(10) = 0.99995
	pairs := []preference.Pair{
		{Reference: 0, Generated: 0, Prompt: training[0], RewardReference: gap, RewardGenerated: 0},
		{Reference: 1, Generated: 1, Prompt: training[1], RewardReference: 0, RewardGenerated: gap},
	}
	refPrompts := []string{"a photo of [V] dog", "a photo of [V] dog"}
	p := newPlan(cfg, pairs, refPrompts, "", training, 2)
	// One-value "images" that say which photo they are: references 100, 101; generated 200, 201.
	d := &trainData{shape: [3]int{1, 1, 1}, scale: 1, numTimesteps: 10, embShape: [2]int{1, 1},
		refs:   []x0Source{{mean: []float32{100}}, {mean: []float32{101}}},
		others: []x0Source{{mean: []float32{200}}, {mean: []float32{201}}},
		emb:    map[string][]float32{refPrompts[0]: {0}, training[0]: {1}, training[1]: {2}},
	}
	rng := rand.New(rand.NewPCG(1, 1))
	ones := map[float32]int{} // by reference image
	visits := map[float32]int{}
	for step := 1; step <= 100; step++ {
		vs, err := p.step(step)
		if err != nil {
			t.Fatal(err)
		}
		b := d.makeBatch(vs, true, true, rng)
		for k := range vs {
			ref, other := b.x0[k], b.x0[len(vs)+k]
			if other != ref+100 {
				t.Fatalf("step %d: reference image %v batched with other image %v", step, ref, other)
			}
			visits[ref]++
			ones[ref] += int(b.labels[k])
		}
	}
	if visits[100] < 50 || visits[101] < 50 {
		t.Fatalf("visits %v, want both pairs visited often", visits)
	}
	if f := float64(ones[100]) / float64(visits[100]); f < 0.98 {
		t.Errorf("reference rewarded %v above its generated image: labelled 1 in %.3f of %d visits, want nearly all", float64(gap), f, visits[100])
	}
	if f := float64(ones[101]) / float64(visits[101]); f > 0.02 {
		t.Errorf("reference rewarded %v below its generated image: labelled 1 in %.3f of %d visits, want nearly none", float64(gap), f, visits[101])
	}
}
