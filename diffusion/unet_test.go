package diffusion

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// unetFixture is one parity/unet_* folder's inputs and reference output.
type unetFixture struct {
	dir       string
	sample    []float32
	shape     [4]int
	timesteps []float64
	context   []float32
	ctxShape  [3]int
	want      []float32
	wantShape []int
}

func loadUNetFixture(t testing.TB, name string) unetFixture {
	t.Helper()
	io := fixtures.IO(t, name)
	f := unetFixture{dir: fixtures.Path(t, "parity", name)}
	var s, c []int
	f.sample, s = fixtures.Float32(t, io, "sample")
	f.context, c = fixtures.Float32(t, io, "encoder_hidden_states")
	f.want, f.wantShape = fixtures.Float32(t, io, "out")
	ts, _ := fixtures.Int64(t, io, "timestep")
	if len(s) != 4 || len(c) != 3 {
		t.Fatalf("%s: sample %v, encoder_hidden_states %v: want rank 4 and 3", name, s, c)
	}
	copy(f.shape[:], s)
	copy(f.ctxShape[:], c)
	for _, v := range ts {
		f.timesteps = append(f.timesteps, float64(v))
	}
	return f
}

func TestUNetParity(t *testing.T) {
	for _, name := range []string{"unet_sd1", "unet_sd2"} {
		t.Run(name, func(t *testing.T) {
			f := loadUNetFixture(t, name)
			u, err := LoadUNet(f.dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := u.Predict(context.Background(), f.sample, f.shape, f.timesteps, f.context, f.ctxShape)
			if err != nil {
				t.Fatal(err)
			}
			e := fixtures.RelErr(got, f.want)
			t.Logf("%s out %v: max|a-b|/max|b| = %.3g", name, f.wantShape, e)
			if e > 1e-4 {
				t.Fatalf("%s: relative error %.3g > 1e-4", name, e)
			}
		})
	}
}

// Load, Save, load the saved copy: the same tensors under the same upstream names, the same
// configuration, the same predictions.
func TestUNetSaveRoundTrip(t *testing.T) {
	f := loadUNetFixture(t, "unet_sd1")
	u, err := LoadUNet(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "unet")
	if err := u.Save(dir); err != nil {
		t.Fatal(err)
	}
	orig, err := safetensors.Open(filepath.Join(f.dir, "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	saved, err := safetensors.Open(filepath.Join(dir, "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(orig.Names(), saved.Names()) {
		t.Fatalf("saved names differ:\n%v\nwant\n%v", saved.Names(), orig.Names())
	}
	if !saved.Has("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight") {
		t.Fatal("saved file lacks the upstream name down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight")
	}
	for _, name := range orig.Names() {
		a, sa, err := orig.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		b, sb, err := saved.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sa, sb) || !slices.Equal(a, b) {
			t.Fatalf("%s: saved shape %v (values equal: %v), want %v", name, sb, slices.Equal(a, b), sa)
		}
	}
	back, err := LoadUNet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Config(), u.Config()) {
		t.Fatalf("saved config %+v, want %+v", back.Config(), u.Config())
	}
	want, err := u.Predict(context.Background(), f.sample, f.shape, f.timesteps, f.context, f.ctxShape)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Predict(context.Background(), f.sample, f.shape, f.timesteps, f.context, f.ctxShape)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("reloaded U-Net predicts differently: relative error %.3g", fixtures.RelErr(got, want))
	}
}

// copyConfigDir copies a fixture folder's config.json into a new folder and returns its path.
func copyConfigDir(t *testing.T, from string) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(from, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Sharded checkpoints and the fp16 variant load; missing files and tensors are named.
func TestUNetLoadForms(t *testing.T) {
	f := loadUNetFixture(t, "unet_sd1")
	orig, err := safetensors.Open(filepath.Join(f.dir, "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var all []*safetensors.Tensor
	for _, name := range orig.Names() {
		tt, _ := orig.Tensor(name)
		all = append(all, tt)
	}
	predict := func(dir string) []float32 {
		t.Helper()
		u, err := LoadUNet(dir)
		if err != nil {
			t.Fatal(err)
		}
		out, err := u.Predict(context.Background(), f.sample, f.shape, f.timesteps, f.context, f.ctxShape)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// Two shards and an index.
	sharded := copyConfigDir(t, f.dir)
	half := len(all) / 2
	weightMap := map[string]string{}
	for i, part := range [][]*safetensors.Tensor{all[:half], all[half:]} {
		shard := fmt.Sprintf("diffusion_pytorch_model-%05d-of-00002.safetensors", i+1)
		if err := safetensors.Write(filepath.Join(sharded, shard), part, nil); err != nil {
			t.Fatal(err)
		}
		for _, tt := range part {
			weightMap[tt.Name] = shard
		}
	}
	idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap})
	if err := os.WriteFile(filepath.Join(sharded, "diffusion_pytorch_model.safetensors.index.json"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	if e := fixtures.RelErr(predict(sharded), f.want); e > 1e-4 {
		t.Fatalf("sharded: relative error %.3g", e)
	}

	// The fp16 variant, alone in its folder.
	variant := copyConfigDir(t, f.dir)
	var halves []*safetensors.Tensor
	for _, tt := range all {
		v, _ := tt.Float32()
		halves = append(halves, toFloat16(tt.Name, tt.Shape, v))
	}
	if err := safetensors.Write(filepath.Join(variant, "diffusion_pytorch_model.fp16.safetensors"), halves, nil); err != nil {
		t.Fatal(err)
	}
	e := fixtures.RelErr(predict(variant), f.want)
	t.Logf("fp16 weights: relative error %.3g", e)
	if e > 2e-2 {
		t.Fatalf("fp16 variant: relative error %.3g", e)
	}

	// No weights: the error names the file looked for.
	empty := copyConfigDir(t, f.dir)
	if _, err := LoadUNet(empty); err == nil || !strings.Contains(err.Error(), "diffusion_pytorch_model.safetensors") {
		t.Fatalf("no weights: err = %v", err)
	}
	// No config.json.
	if _, err := LoadUNet(t.TempDir()); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Fatalf("no config: err = %v", err)
	}
	// A missing tensor is named.
	missing := copyConfigDir(t, f.dir)
	drop := "mid_block.attentions.0.proj_in.weight"
	var kept []*safetensors.Tensor
	for _, tt := range all {
		if tt.Name != drop {
			kept = append(kept, tt)
		}
	}
	if err := safetensors.Write(filepath.Join(missing, "diffusion_pytorch_model.safetensors"), kept, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadUNet(missing); !errors.Is(err, weights.ErrMismatch) || !strings.Contains(err.Error(), drop) {
		t.Fatalf("missing tensor: err = %v", err)
	}
}

// toFloat16 converts to an F16 tensor (round to nearest even; the fixture's values are normal
// and far below 65504).
func toFloat16(name string, shape []int, v []float32) *safetensors.Tensor {
	data := make([]byte, 2*len(v))
	for i, x := range v {
		b := math.Float32bits(x)
		sign := uint16(b>>16) & 0x8000
		exp := int((b>>23)&0xff) - 127 + 15
		mant := b & 0x7fffff
		var h uint16
		switch {
		case exp <= 0: // flush tiny values to zero
			h = sign
		default:
			h = sign | uint16(exp)<<10 | uint16(mant>>13)
			rest := mant & 0x1fff
			if rest > 0x1000 || (rest == 0x1000 && h&1 == 1) {
				h++
			}
		}
		binary.LittleEndian.PutUint16(data[2*i:], h)
	}
	return &safetensors.Tensor{Name: name, DType: "F16", Shape: slices.Clone(shape), Data: data}
}

// Host-side arguments are checked before anything runs.
func TestUNetPredictErrors(t *testing.T) {
	f := loadUNetFixture(t, "unet_sd1")
	u, err := LoadUNet(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bad := f.shape
	bad[1]++
	if _, err := u.Predict(ctx, f.sample, bad, f.timesteps, f.context, f.ctxShape); err == nil {
		t.Error("wrong sample shape accepted")
	}
	badCtx := f.ctxShape
	badCtx[2]++
	if _, err := u.Predict(ctx, f.sample, f.shape, f.timesteps, f.context, badCtx); err == nil {
		t.Error("wrong context shape accepted")
	}
	if _, err := u.Predict(ctx, f.sample, f.shape, []float64{1, 2, 3}, f.context, f.ctxShape); err == nil {
		t.Error("wrong number of timesteps accepted")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := u.Predict(cancelled, f.sample, f.shape, f.timesteps, f.context, f.ctxShape); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
	// One timestep for the whole batch is the same as repeating it.
	one, err := u.Predict(ctx, f.sample, f.shape, f.timesteps[:1], f.context, f.ctxShape)
	if err != nil {
		t.Fatal(err)
	}
	rep := make([]float64, f.shape[0])
	for i := range rep {
		rep[i] = f.timesteps[0]
	}
	all, err := u.Predict(ctx, f.sample, f.shape, rep, f.context, f.ctxShape)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(one, all) {
		t.Error("a single timestep is not broadcast over the batch")
	}
}
