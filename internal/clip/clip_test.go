package clip

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/graphtest"
	"github.com/gorpo/gorpo/internal/nn"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

func TestCLIPConfigParsing(t *testing.T) {
	// A bare CLIPTextModel config: absent fields take transformers' defaults.
	c, err := ParseTextConfig([]byte(`{"model_type": "clip_text_model", "hidden_size": 64, "num_attention_heads": 2, "hidden_act": "gelu", "eos_token_id": 2, "_name_or_path": "x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.HiddenSize != 64 || c.HiddenAct != "gelu" || c.EOSTokenID != 2 || c.VocabSize != 49408 || c.MaxPositionEmbeddings != 77 {
		t.Fatalf("%+v", c)
	}
	// A CLIPModel config: the towers are its sub-configs, text_config_dict winning.
	m, err := ParseConfig([]byte(`{"model_type": "clip", "projection_dim": 8, "hidden_size": 999,
		"text_config": {"hidden_size": 16, "num_attention_heads": 2}, "text_config_dict": {"hidden_size": 24},
		"vision_config": {"hidden_size": 12, "num_attention_heads": 3, "image_size": 30, "patch_size": 7}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.ProjectionDim != 8 || m.Text.HiddenSize != 24 || m.Text.NumAttentionHeads != 2 || m.Vision.HiddenSize != 12 ||
		m.Vision.NumPatches() != 16 || m.LogitScaleInitValue != 2.6592 {
		t.Fatalf("%+v", m)
	}
	// The text tower of a CLIPModel config without text_config is the default one.
	tc, err := ParseTextConfig([]byte(`{"model_type": "clip", "hidden_size": 999, "vision_config": {}}`))
	if err != nil || tc.HiddenSize != 512 {
		t.Fatalf("%+v, %v", tc, err)
	}
}

func TestCLIPConfigRefusals(t *testing.T) {
	for _, c := range []struct{ json, field string }{
		{`{"hidden_act": "mish"}`, "hidden_act"},
		{`{"hidden_size": 30, "num_attention_heads": 4}`, "num_attention_heads"},
		{`{"num_hidden_layers": 0}`, "num_hidden_layers"},
		{`{"layer_norm_eps": -1}`, "layer_norm_eps"},
		{`{"vocab_size": "many"}`, "vocab_size"},
		{`{"model_type": "bert"}`, "model_type"},
	} {
		_, err := ParseTextConfig([]byte(c.json))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: error %v, want a FieldError naming %q", c.json, err, c.field)
		}
	}
	for _, c := range []struct{ json, field string }{
		{`{"vision_config": {"patch_size": 300}}`, "patch_size"},
		{`{"vision_config": {"hidden_act": "mish"}}`, "hidden_act"},
		{`{"projection_dim": 0}`, "projection_dim"},
	} {
		_, err := ParseConfig([]byte(c.json))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: error %v, want a FieldError naming %q", c.json, err, c.field)
		}
	}
}

func runGraph(t *testing.T, fn func(g *Graph) []*Node) []*tensors.Tensor {
	t.Helper()
	exec, err := NewExec(backend.MustDefault(), func(g *Graph) []*Node { return fn(g) })
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	outs, err := exec.Call()
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// The pooled position follows transformers: the first eos_token_id, or the first largest id for
// the legacy eos_token_id 2; 0 when there is no end token.
func TestCLIPPoolIndex(t *testing.T) {
	ids := [][]int32{
		{5, 1, 9, 7, 9}, // eos 9 at 2 (and 4)
		{5, 3, 4, 8, 2}, // no 9; the largest id (8) at 3
		{2, 9, 9, 9, 9}, // eos at 1
		{9, 1, 1, 1, 1}, // eos at 0
		{1, 1, 1, 1, 1}, // no 9; all ids equal
		{1, 2, 3, 49407, 0},
	}
	outs := runGraph(t, func(g *Graph) []*Node {
		x := Const(g, ids)
		return []*Node{PoolIndex(x, 9), PoolIndex(x, 2)}
	})
	if got, want := tensors.MustCopyFlatData[int32](outs[0]), []int32{2, 0, 1, 0, 0, 0}; !slices.Equal(got, want) {
		t.Errorf("PoolIndex(eos 9) = %v, want %v", got, want)
	}
	if got, want := tensors.MustCopyFlatData[int32](outs[1]), []int32{2, 3, 1, 0, 0, 3}; !slices.Equal(got, want) {
		t.Errorf("PoolIndex(legacy eos 2) = %v, want %v", got, want)
	}
}

// The text mask is causal, and with an attention mask also hides padded keys.
func TestCLIPTextMask(t *testing.T) {
	outs := runGraph(t, func(g *Graph) []*Node {
		am := Const(g, [][]int32{{1, 1, 0}, {1, 0, 1}})
		return []*Node{TextMask(g, 2, 3, nil), TextMask(g, 2, 3, am)}
	})
	causal := []bool{true, false, false, true, true, false, true, true, true}
	if got := tensors.MustCopyFlatData[bool](outs[0]); !slices.Equal(got, append(slices.Clone(causal), causal...)) {
		t.Errorf("causal mask %v", got)
	}
	want := []bool{
		true, false, false, true, true, false, true, true, false, // keys 0, 1
		true, false, false, true, false, false, true, false, true, // keys 0, 2
	}
	if got := tensors.MustCopyFlatData[bool](outs[1]); !slices.Equal(got, want) {
		t.Errorf("padded mask %v, want %v", got, want)
	}
}

// PatchEmbed is the strided convolution it replaces, also when the image is not a multiple of
// the patch size.
func TestCLIPPatchEmbedIsConv(t *testing.T) {
	x := graphtest.Random(1, 2, 13, 10, 3) // NHWC
	w := graphtest.Random(2, 5, 3, 4, 4)
	b := graphtest.Random(3, 5)
	outs := graphtest.Run(t, func(in []*Node) []*Node {
		got := PatchEmbed(in[0], in[1], in[2])
		conv := nn.Conv2DWeights(in[0], in[1], in[2], nn.ConvConfig{StrideH: 4, StrideW: 4})
		return []*Node{got, Reshape(conv, 2, 3*2, 5)}
	}, x, w, b)
	if !slices.Equal(outs[0].Shape, []int{2, 6, 5}) {
		t.Fatalf("shape %v", outs[0].Shape)
	}
	graphtest.AssertClose(t, "PatchEmbed", outs[0].Data, outs[1].Data, 1e-5)
}

func TestCLIPTokenTensor(t *testing.T) {
	tt, err := TokenTensor([][]int{{1, 2, 3, 4}, {5, 6, 7, 8}}, 10, 3)
	if err != nil || !slices.Equal(tt.Shape().Dimensions, []int{2, 3}) ||
		!slices.Equal(tensors.MustCopyFlatData[int32](tt), []int32{1, 2, 3, 5, 6, 7}) {
		t.Fatalf("%v %v", tt, err)
	}
	for _, c := range []struct {
		ids  [][]int
		want string
	}{
		{nil, "no token ids"},
		{[][]int{{1, 2}, {3}}, "ids[1] has 1 tokens"},
		{[][]int{{1, 10}}, "ids[0][1] = 10"},
		{[][]int{{-1}}, "ids[0][0] = -1"},
		{[][]int{{}}, "empty"},
	} {
		if _, err := TokenTensor(c.ids, 10, 77); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.ids, err, c.want)
		}
	}
	if _, err := PixelTensor(make([]float32, 2*3*4*4), []int{2, 3, 4, 5}, 3, 4, 4); err == nil {
		t.Error("PixelTensor accepted a wrong shape")
	}
}

// copyFixture copies a fixture folder's config.json and rewrites its weights through edit.
func copyFixture(t *testing.T, component string, edit func(ts []*safetensors.Tensor) []*safetensors.Tensor) string {
	t.Helper()
	src := fixtures.Path(t, "parity", component)
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []*safetensors.Tensor
	for _, name := range f.Names() {
		v, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, safetensors.FromFloat32(name, shape, v))
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), edit(ts), nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Stable Diffusion's checkpoints name the text tower "text_model." and older ones carry
// position_ids buffers: both load, to the same values.
func TestCLIPLoadTextModelPrefixed(t *testing.T) {
	dir := copyFixture(t, "clip_text_quickgelu", func(ts []*safetensors.Tensor) []*safetensors.Tensor {
		for _, x := range ts {
			x.Name = "text_model." + x.Name
		}
		return append(ts, safetensors.FromInt64("text_model.embeddings.position_ids", []int{1, 77}, make([]int64, 77)))
	})
	m, err := LoadTextModel(backend.MustDefault(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := LoadTextModel(backend.MustDefault(), fixtures.Path(t, "parity", "clip_text_quickgelu"))
	if err != nil {
		t.Fatal(err)
	}
	const name = "/text_model/encoder/layers/0/mlp/fc1/weight"
	a := tensors.MustCopyFlatData[float32](m.Store.GetVariable(name).MustValue())
	b := tensors.MustCopyFlatData[float32](ref.Store.GetVariable(name).MustValue())
	if !slices.Equal(a, b) {
		t.Fatal("prefixed checkpoint bound other values")
	}
}

func TestCLIPLoadErrors(t *testing.T) {
	be := backend.MustDefault()
	empty := t.TempDir()
	if _, err := LoadTextModel(be, empty); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("no config.json: %v", err)
	}
	noWeights := t.TempDir()
	cfg, _ := os.ReadFile(fixtures.Path(t, "parity", "clip", "config.json"))
	_ = os.WriteFile(filepath.Join(noWeights, "config.json"), cfg, 0o644)
	if _, err := LoadModel(be, noWeights); err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("no weights: %v", err)
	}
	misShaped := copyFixture(t, "clip", func(ts []*safetensors.Tensor) []*safetensors.Tensor {
		for i, x := range ts {
			if x.Name == "visual_projection.weight" {
				v, _ := x.Float32()
				ts[i] = safetensors.FromFloat32(x.Name, []int{x.Shape[1], x.Shape[0]}, v)
			}
		}
		return ts
	})
	_, err := LoadModel(be, misShaped)
	if !errors.Is(err, weights.ErrMismatch) || !strings.Contains(err.Error(), "visual_projection.weight") {
		t.Errorf("mis-shaped checkpoint: %v", err)
	}
	badCfg := copyFixture(t, "clip_text_gelu", func(ts []*safetensors.Tensor) []*safetensors.Tensor { return ts })
	_ = os.WriteFile(filepath.Join(badCfg, "config.json"), []byte(`{"hidden_act": "gelu_10"}`), 0o644)
	var fe *FieldError
	if _, err := LoadTextModel(be, badCfg); !errors.As(err, &fe) || fe.Field != "hidden_act" || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("bad config: %v", err)
	}
}

// With an attention mask the text tower hides padded keys: positions before the padding are
// unchanged (the mask is causal anyway), the padded positions change, and nothing is NaN.
func TestCLIPTextAttentionMask(t *testing.T) {
	m, err := LoadTextModel(backend.MustDefault(), fixtures.Path(t, "parity", "clip_text_gelu"))
	if err != nil {
		t.Fatal(err)
	}
	ids := tensors.FromValue([][]int32{{998, 5, 6, 999, 0, 0}})
	mask := tensors.FromValue([][]int32{{1, 1, 1, 1, 0, 0}})
	r := NewRunner(backend.MustDefault(), m.Store)
	run := func(key string, withMask bool) []float32 {
		outs, err := r.Run(key, func(scope *model.Scope, in []*Node) []*Node {
			var am *Node
			if withMask {
				am = in[1]
			}
			return []*Node{TextTransformer(scope.In("text_model"), m.Config, in[0], am).LastHidden}
		}, ids, mask)
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](outs[0])
	}
	plain, masked := run("plain", false), run("masked", true)
	d := m.Config.HiddenSize
	if e := fixtures.RelErr(masked[:4*d], plain[:4*d]); e > 1e-6 {
		t.Errorf("unpadded positions changed by %.3g", e)
	}
	if e := fixtures.RelErr(masked[4*d:], plain[4*d:]); e < 1e-3 {
		t.Errorf("padded positions did not change (%.3g)", e)
	}
}

// Variables missing from a fresh store are created with PyTorch's default initialisation, so the
// towers also build untrained (the toy world pretrains them).
func TestCLIPFreshVariables(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Text.HiddenSize, cfg.Text.NumAttentionHeads, cfg.Text.NumHiddenLayers, cfg.Text.IntermediateSize = 8, 2, 1, 16
	cfg.Text.VocabSize, cfg.Text.MaxPositionEmbeddings = 20, 6
	cfg.Vision.HiddenSize, cfg.Vision.NumAttentionHeads, cfg.Vision.NumHiddenLayers, cfg.Vision.IntermediateSize = 8, 2, 1, 16
	cfg.Vision.ImageSize, cfg.Vision.PatchSize, cfg.ProjectionDim = 8, 4, 4
	store := model.NewStore()
	r := NewRunner(backend.MustDefault(), store)
	pixels := tensors.FromShape(shapes.Make(dtypes.Float32, 2, 8, 8, 3))
	outs, err := r.Run("fresh", func(scope *model.Scope, in []*Node) []*Node {
		return []*Node{Forward(scope, cfg, in[0], in[1], nil).LogitsPerImage}
	}, pixels, tensors.FromValue([][]int32{{1, 2, 19}}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(outs[0].Shape().Dimensions, []int{2, 1}) {
		t.Fatalf("logits shape %v", outs[0].Shape())
	}
	if v := store.GetVariable("/text_model/embeddings/token_embedding/weight"); v == nil || !slices.Equal(v.Shape().Dimensions, []int{20, 8}) {
		t.Fatalf("token embedding %v", v)
	}
}

// Runner works around the Go backend's out-of-range panic when a variable is first read after the
// last output (here: the embeddings alone, every layer's weights dead).
func TestCLIPRunnerEarlyOutput(t *testing.T) {
	m, err := LoadTextModel(backend.MustDefault(), fixtures.Path(t, "parity", "clip_text_gelu"))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(backend.MustDefault(), m.Store)
	ids := tensors.FromValue([][]int32{{998, 5, 999}})
	for i := range m.Config.NumHiddenLayers + 1 {
		outs, err := r.Run(fmt.Sprintf("hidden %d", i), func(scope *model.Scope, in []*Node) []*Node {
			return []*Node{TextTransformer(scope.In("text_model"), m.Config, in[0], nil).Hidden[i]}
		}, ids)
		if err != nil {
			t.Fatalf("hidden_states[%d]: %v", i, err)
		}
		if len(outs) != 1 || !slices.Equal(outs[0].Shape().Dimensions, []int{1, 3, m.Config.HiddenSize}) {
			t.Fatalf("hidden_states[%d]: %d outputs, first %s", i, len(outs), outs[0].Shape())
		}
	}
}
