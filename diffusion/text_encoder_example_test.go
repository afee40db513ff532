package diffusion_test

import (
	"context"
	"fmt"

	"github.com/gorpo/gorpo/diffusion"
)

// Encode token ids into the U-Net's conditioning: last_hidden_state, or, as Stable Diffusion 2.x
// conditions, the penultimate layer's output through the final layer norm. (This tiny test
// encoder has a 1000-token vocabulary whose begin and end tokens are 998 and 999; a real one
// takes CLIPTokenizer's BatchEncode ids.)
func ExampleLoadTextEncoder() {
	te, err := diffusion.LoadTextEncoder("../testdata/fixtures/parity/clip_text_quickgelu")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := te.Config()
	fmt.Println(cfg.HiddenAct, cfg.NumHiddenLayers, "layers of width", cfg.HiddenSize)

	ids := [][]int{
		{998, 320, 531, 999, 999, 999, 999, 999},
		{998, 17, 42, 7, 64, 999, 999, 999},
	}
	last, shape, err := te.Encode(context.Background(), ids)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("last_hidden_state", shape, len(last))
	_, shape, err = te.Encode(context.Background(), ids, diffusion.WithClipSkip(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("penultimate layer", shape)
	// Output:
	// quick_gelu 3 layers of width 32
	// last_hidden_state [2 8 32] 512
	// penultimate layer [2 8 32]
}
