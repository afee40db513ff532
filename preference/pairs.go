package preference

import "fmt"

// PairsPerPrompt builds RPO's training pairs as the official code does: for training prompt i,
// the reference image i mod len(references) is compared with every image generated for that
// prompt. refRewards[i] is that reference image's reward against prompts[i];
// genRewards[i][j] is the reward of the j-th image generated for prompts[i]. Generated images
// are indexed in prompt order (prompt 0's images first).
func PairsPerPrompt(prompts []string, numReferences int, refRewards []float64, genRewards [][]float64) ([]Pair, error) {
	if numReferences <= 0 {
		return nil, fmt.Errorf("preference: %d reference images, want at least one", numReferences)
	}
	if len(prompts) == 0 {
		return nil, fmt.Errorf("preference: no training prompts")
	}
	if len(refRewards) != len(prompts) || len(genRewards) != len(prompts) {
		return nil, fmt.Errorf("preference: %d prompts but %d reference rewards and %d generated-reward lists, want one per prompt",
			len(prompts), len(refRewards), len(genRewards))
	}
	var pairs []Pair
	gen := 0
	for i, prompt := range prompts {
		if len(genRewards[i]) == 0 {
			return nil, fmt.Errorf("preference: prompt %d (%q) has no generated images", i, prompt)
		}
		for _, r := range genRewards[i] {
			pairs = append(pairs, Pair{
				Reference: i % numReferences, Generated: gen, Prompt: prompt,
				RewardReference: refRewards[i], RewardGenerated: r,
			})
			gen++
		}
	}
	return pairs, nil
}
