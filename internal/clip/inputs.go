package clip

import (
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"
)

// TokenTensor checks token ids — one row per text, all rows of one length, every id in
// [0, vocab) — and returns them as an int32 tensor [len(ids), L], each row cut to its first
// maxLen ids when longer (max_position_embeddings; a tokenizer's padded encoding keeps the end
// token in place, plain truncation does not). Errors name the row and position at fault.
func TokenTensor(ids [][]int, vocab, maxLen int) (*tensors.Tensor, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("no token ids, want at least one sequence")
	}
	l := len(ids[0])
	for i, row := range ids {
		if len(row) != l {
			return nil, fmt.Errorf("ids[%d] has %d tokens, ids[0] has %d: want rows of one length (pad them)", i, len(row), l)
		}
	}
	if l == 0 {
		return nil, fmt.Errorf("ids[0] is empty, want at least one token")
	}
	l = min(l, maxLen)
	flat := make([]int32, 0, len(ids)*l)
	for i, row := range ids {
		for j, id := range row[:l] {
			if id < 0 || id >= vocab {
				return nil, fmt.Errorf("ids[%d][%d] = %d, want a token id in [0, %d)", i, j, id, vocab)
			}
			flat = append(flat, int32(id))
		}
	}
	return tensors.FromFlatDataAndDimensions(flat, len(ids), l), nil
}

// PixelTensor checks pixel values in NCHW (shape [batch, channels, height, width], as an image
// processor returns them) against the channels and square size an image tower takes, and returns
// them as a float32 tensor.
func PixelTensor(pixels []float32, shape []int, channels, height, width int) (*tensors.Tensor, error) {
	if len(shape) != 4 || shape[0] < 1 || shape[1] != channels || shape[2] != height || shape[3] != width {
		return nil, fmt.Errorf("pixel values of shape %v, want [batch ≥ 1, %d, %d, %d] (NCHW)", shape, channels, height, width)
	}
	if n := shape[0] * shape[1] * shape[2] * shape[3]; len(pixels) != n {
		return nil, fmt.Errorf("%d pixel values for shape %v, want %d", len(pixels), shape, n)
	}
	return tensors.FromFlatDataAndDimensions(append([]float32(nil), pixels...), shape...), nil
}
