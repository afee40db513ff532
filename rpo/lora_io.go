package rpo

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// LoRAWeightName is the adapter file's name in a folder, the one diffusers' save_lora_weights
// writes and load_lora_weights looks for.
const LoRAWeightName = "pytorch_lora_weights.safetensors"

// loraMetadataKey is the safetensors metadata entry where diffusers keeps the adapters'
// LoraConfig, as JSON with keys prefixed by the component ("unet.r", "unet.lora_alpha", ...).
const loraMetadataKey = "lora_adapter_metadata"

// loraPrefix is the component prefix of the U-Net's tensors and metadata keys.
const loraPrefix = "unet."

// Save writes the adapters to dir/pytorch_lora_weights.safetensors (creating dir; the file is
// written to a temporary name and renamed into place) as StableDiffusionPipeline.save_lora_weights
// does, so diffusers' pipe.load_lora_weights(dir) applies them:
//
//   - tensors in PEFT's naming with the "unet." prefix, float32:
//     "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight" [r, in] and
//     "unet.….to_q.lora_B.weight" [out, r], for every adapted module;
//   - metadata "format": "pt" and "lora_adapter_metadata", the JSON of the LoraConfig keywords
//     diffusers passes to peft.LoraConfig when loading ("unet.r", "unet.lora_alpha",
//     "unet.target_modules" with every adapted module's path, ...). Without it diffusers would
//     take α = r, so α ≠ r survives only through this entry.
func (l *LoRA) Save(dir string) error {
	store := l.unet.Store()
	var srcs []safetensors.Source
	for _, m := range l.modules {
		for _, kind := range []struct {
			path, suffix string
			dims         []int
		}{{m.aPath(), ".lora_A.weight", []int{l.rank, m.in}}, {m.bPath(), ".lora_B.weight", []int{m.out, l.rank}}} {
			src, err := float32Source(store.GetVariable(kind.path), loraPrefix+m.name+kind.suffix, kind.dims)
			if err != nil {
				return fmt.Errorf("rpo: saving LoRA to %s: %w", dir, err)
			}
			srcs = append(srcs, src)
		}
	}
	meta, err := l.adapterMetadata()
	if err != nil {
		return fmt.Errorf("rpo: saving LoRA to %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("rpo: saving LoRA: %w", err)
	}
	path := filepath.Join(dir, LoRAWeightName)
	if err := safetensors.WriteSources(path, srcs, map[string]string{"format": "pt", loraMetadataKey: meta}); err != nil {
		return fmt.Errorf("rpo: saving LoRA: %w", err)
	}
	return nil
}

// float32Source describes the float32 variable v of shape dims as the file tensor name, its bytes
// written from the variable when the writer reaches it (see weights.TensorSource).
func float32Source(v *model.Variable, name string, dims []int) (safetensors.Source, error) {
	if v == nil {
		return safetensors.Source{}, fmt.Errorf("%s: missing variable", name)
	}
	if !slices.Equal(v.Shape().Dimensions, dims) || v.DType() != dtypes.Float32 {
		return safetensors.Source{}, fmt.Errorf("%s is %s, want (Float32)%v", v.Path(), v.Shape(), dims)
	}
	value, err := v.Value()
	if err != nil {
		return safetensors.Source{}, fmt.Errorf("%s: %w", v.Path(), err)
	}
	return weights.TensorSource(name, value)
}

// adapterMetadata is the JSON diffusers writes under lora_adapter_metadata: peft.LoraConfig's
// keyword arguments for the U-Net, each prefixed by "unet." (json.dumps(indent=2, sort_keys=True)).
func (l *LoRA) adapterMetadata() (string, error) {
	cfg := map[string]any{
		"r":                 l.rank,
		"lora_alpha":        l.alpha,
		"target_modules":    l.Modules(),
		"init_lora_weights": true,
		"lora_dropout":      0.0,
		"bias":              "none",
		"use_dora":          false,
		"use_rslora":        false,
		"rank_pattern":      map[string]int{},
		"alpha_pattern":     map[string]float64{},
	}
	prefixed := make(map[string]any, len(cfg))
	for k, v := range cfg {
		prefixed[loraPrefix+k] = v
	}
	b, err := json.MarshalIndent(prefixed, "", "  ") // Go sorts map keys
	return string(b), err
}

// LoadLoRA reads adapters for u from path, an adapter file or a folder holding
// pytorch_lora_weights.safetensors (what Save and diffusers' save_lora_weights write), into
// u.Store() under LoRAScope, replacing earlier ones; they are not attached (see Attach).
//
// It reads the U-Net's tensors ("unet." prefix) in PEFT's naming (lora_A / lora_B) or in the
// diffusers naming of older training scripts (lora.down / lora.up), in F32, F16 or BF16. Every
// adapted module of u must have both matrices, with one rank r across the file (read from the
// shapes); anything else is refused with an error wrapping ErrLoRAMismatch that lists the
// missing, unexpected and mis-shaped tensors by name (text-encoder adapters included, which this
// U-Net-only loader does not apply). α comes from the lora_adapter_metadata entry as diffusers
// reads it (its "unet.lora_alpha"; PEFT's default 8 when the entry lacks it), or α = r when the
// file has no such entry (diffusers' rule for files without alphas); per-module ranks or alphas
// (rank_pattern, alpha_pattern), DoRA and rsLoRA are refused.
func LoadLoRA(u *diffusion.UNet, path string) (*LoRA, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, LoRAWeightName)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rpo: loading LoRA: %w", err)
	}
	defer f.Close() // the adapters are converted (copied) before LoadLoRA returns
	l, err := newLoRA(u, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("rpo: loading LoRA from %s: %w", path, err)
	}

	// Sort the tensors out by module and matrix.
	type pair struct{ a, b *safetensors.Tensor }
	found := map[string]*pair{}
	var unexpected, misShaped, missing []string
	for _, name := range f.Names() {
		t, _ := f.Tensor(name)
		module, isA, ok := parseLoRAKey(name)
		if !ok || l.byName[module] == nil {
			why := ""
			switch {
			case !strings.HasPrefix(name, loraPrefix):
				why = " (not a U-Net adapter)"
			case ok:
				why = " (no such attention projection in the U-Net)"
			}
			unexpected = append(unexpected, fmt.Sprintf("%s %v%s", name, t.Shape, why))
			continue
		}
		p := found[module]
		if p == nil {
			p = &pair{}
			found[module] = p
		}
		slot := &p.b
		if isA {
			slot = &p.a
		}
		if *slot != nil {
			unexpected = append(unexpected, fmt.Sprintf("%s (a second copy of %s's %s)", name, module, map[bool]string{true: "lora_A", false: "lora_B"}[isA]))
			continue
		}
		*slot = t
	}

	// The rank: the most common one among the lora_A matrices (so that one odd module is the
	// one reported).
	counts := map[int]int{}
	for _, p := range found {
		if p.a != nil && len(p.a.Shape) == 2 {
			counts[p.a.Shape[0]]++
		}
	}
	rank := 0
	for r, n := range counts {
		if n > counts[rank] || (n == counts[rank] && r < rank) {
			rank = r
		}
	}
	for _, m := range l.modules {
		p := found[m.name]
		if p == nil || p.a == nil {
			missing = append(missing, fmt.Sprintf("%s%s.lora_A.weight [%d %d]", loraPrefix, m.name, rank, m.in))
		} else if !sameInts(p.a.Shape, rank, m.in) {
			misShaped = append(misShaped, fmt.Sprintf("%s: file %v, want [%d %d]", p.a.Name, p.a.Shape, rank, m.in))
		}
		if p == nil || p.b == nil {
			missing = append(missing, fmt.Sprintf("%s%s.lora_B.weight [%d %d]", loraPrefix, m.name, m.out, rank))
		} else if !sameInts(p.b.Shape, m.out, rank) {
			misShaped = append(misShaped, fmt.Sprintf("%s: file %v, want [%d %d]", p.b.Name, p.b.Shape, m.out, rank))
		}
	}
	if rank <= 0 && len(missing)+len(misShaped) == 0 {
		misShaped = append(misShaped, "every lora_A has rank 0")
	}
	if len(missing)+len(misShaped)+len(unexpected) > 0 {
		return nil, loraMismatchError(path, rank, missing, unexpected, misShaped)
	}

	var nonFinite []string
	for _, m := range l.modules {
		for _, x := range []*safetensors.Tensor{found[m.name].a, found[m.name].b} {
			if k := x.NonFinite(); k > 0 {
				nonFinite = append(nonFinite, fmt.Sprintf("%s (%d of %d values)", x.Name, k, x.Size()))
			}
		}
	}
	if len(nonFinite) > 0 {
		return nil, fmt.Errorf("rpo: loading LoRA from %s: %d tensors hold NaN or Inf values: %s: %w",
			path, len(nonFinite), strings.Join(nonFinite, ", "), weights.ErrNonFinite)
	}

	alpha, err := loraAlpha(f.Metadata, rank)
	if err != nil {
		return nil, fmt.Errorf("rpo: loading LoRA from %s: %w", path, err)
	}
	l.rank, l.alpha = rank, alpha

	values := make(map[string]*tensors.Tensor, 2*len(l.modules))
	for _, m := range l.modules {
		p := found[m.name]
		for _, x := range []struct {
			t    *safetensors.Tensor
			path string
		}{{p.a, m.aPath()}, {p.b, m.bPath()}} {
			data, err := x.t.Float32()
			if err != nil {
				return nil, fmt.Errorf("rpo: loading LoRA from %s: %w", path, err)
			}
			values[x.path] = tensors.FromFlatDataAndDimensions(data, x.t.Shape...)
		}
	}
	if err := l.createVariables(values); err != nil {
		return nil, fmt.Errorf("rpo: loading LoRA from %s: %w", path, err)
	}
	return l, nil
}

// parseLoRAKey splits "unet.<module>.lora_A.weight" (or lora_B, lora.down, lora.up) into the
// module path and whether it is the down (A) matrix.
func parseLoRAKey(name string) (module string, isA, ok bool) {
	rest, ok := strings.CutPrefix(name, loraPrefix)
	if !ok {
		return "", false, false
	}
	for _, s := range []struct {
		suffix string
		isA    bool
	}{{".lora_A.weight", true}, {".lora_B.weight", false}, {".lora.down.weight", true}, {".lora.up.weight", false}} {
		if module, ok := strings.CutSuffix(rest, s.suffix); ok {
			return module, s.isA, true
		}
	}
	return "", false, false
}

// loraAlpha reads α from the file's lora_adapter_metadata as diffusers would.
func loraAlpha(meta map[string]string, rank int) (float64, error) {
	raw, ok := meta[loraMetadataKey]
	if !ok || raw == "" {
		return float64(rank), nil // diffusers: no alphas in the file, α = r
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		return 0, fmt.Errorf("metadata %s: %w", loraMetadataKey, err)
	}
	cfg := map[string]json.RawMessage{}
	for k, v := range all {
		if k, ok := strings.CutPrefix(k, loraPrefix); ok {
			cfg[k] = v
		}
	}
	if len(cfg) == 0 {
		return float64(rank), nil // metadata for other components only
	}
	number := func(key string, def float64) (float64, error) {
		v, ok := cfg[key]
		if !ok || string(v) == "null" {
			return def, nil
		}
		var x float64
		if err := json.Unmarshal(v, &x); err != nil {
			return 0, fmt.Errorf("metadata %s: %s%s = %s, want a number", loraMetadataKey, loraPrefix, key, v)
		}
		return x, nil
	}
	// peft.LoraConfig's defaults (r = 8, lora_alpha = 8) apply to keys the entry lacks.
	r, err := number("r", 8)
	if err != nil {
		return 0, err
	}
	if int(r) != rank || r != float64(int(r)) {
		return 0, fmt.Errorf("metadata %s: %sr = %g, but the tensors have rank %d", loraMetadataKey, loraPrefix, r, rank)
	}
	alpha, err := number("lora_alpha", 8)
	if err != nil {
		return 0, err
	}
	if !(alpha > 0) {
		return 0, fmt.Errorf("metadata %s: %slora_alpha = %g, want > 0", loraMetadataKey, loraPrefix, alpha)
	}
	for _, key := range []string{"rank_pattern", "alpha_pattern"} {
		if v, ok := cfg[key]; ok {
			var pattern map[string]any
			if err := json.Unmarshal(v, &pattern); err == nil && len(pattern) > 0 {
				return 0, fmt.Errorf("metadata %s: %s%s %s: per-module ranks and alphas are not supported", loraMetadataKey, loraPrefix, key, v)
			}
		}
	}
	for _, key := range []string{"use_dora", "use_rslora"} {
		var on bool
		if v, ok := cfg[key]; ok && json.Unmarshal(v, &on) == nil && on {
			return 0, fmt.Errorf("metadata %s: %s%s is set: only plain LoRA is supported", loraMetadataKey, loraPrefix, key)
		}
	}
	return alpha, nil
}

func sameInts(got []int, want ...int) bool { return slices.Equal(got, want) }

// loraMismatchError lists what LoadLoRA found wrong, by tensor name.
func loraMismatchError(path string, rank int, missing, unexpected, misShaped []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "rpo: loading LoRA from %s: %v (rank %d)", path, ErrLoRAMismatch, rank)
	weights.WriteNameList(&b, "missing from the file", missing)
	weights.WriteNameList(&b, "mis-shaped", misShaped)
	weights.WriteNameList(&b, "unexpected in the file", unexpected)
	return &loraError{msg: b.String()}
}

type loraError struct{ msg string }

func (e *loraError) Error() string { return e.msg }
func (e *loraError) Unwrap() error { return ErrLoRAMismatch }
