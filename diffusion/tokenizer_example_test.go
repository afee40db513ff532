package diffusion_test

import (
	"fmt"

	"github.com/gorpo/gorpo/diffusion"
)

// Tokenize a prompt as Stable Diffusion 1.x does: begin token, BPE ids, end token, padded to 77.
func ExampleLoadCLIPTokenizer() {
	tok, err := diffusion.LoadCLIPTokenizer("../testdata/fixtures/tokenizers/clip")
	if err != nil {
		fmt.Println(err)
		return
	}
	ids, mask := tok.EncodePadded("a sks dog on the Moon")
	fmt.Println(tok.Tokens("a sks dog on the Moon"))
	fmt.Println(ids[:8], len(ids), mask[:8])
	// Output:
	// [a</w> sks</w> dog</w> on</w> the</w> moon</w>]
	// [49406 320 48136 1929 525 518 3293 49407] 77 [1 1 1 1 1 1 1 1]
}
