package diffusion

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// teParityTol is the fixtures' bound for a correct float32 implementation (max|a-b|/max|b|).
const teParityTol = 1e-4

// teFixture loads a text-encoder fixture and its io.safetensors (whose names it lists), with the
// input ids as rows.
func teFixture(t *testing.T, component string) (*TextEncoder, *safetensors.File, [][]int) {
	t.Helper()
	io := fixtures.IO(t, component)
	names := io.Names()
	t.Logf("%s: %v", io.Path, names)
	for _, want := range []string{"input_ids", "last_hidden_state", "pooler_output", "penultimate_hidden_state"} {
		if !slices.Contains(names, want) {
			t.Fatalf("%s has no %q", io.Path, want)
		}
	}
	te, err := LoadTextEncoder(fixtures.Path(t, "parity", component))
	if err != nil {
		t.Fatal(err)
	}
	flat, shape := fixtures.Int64(t, io, "input_ids")
	ids := make([][]int, shape[0])
	for i := range ids {
		for _, v := range flat[i*shape[1] : (i+1)*shape[1]] {
			ids[i] = append(ids[i], int(v))
		}
	}
	return te, io, ids
}

// teCheck compares got with the fixture tensor name (its shape, and its values unless want is
// given), logging the error under label.
func teCheck(t *testing.T, io *safetensors.File, name, label string, got []float32, gotShape []int, want []float32) {
	t.Helper()
	ref, shape := fixtures.Float32(t, io, name)
	if want == nil {
		want = ref
	}
	name = label
	if !slices.Equal(gotShape, shape) {
		t.Fatalf("%s: shape %v, want %v", name, gotShape, shape)
	}
	e := fixtures.RelErr(got, want)
	t.Logf("%s: max|a-b|/max|b| = %.3g", name, e)
	if e > teParityTol {
		t.Errorf("%s: relative error %.3g > %.3g", name, e, teParityTol)
	}
}

// layerNorm64 is torch's LayerNorm over the last axis, in float64.
func layerNorm64(x []float32, w, b []float32, eps float64) []float32 {
	d := len(w)
	out := make([]float32, len(x))
	for r := 0; r < len(x); r += d {
		var mean, v float64
		for _, xi := range x[r : r+d] {
			mean += float64(xi)
		}
		mean /= float64(d)
		for _, xi := range x[r : r+d] {
			v += (float64(xi) - mean) * (float64(xi) - mean)
		}
		v /= float64(d)
		for i, xi := range x[r : r+d] {
			out[r+i] = float32((float64(xi)-mean)/math.Sqrt(v+eps)*float64(w[i]) + float64(b[i]))
		}
	}
	return out
}

func testTextEncoderParity(t *testing.T, component string) {
	te, io, ids := teFixture(t, component)
	ctx := context.Background()
	last, shape, err := te.Encode(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	teCheck(t, io, "last_hidden_state", "last_hidden_state", last, shape, nil)

	raw, shape, err := te.Encode(ctx, ids, WithClipSkip(1), WithoutFinalLayerNorm())
	if err != nil {
		t.Fatal(err)
	}
	teCheck(t, io, "penultimate_hidden_state", "penultimate_hidden_state", raw, shape, nil)

	// The default clip skip applies final_layer_norm to the penultimate layer, as SD 2.x does.
	normed, shape, err := te.Encode(ctx, ids, WithClipSkip(1))
	if err != nil {
		t.Fatal(err)
	}
	w, err := safetensors.Open(fixtures.Path(t, "parity", component, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	lnW, _ := fixtures.Float32(t, w, "final_layer_norm.weight")
	lnB, _ := fixtures.Float32(t, w, "final_layer_norm.bias")
	penult, _ := fixtures.Float32(t, io, "penultimate_hidden_state")
	teCheck(t, io, "penultimate_hidden_state", "final_layer_norm(penultimate_hidden_state)", normed, shape, layerNorm64(penult, lnW, lnB, te.Config().LayerNormEps))

	// Graph side: the pooled output at the end-of-text token.
	x := tensors.FromValue(ids)
	exec, err := model.NewExec(te.runner.Backend(), te.Store(), func(scope *model.Scope, ids *Node) *Node {
		_, pooled, _ := te.Forward(scope.Store().Scope(TextEncoderScope), ids)
		return pooled
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Exec(x)
	if err != nil {
		t.Fatal(err)
	}
	teCheck(t, io, "pooler_output", "pooler_output", tensors.MustCopyFlatData[float32](outs[0]), outs[0].Shape().Dimensions, nil)
}

func TestTextEncoderParityQuickGELU(t *testing.T) { testTextEncoderParity(t, "clip_text_quickgelu") }

func TestTextEncoderParityGELU(t *testing.T) { testTextEncoderParity(t, "clip_text_gelu") }

// Sequences longer than max_position_embeddings are cut to it.
func TestTextEncoderTruncates(t *testing.T) {
	te, _, ids := teFixture(t, "clip_text_quickgelu")
	maxLen := te.Config().MaxPositionEmbeddings
	long := make([][]int, len(ids))
	for i, row := range ids {
		long[i] = append(slices.Clone(row), make([]int, maxLen+5-len(row))...)
		for j := len(row); j < len(long[i]); j++ {
			long[i][j] = row[len(row)-1]
		}
	}
	got, shape, err := te.Encode(context.Background(), long)
	if err != nil {
		t.Fatal(err)
	}
	if shape[1] != maxLen {
		t.Fatalf("shape %v, want length %d", shape, maxLen)
	}
	cut := make([][]int, len(long))
	for i := range long {
		cut[i] = long[i][:maxLen]
	}
	want, _, err := te.Encode(context.Background(), cut)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatal("truncated encoding differs from encoding the first max_position_embeddings ids")
	}
}

func TestTextEncoderErrors(t *testing.T) {
	te, _, ids := teFixture(t, "clip_text_gelu")
	ctx := context.Background()
	for _, c := range []struct {
		ids  [][]int
		opts []EncodeOption
		want string
	}{
		{[][]int{{1, 2}, {3}}, nil, "ids[1]"},
		{[][]int{{1, te.Config().VocabSize}}, nil, "ids[0][1]"},
		{nil, nil, "no token ids"},
		{ids, []EncodeOption{WithClipSkip(te.Config().NumHiddenLayers + 1)}, "clip skip"},
	} {
		if _, _, err := te.Encode(ctx, c.ids, c.opts...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one naming %q", err, c.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := te.Encode(cancelled, ids); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}

	// A folder without config.json, one without weights, and a mis-shaped checkpoint.
	src := fixtures.Path(t, "parity", "clip_text_gelu")
	empty := t.TempDir()
	if _, err := LoadTextEncoder(empty); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("no config.json: %v", err)
	}
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(empty, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTextEncoder(empty); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("no weights: %v", err)
	}
	f, err := safetensors.Open(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []*safetensors.Tensor
	for _, name := range f.Names() {
		v, shape, _ := f.Float32(name)
		if name == "encoder.layers.0.mlp.fc1.weight" {
			shape = []int{shape[1], shape[0]}
		}
		ts = append(ts, safetensors.FromFloat32(name, shape, v))
	}
	if err := safetensors.Write(filepath.Join(empty, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	_, err = LoadTextEncoder(empty)
	if !errors.Is(err, weights.ErrMismatch) || !strings.Contains(err.Error(), "encoder.layers.0.mlp.fc1.weight") {
		t.Errorf("mis-shaped checkpoint: %v", err)
	}
}
