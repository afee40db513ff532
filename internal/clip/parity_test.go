package clip

import (
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/safetensors"
)

// parityTol is the fixtures' bound for a correct float32 implementation (max|a-b|/max|b|).
const parityTol = 1e-4

// ioNames lists a fixture's io.safetensors tensors and fails unless every wanted one is there.
func ioNames(t *testing.T, f *safetensors.File, want ...string) {
	t.Helper()
	names := f.Names()
	t.Logf("%s: %v", f.Path, names)
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Fatalf("%s has no tensor %q (it has %v)", f.Path, w, names)
		}
	}
}

// idsTensor reads an int64 ids tensor [batch, L] as int32.
func idsTensor(t *testing.T, f *safetensors.File, name string) *tensors.Tensor {
	t.Helper()
	v, shape := fixtures.Int64(t, f, name)
	ids := make([]int32, len(v))
	for i, x := range v {
		ids[i] = int32(x)
	}
	return tensors.FromFlatDataAndDimensions(ids, shape...)
}

// checkOutput compares a graph output with the fixture tensor of the same shape.
func checkOutput(t *testing.T, f *safetensors.File, name string, got *tensors.Tensor) {
	t.Helper()
	want, shape := fixtures.Float32(t, f, name)
	if !slices.Equal(got.Shape().Dimensions, shape) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape().Dimensions, shape)
	}
	e := fixtures.RelErr(tensors.MustCopyFlatData[float32](got), want)
	t.Logf("%s: max|a-b|/max|b| = %.3g", name, e)
	if e > parityTol {
		t.Errorf("%s: relative error %.3g > %.3g", name, e, parityTol)
	}
}

func testTextParity(t *testing.T, component string) {
	dir := fixtures.Path(t, "parity", component)
	io := fixtures.IO(t, component)
	ioNames(t, io, "input_ids", "last_hidden_state", "pooler_output", "penultimate_hidden_state")
	m, err := LoadTextModel(backend.MustDefault(), dir)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(backend.MustDefault(), m.Store)
	outs, err := r.Run("text", func(scope *model.Scope, in []*Node) []*Node {
		o := TextTransformer(scope.In("text_model"), m.Config, in[0], nil)
		return []*Node{o.LastHidden, o.Pooled, o.Hidden[len(o.Hidden)-2]}
	}, idsTensor(t, io, "input_ids"))
	if err != nil {
		t.Fatal(err)
	}
	checkOutput(t, io, "last_hidden_state", outs[0])
	checkOutput(t, io, "pooler_output", outs[1])
	checkOutput(t, io, "penultimate_hidden_state", outs[2])
}

func TestCLIPTextParityQuickGELU(t *testing.T) { testTextParity(t, "clip_text_quickgelu") }

func TestCLIPTextParityGELU(t *testing.T) { testTextParity(t, "clip_text_gelu") }

func TestCLIPModelParity(t *testing.T) {
	dir := fixtures.Path(t, "parity", "clip")
	io := fixtures.IO(t, "clip")
	ioNames(t, io, "pixel_values", "input_ids", "image_features", "text_features", "image_embeds", "text_embeds", "logits_per_image")
	m, err := LoadModel(backend.MustDefault(), dir)
	if err != nil {
		t.Fatal(err)
	}
	pixels, shape := fixtures.Float32(t, io, "pixel_values")
	r := NewRunner(backend.MustDefault(), m.Store)
	outs, err := r.Run("clip", func(scope *model.Scope, in []*Node) []*Node {
		o := Forward(scope, m.Config, TransposeAllAxes(in[0], 0, 2, 3, 1), in[1], nil) // NCHW → NHWC
		return []*Node{o.ImageFeatures, o.TextFeatures, o.ImageEmbeds, o.TextEmbeds, o.LogitsPerImage}
	}, tensors.FromFlatDataAndDimensions(pixels, shape...), idsTensor(t, io, "input_ids"))
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"image_features", "text_features", "image_embeds", "text_embeds", "logits_per_image"} {
		checkOutput(t, io, name, outs[i])
	}
}
