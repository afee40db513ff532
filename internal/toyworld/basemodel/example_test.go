package basemodel_test

import (
	"fmt"
	"os"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/toyworld/basemodel"
)

// The toy world's tokenizer: every word of its captions and prompts is one token, and the
// subject token "[V]" is CLIP's three pieces.
func ExampleDefaultVocab() {
	v, err := basemodel.DefaultVocab()
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "vocab")
	defer os.RemoveAll(dir)
	if err := v.WriteTokenizer(dir); err != nil {
		panic(err)
	}
	tok, err := diffusion.LoadCLIPTokenizer(dir)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(v.Tokens), "tokens,", len(v.Merges), "merges")
	fmt.Println(tok.Tokens("A photo of [V] dog with the Eiffel Tower in the background"))
	// Output:
	// 820 tokens, 306 merges
	// [a</w> photo</w> of</w> [</w> v</w> ]</w> dog</w> with</w> the</w> eiffel</w> tower</w> in</w> the</w> background</w>]
}
