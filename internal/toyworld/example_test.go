package toyworld_test

import (
	"fmt"

	"github.com/gorpo/gorpo/internal/toyworld"
)

// A subject, its references and prompts, a prompt read back into what it asks for and drawn as
// the ground truth, and a caption of a generic scene for pretraining.
func Example() {
	dog, err := toyworld.SubjectByName("patch_dog")
	if err != nil {
		panic(err)
	}
	fmt.Println(dog.Description)
	fmt.Println(len(dog.References()), "references", dog.ReferenceContexts())

	eval, _ := toyworld.EvaluationPrompts(dog.Name, "sks")
	train, _ := toyworld.TrainingPrompts(dog.Name, "sks")
	fmt.Println(len(train), "training prompts, first:", train[0].Text)
	fmt.Println(len(eval), "evaluation prompts, 11th:", eval[10].Text)

	want, _ := toyworld.ParsePrompt("a sks dog wearing a santa hat in the snow")
	img, labels, err := toyworld.Render(want.Scene(dog.Name, "", 7))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%v %s, %s, %s: %s\n", img.Bounds().Size(), labels.Subject, labels.Accessory, labels.Context, labels.Color)

	for seed := range uint64(3) {
		caption, _ := toyworld.Caption(toyworld.GenericScene(seed))
		fmt.Println(caption)
	}
	// Output:
	// a white dog with a black patch over its eye, one black ear and brown spots
	// 6 references [on a sofa on a bed]
	// 8 training prompts, first: a sks dog wearing a green outfit
	// 25 evaluation prompts, 11th: a sks dog wearing a red hat
	// (32,32) patch_dog, wearing a santa hat, in the snow: white
	// a black toy on the beach
	// a white can on a cobblestone street
	// a photo of a green toy on a table
}
