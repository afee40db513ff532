package judge_test

import (
	"context"
	"fmt"
	"image"

	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/internal/toyworld/judge"
)

// Judge pictures made for prompts: which subject they show, and whether they show what the
// prompts ask for.
func Example() {
	j, err := judge.Load() // the shipped weights, embedded: no file is read
	if err != nil {
		panic(err)
	}
	prompts := []string{"a sks ball on the beach", "a purple sks ball"}
	var images []image.Image
	var intents []toyworld.Intent
	for i, p := range prompts {
		in, err := toyworld.ParsePrompt(p)
		if err != nil {
			panic(err)
		}
		// Stand-ins for generated pictures: the subject drawn as the prompt asks.
		img, _, err := toyworld.Render(in.Scene("stripy_ball", "on a sofa", uint64(i)))
		if err != nil {
			panic(err)
		}
		images, intents = append(images, img), append(intents, in)
	}
	preds, err := j.Predict(context.Background(), images)
	if err != nil {
		panic(err)
	}
	for i, p := range preds {
		fmt.Printf("%q: %s %s %s, subject %q\n", prompts[i], p.Color, p.Class, p.Context, p.Subject)
	}
	fmt.Println("subject fidelity:", judge.SubjectFidelity(preds, "stripy_ball"))
	fmt.Println("prompt fidelity:", judge.PromptFidelity(preds, intents))
	// Output:
	// "a sks ball on the beach": red ball on the beach, subject "stripy_ball"
	// "a purple sks ball": purple ball on a sofa, subject "stripy_ball"
	// subject fidelity: 1
	// prompt fidelity: 1
}
