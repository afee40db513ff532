package rpo

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/safetensors"
)

// loraFixture is the unet_sd1 parity fixture's U-Net and inputs.
type loraFixture struct {
	dir       string
	sample    []float32
	shape     [4]int
	timesteps []float64
	context   []float32
	ctxShape  [3]int
}

func loadLoRAFixture(t *testing.T) (*diffusion.UNet, loraFixture) {
	t.Helper()
	io := fixtures.IO(t, "unet_sd1")
	f := loraFixture{dir: fixtures.Path(t, "parity", "unet_sd1")}
	var s, c []int
	f.sample, s = fixtures.Float32(t, io, "sample")
	f.context, c = fixtures.Float32(t, io, "encoder_hidden_states")
	ts, _ := fixtures.Int64(t, io, "timestep")
	copy(f.shape[:], s)
	copy(f.ctxShape[:], c)
	for _, v := range ts {
		f.timesteps = append(f.timesteps, float64(v))
	}
	u, err := diffusion.LoadUNet(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	return u, f
}

func (f loraFixture) predict(t *testing.T, u *diffusion.UNet) []float32 {
	t.Helper()
	out, err := u.Predict(context.Background(), f.sample, f.shape, f.timesteps, f.context, f.ctxShape)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// randomizeLoRAB gives every lora_B random values of the size lora_A's init has, so the adapters
// change the output as a trained LoRA would.
func randomizeLoRAB(t *testing.T, l *LoRA, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	for _, v := range l.Variables() {
		if !strings.HasSuffix(v.Path(), "/lora_B/weight") {
			continue
		}
		dims := v.Shape().Dimensions
		data := make([]float32, dims[0]*dims[1])
		for i := range data {
			data[i] = float32(0.1 * r.NormFloat64())
		}
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(data, dims...)); err != nil {
			t.Fatal(err)
		}
	}
}

func loraValues(t *testing.T, l *LoRA) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, v := range l.Variables() {
		out[v.Path()] = tensors.MustCopyFlatData[float32](v.MustValue())
	}
	return out
}

// A fresh LoRA (B = 0) leaves the U-Net's output exactly as it was; with B ≠ 0 the attached
// adapters change it, Merge folds them into the weights so the plain U-Net reproduces the adapted
// output, and the merged LoRA can no longer be attached.
func TestLoRAAttachAndMerge(t *testing.T) {
	u, f := loadLoRAFixture(t)
	base := f.predict(t, u)

	l, err := NewLoRA(u, 4, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(l.Modules()); n == 0 || len(l.Variables()) != 2*n {
		t.Fatalf("%d modules, %d variables", n, len(l.Variables()))
	}
	if err := l.Attach(); err != nil {
		t.Fatal(err)
	}
	if fresh := f.predict(t, u); !slices.Equal(fresh, base) {
		t.Fatalf("a fresh LoRA changed the output: relative error %.3g, want exactly 0", fixtures.RelErr(fresh, base))
	}

	randomizeLoRAB(t, l, 7)
	adapted := f.predict(t, u) // same compiled graph, new adapter values
	if e := fixtures.RelErr(adapted, base); e < 1e-3 {
		t.Fatalf("the adapters barely change the output (relative difference %.3g): is the hook used?", e)
	} else {
		t.Logf("adapted vs base: relative difference %.3g", e)
	}

	if err := l.Merge(); err != nil {
		t.Fatal(err)
	}
	if l.Attached() {
		t.Fatal("still attached after Merge")
	}
	merged := f.predict(t, u)
	e := fixtures.RelErr(merged, adapted)
	t.Logf("merged vs adapted: max|a-b|/max|b| = %.3g", e)
	if e > 1e-5 {
		t.Fatalf("the merged U-Net differs from the adapted one by %.3g > 1e-5", e)
	}
	if err := l.Attach(); err == nil {
		t.Fatal("Attach after Merge: no error")
	}
	if err := l.Merge(); err == nil {
		t.Fatal("a second Merge: no error")
	}
}

var peftKey = regexp.MustCompile(`^unet\.(down_blocks\.\d+|up_blocks\.\d+|mid_block)\.attentions\.\d+\.transformer_blocks\.\d+\.attn[12]\.(to_q|to_k|to_v|to_out\.0)\.lora_[AB]\.weight$`)

// Save writes pytorch_lora_weights.safetensors with diffusers' PEFT-format names and
// lora_adapter_metadata; LoadLoRA reads the same tensors, rank and α back, from the folder or
// the file, and also reads the older lora.down / lora.up naming and files without metadata.
func TestLoRASaveLoad(t *testing.T) {
	u, _ := loadLoRAFixture(t)
	l, err := NewLoRA(u, 4, 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	randomizeLoRAB(t, l, 5)
	dir := filepath.Join(t.TempDir(), "lora")
	if err := l.Save(dir); err != nil {
		t.Fatal(err)
	}
	file, err := safetensors.Open(filepath.Join(dir, "pytorch_lora_weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}

	// The names: diffusers' PEFT format for the U-Net, two per adapted module.
	names := file.Names()
	if len(names) != 2*len(l.Modules()) {
		t.Fatalf("%d tensors for %d modules", len(names), len(l.Modules()))
	}
	for _, n := range names {
		if !peftKey.MatchString(n) {
			t.Fatalf("tensor %q does not follow diffusers' LoRA naming", n)
		}
	}
	cfg := u.Config()
	for _, c := range []struct {
		name string
		dims []int
	}{
		{"unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight", []int{4, cfg.BlockOutChannels[0]}},
		{"unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight", []int{4, cfg.CrossAttentionDim.At(0)}},
		{"unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0.lora_B.weight", []int{cfg.BlockOutChannels[len(cfg.BlockOutChannels)-1], 4}},
		{"unet.up_blocks.2.attentions.2.transformer_blocks.0.attn1.to_v.lora_B.weight", []int{cfg.BlockOutChannels[0], 4}},
	} {
		tensor, err := file.Tensor(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tensor.Shape, c.dims) || tensor.DType != "F32" {
			t.Fatalf("%s: %s%v, want F32%v", c.name, tensor.DType, tensor.Shape, c.dims)
		}
	}
	var meta map[string]any
	if file.Metadata["format"] != "pt" {
		t.Fatalf("metadata %v: want format pt", file.Metadata)
	}
	if err := json.Unmarshal([]byte(file.Metadata["lora_adapter_metadata"]), &meta); err != nil {
		t.Fatalf("lora_adapter_metadata: %v", err)
	}
	if meta["unet.r"] != 4.0 || meta["unet.lora_alpha"] != 6.0 || len(meta["unet.target_modules"].([]any)) != len(l.Modules()) {
		t.Fatalf("lora_adapter_metadata: r %v, lora_alpha %v, %d target modules", meta["unet.r"], meta["unet.lora_alpha"], len(meta["unet.target_modules"].([]any)))
	}

	// Loading back, into another U-Net, from the folder and from the file. That U-Net already has
	// fresh adapters attached and Predict compiled: loading replaces their values in place, so the
	// compiled graph computes with the loaded ones.
	want := relativeLoRAValues(t, l)
	u2, f := loadLoRAFixture(t)
	fresh, err := NewLoRA(u2, 4, 6, 99)
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Attach(); err != nil {
		t.Fatal(err)
	}
	before := f.predict(t, u2)
	watch := fresh.Variables()[0]
	for _, path := range []string{dir, filepath.Join(dir, LoRAWeightName)} {
		l2, err := LoadLoRA(u2, path)
		if err != nil {
			t.Fatal(err)
		}
		if l2.Rank() != 4 || l2.Alpha() != 6 || !slices.Equal(l2.Modules(), l.Modules()) {
			t.Fatalf("loaded rank %d, alpha %g, %d modules; want 4, 6, %d", l2.Rank(), l2.Alpha(), len(l2.Modules()), len(l.Modules()))
		}
		checkLoRAValues(t, l2, want)
		if l2.Variables()[0] != watch {
			t.Fatalf("loading replaced variable %s instead of setting its value", watch.Path())
		}
	}
	if after := f.predict(t, u2); slices.Equal(after, before) {
		t.Fatal("Predict, compiled before loading, does not see the loaded adapters")
	}
	fresh.Detach()

	// The older diffusers naming (lora.down / lora.up), without metadata: α = r.
	var ts []*safetensors.Tensor
	for _, n := range names {
		tensor, _ := file.Tensor(n)
		c := *tensor
		c.Name = strings.NewReplacer(".lora_A.", ".lora.down.", ".lora_B.", ".lora.up.").Replace(n)
		ts = append(ts, &c)
	}
	old := filepath.Join(t.TempDir(), "old.safetensors")
	if err := safetensors.Write(old, ts, nil); err != nil {
		t.Fatal(err)
	}
	l3, err := LoadLoRA(u2, old)
	if err != nil {
		t.Fatal(err)
	}
	if l3.Rank() != 4 || l3.Alpha() != 4 {
		t.Fatalf("old naming without metadata: rank %d, alpha %g; want 4, 4", l3.Rank(), l3.Alpha())
	}
	checkLoRAValues(t, l3, want)
}

// relativeLoRAValues is the adapters' values by path relative to LoRAScope.
func relativeLoRAValues(t *testing.T, l *LoRA) map[string][]float32 {
	out := map[string][]float32{}
	for p, v := range loraValues(t, l) {
		out[strings.TrimPrefix(p, LoRAScope)] = v
	}
	return out
}

func checkLoRAValues(t *testing.T, l *LoRA, want map[string][]float32) {
	t.Helper()
	got := relativeLoRAValues(t, l)
	if len(got) != len(want) {
		t.Fatalf("%d adapter variables, want %d", len(got), len(want))
	}
	for p, w := range want {
		if !slices.Equal(got[p], w) {
			t.Fatalf("%s differs after loading", p)
		}
	}
}

// A training step through the adapted forward (with the U-Net's frozen base beside it in the same
// graph, over the same weights) changes the adapters only: Attach marks the U-Net's variables
// non-trainable and Detach gives their flags back.
func TestLoRATrainsOnlyAdapters(t *testing.T) {
	u, f := loadLoRAFixture(t)
	l, err := NewLoRA(u, 2, 0, 11)
	if err != nil {
		t.Fatal(err)
	}
	randomizeLoRAB(t, l, 13) // so both A and B get gradients
	if err := l.Attach(); err != nil {
		t.Fatal(err)
	}
	store := u.Store()
	unetBefore := map[string][]float32{}
	for v := range store.Scope(diffusion.UNetScope).IterVariables() {
		if v.Trainable {
			t.Fatalf("%s is trainable while the LoRA is attached", v.Path())
		}
		unetBefore[v.Path()] = tensors.MustCopyFlatData[float32](v.MustValue())
	}
	loraBefore := loraValues(t, l)

	opt := AdamW{LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.01, MaxGradNorm: 1}
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, x, ts, c *Node) (*Node, *Node) {
		x = TransposeAllAxes(x, 0, 2, 3, 1)
		unet := scope.Store().Scope(diffusion.UNetScope)
		eps := ZerosLike(x)
		loss := ReduceAllMean(Square(Sub(u.ForwardWith(unet, x, ts, c, l.Linear()), eps)))
		baseLoss := ReduceAllMean(Square(Sub(u.ForwardWith(unet, x, ts, c, diffusion.Linear), eps)))
		opt.Update(scope, loss)
		return loss, baseLoss
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	ts := make([]float32, len(f.timesteps))
	for i, v := range f.timesteps {
		ts[i] = float32(v)
	}
	var losses, baseLosses []float32
	for range 2 {
		outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(f.sample, f.shape[:]...),
			tensors.FromFlatDataAndDimensions(ts, len(ts)), tensors.FromFlatDataAndDimensions(f.context, f.ctxShape[:]...))
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, tensors.MustCopyFlatData[float32](outs[0])[0])
		baseLosses = append(baseLosses, tensors.MustCopyFlatData[float32](outs[1])[0])
	}
	t.Logf("adapted loss %v, base loss %v", losses, baseLosses)
	if losses[1] == losses[0] || baseLosses[1] != baseLosses[0] {
		t.Fatalf("adapted loss %v should move and base loss %v should not", losses, baseLosses)
	}
	for p, before := range unetBefore {
		if !slices.Equal(tensors.MustCopyFlatData[float32](store.GetVariable(p).MustValue()), before) {
			t.Fatalf("the U-Net's %s changed", p)
		}
	}
	for p, before := range loraBefore {
		if slices.Equal(tensors.MustCopyFlatData[float32](store.GetVariable(p).MustValue()), before) {
			t.Fatalf("adapter %s did not change", p)
		}
	}
	l.Detach()
	for v := range store.Scope(diffusion.UNetScope).IterVariables() {
		if !v.Trainable {
			t.Fatalf("%s is still frozen after Detach", v.Path())
		}
	}
}

// Bad files and arguments give errors that name what is wrong.
func TestLoRABadInput(t *testing.T) {
	u, _ := loadLoRAFixture(t)
	for _, c := range []struct {
		rank  int
		alpha float64
	}{{0, 1}, {-2, 1}, {4, -1}, {1 << 40, 1}, {33, 1}} { // the fixture's projections are 32 wide
		if _, err := NewLoRA(u, c.rank, c.alpha, 0); err == nil {
			t.Errorf("NewLoRA(rank %d, alpha %g): no error", c.rank, c.alpha)
		}
	}

	l, err := NewLoRA(u, 4, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := l.Save(dir); err != nil {
		t.Fatal(err)
	}
	good, err := safetensors.Open(filepath.Join(dir, LoRAWeightName))
	if err != nil {
		t.Fatal(err)
	}
	const q = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"
	// rewrite writes the good file's tensors changed by edit (nil drops a tensor), plus extra.
	rewrite := func(name string, meta map[string]string, edit func(*safetensors.Tensor) *safetensors.Tensor, extra ...*safetensors.Tensor) string {
		var ts []*safetensors.Tensor
		for _, n := range good.Names() {
			tensor, _ := good.Tensor(n)
			if tensor = edit(tensor); tensor != nil {
				ts = append(ts, tensor)
			}
		}
		path := filepath.Join(t.TempDir(), name)
		if err := safetensors.Write(path, append(ts, extra...), meta); err != nil {
			t.Fatal(err)
		}
		return path
	}
	same := func(x *safetensors.Tensor) *safetensors.Tensor { return x }
	garbage := filepath.Join(t.TempDir(), "garbage.safetensors")
	if err := os.WriteFile(garbage, []byte("not a safetensors file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		path     string
		mismatch bool
		wants    []string
	}{
		{"no such file", filepath.Join(dir, "missing"), false, []string{"missing"}},
		{"empty folder", t.TempDir(), false, []string{LoRAWeightName}},
		{"corrupt", garbage, false, []string{"garbage.safetensors", "header"}},
		{"missing B", rewrite("missing.safetensors", nil, func(x *safetensors.Tensor) *safetensors.Tensor {
			if x.Name == q+".lora_B.weight" {
				return nil
			}
			return x
		}), true, []string{"missing from the file (1)", q + ".lora_B.weight"}},
		{"text encoder", rewrite("te.safetensors", nil, same,
			safetensors.FromFloat32("text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight", []int{4, 32}, make([]float32, 128))),
			true, []string{"unexpected in the file (1)", "text_encoder.text_model", "not a U-Net adapter"}},
		{"unknown module", rewrite("ff.safetensors", nil, same,
			safetensors.FromFloat32("unet.down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.lora_A.weight", []int{4, 128}, make([]float32, 512))),
			true, []string{"unexpected in the file (1)", "ff.net.2", "no such attention projection"}},
		{"odd rank", rewrite("rank.safetensors", nil, func(x *safetensors.Tensor) *safetensors.Tensor {
			if x.Name == q+".lora_A.weight" {
				return safetensors.FromFloat32(x.Name, []int{2, x.Shape[1]}, make([]float32, 2*x.Shape[1]))
			}
			return x
		}), true, []string{"mis-shaped (1)", q + ".lora_A.weight: file [2 32], want [4 32]"}},
		{"metadata rank", rewrite("meta.safetensors", map[string]string{"lora_adapter_metadata": `{"unet.r": 8, "unet.lora_alpha": 8}`}, same),
			false, []string{"unet.r = 8", "rank 4"}},
		{"NaN in an adapter", rewrite("nan.safetensors", nil, func(x *safetensors.Tensor) *safetensors.Tensor {
			if x.Name == q+".lora_B.weight" {
				v, _ := x.Float32()
				v[1] = float32(math.NaN())
				return safetensors.FromFloat32(x.Name, x.Shape, v)
			}
			return x
		}), false, []string{"NaN or Inf", q + ".lora_B.weight (1 of"}},
		{"rank 2^62", hugeRankFile(t, q), false, []string{q + ".lora_A.weight", "shape [4611686018427387904 32]"}},
		{"rank pattern", rewrite("pattern.safetensors", map[string]string{"lora_adapter_metadata": `{"unet.r": 4, "unet.lora_alpha": 4, "unet.rank_pattern": {"to_q": 2}}`}, same),
			false, []string{"rank_pattern", "not supported"}},
	} {
		_, err := LoadLoRA(u, c.path)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		t.Logf("%s: %v", c.name, err)
		if errors.Is(err, ErrLoRAMismatch) != c.mismatch {
			t.Errorf("%s: errors.Is(err, ErrLoRAMismatch) = %v, want %v: %v", c.name, !c.mismatch, c.mismatch, err)
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
	// A failed load leaves the adapters in place.
	if got := loraValues(t, l); len(got) != 2*len(l.Modules()) {
		t.Fatalf("a failed load changed the Store: %d adapter variables", len(got))
	}
}

// hugeRankFile is a LoRA file whose header claims a lora_A of rank 2^62 backed by no data (issue
// 12: it used to load, and Merge then panicked).
func hugeRankFile(t *testing.T, module string) string {
	t.Helper()
	h := `{"` + module + `.lora_A.weight":{"dtype":"F32","shape":[4611686018427387904,32],"data_offsets":[0,0]}}`
	data := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	path := filepath.Join(t.TempDir(), "huge.safetensors")
	if err := os.WriteFile(path, append(data, h...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
