package rpo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/nn"
	"github.com/gorpo/gorpo/internal/weights"
)

// LoRAScope is the scope under which NewLoRA and LoadLoRA keep the adapters in the U-Net's
// Store: "/unet_lora/down_blocks/0/attentions/0/transformer_blocks/0/attn1/to_q/lora_A/weight"
// is the adapter file's "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight".
const LoRAScope = "/unet_lora"

// LoRATargetModules are the modules that get adapters, matched as PEFT's target_modules are: a
// module whose path ends with one of them. They are the four projections of every attention of
// the U-Net (attn1 and attn2 of each transformer block), what diffusers' LoRA training scripts
// target in a Stable Diffusion U-Net.
var LoRATargetModules = []string{"to_q", "to_k", "to_v", "to_out.0"}

// ErrLoRAMismatch is wrapped by the error LoadLoRA returns when an adapter file does not fit the
// U-Net (missing, unexpected or mis-shaped tensors).
var ErrLoRAMismatch = errors.New("LoRA adapters do not match the U-Net")

// LoRA holds low-rank adapters (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models",
// ICLR 2022) on a U-Net's attention projections: each projection W (to_q, to_k, to_v, to_out.0)
// becomes
//
//	y = W·x + b + (α/r)·B·(A·x)     A: lora_A [r, in], B: lora_B [out, r]
//
// as PEFT's LoraLayer computes it (no dropout, no bias on the adapter). The paper leaves LoRA to
// future work; its official code has an SDXL LoRA trainer, and a LoRA fine-tune trains a few MB
// instead of the whole U-Net.
//
// The adapters are variables of the U-Net's Store under LoRAScope; a U-Net holds one set at a
// time. NewLoRA and LoadLoRA replace earlier adapters in place: a variable of the same path and
// shape is kept and given the new value, so graphs compiled with adapters of the same rank
// (a training step, Predict with a LoRA attached) compute with the new ones without a rebuild;
// the earlier LoRA value itself is then stale (its α and attachment are its own). In a graph, Linear is the adapted projection: u.ForwardWith(scope, x, t, c,
// l.Linear()) is the adapted U-Net and u.ForwardWith(scope, x, t, c, diffusion.Linear) the base one over
// the same weights. Attach installs Linear as the U-Net's own hook, so Forward, Predict and
// diffusion.Pipeline run with the adapters without knowing of them.
//
// While attached, the U-Net's own weights are marked non-trainable, so an optimiser over the
// whole Store (AdamW.Update with the root scope) trains the adapters only; Detach restores the
// flags they had. Save writes the adapters as diffusers' save_lora_weights does, for
// StableDiffusionPipeline.load_lora_weights; Merge folds them into the U-Net for inference.
//
// A LoRA's methods may be called from several goroutines; graph building is, as always, single
// threaded.
type LoRA struct {
	unet    *diffusion.UNet
	rank    int
	alpha   float64
	modules []*loraModule          // sorted by name
	byName  map[string]*loraModule // by upstream module path

	mu       sync.Mutex
	attached bool
	merged   bool
	frozen   map[string]bool // Trainable flags of the U-Net's variables before Attach
}

// loraModule is one adapted projection.
type loraModule struct {
	name    string // upstream module path: "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"
	in, out int
}

// path is the module's scope under root: root + "/down_blocks/0/.../to_q".
func (m *loraModule) path(root string) string { return weights.VariablePath(root, m.name) }

// aPath and bPath are the full variable paths of lora_A and lora_B.
func (m *loraModule) aPath() string { return m.path(LoRAScope) + "/lora_A/weight" }
func (m *loraModule) bPath() string { return m.path(LoRAScope) + "/lora_B/weight" }

// NewLoRA adds rank-r adapters to every attention projection of u (see LoRATargetModules), in
// u.Store() under LoRAScope, initialised as PEFT does: lora_A [rank, in] from PyTorch's
// kaiming_uniform_(a=√5), U(−1/√in, 1/√in), drawn from seed; lora_B [out, rank] zeros, so the
// adapted U-Net starts as the base one. alpha is the scaling numerator (the scale is alpha/rank);
// 0 means alpha = rank, as Config.LoRAAlpha. It replaces any adapters u.Store() held; it does not
// attach them (see Attach).
func NewLoRA(u *diffusion.UNet, rank int, alpha float64, seed uint64) (*LoRA, error) {
	if rank <= 0 {
		return nil, fmt.Errorf("rpo: LoRA rank %d, want > 0", rank)
	}
	if alpha == 0 {
		alpha = float64(rank)
	}
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("rpo: LoRA alpha %g, want a positive finite number (0 for alpha = rank)", alpha)
	}
	l, err := newLoRA(u, rank, alpha)
	if err != nil {
		return nil, err
	}
	for _, m := range l.modules {
		// B·A has rank at most min(in, out): a larger rank only adds parameters (and a rank from a
		// typo, memory: A alone is rank × in floats per module).
		if rank > min(m.in, m.out) {
			return nil, fmt.Errorf("rpo: LoRA rank %d exceeds the %d×%d projection %s: want a rank ≤ %d (the smallest adapted projection's)",
				rank, m.out, m.in, m.name, minDim(l.modules))
		}
	}
	r := rand.New(rand.NewPCG(seed, 0x4c6f5241)) // "LoRA"
	values := make(map[string]*tensors.Tensor, 2*len(l.modules))
	for _, m := range l.modules {
		a := make([]float32, rank*m.in)
		bound := nn.KaimingUniformBound(m.in)
		for i := range a {
			a[i] = float32((2*r.Float64() - 1) * bound)
		}
		values[m.aPath()] = tensors.FromFlatDataAndDimensions(a, rank, m.in)
		values[m.bPath()] = tensors.FromFlatDataAndDimensions(make([]float32, m.out*rank), m.out, rank)
	}
	if err := l.createVariables(values); err != nil {
		return nil, err
	}
	return l, nil
}

// newLoRA finds u's attention projections; the adapters' variables are not created yet.
func newLoRA(u *diffusion.UNet, rank int, alpha float64) (*LoRA, error) {
	if u == nil {
		return nil, errors.New("rpo: LoRA: nil U-Net")
	}
	l := &LoRA{unet: u, rank: rank, alpha: alpha, byName: map[string]*loraModule{}}
	for v := range u.Store().Scope(diffusion.UNetScope).IterVariables() {
		name := weights.UpstreamName(diffusion.UNetScope, v.Path())
		module, ok := strings.CutSuffix(name, ".weight")
		if !ok || !isLoRATarget(module) {
			continue
		}
		dims := v.Shape().Dimensions
		if len(dims) != 2 {
			return nil, fmt.Errorf("rpo: LoRA: %s has shape %v, want a Linear weight [out, in]", name, dims)
		}
		m := &loraModule{name: module, out: dims[0], in: dims[1]}
		l.modules = append(l.modules, m)
		l.byName[module] = m
	}
	if len(l.modules) == 0 {
		return nil, fmt.Errorf("rpo: LoRA: the U-Net has no attention projections (%s) under %s",
			strings.Join(LoRATargetModules, ", "), diffusion.UNetScope)
	}
	sort.Slice(l.modules, func(i, j int) bool { return l.modules[i].name < l.modules[j].name })
	return l, nil
}

// isLoRATarget reports whether the module path ends with one of LoRATargetModules (PEFT's
// suffix match).
func isLoRATarget(module string) bool {
	for _, t := range LoRATargetModules {
		if module == t || strings.HasSuffix(module, "."+t) {
			return true
		}
	}
	return false
}

// createVariables sets LoRAScope to exactly the given values: variables of the same path and
// shape keep their identity (graphs compiled over them read the new values), others are created
// or deleted. All are trainable.
func (l *LoRA) createVariables(values map[string]*tensors.Tensor) error {
	store := l.unet.Store()
	var stale []string
	for v := range store.Scope(LoRAScope).IterVariables() {
		if t, ok := values[v.Path()]; !ok || !t.Shape().Equal(v.Shape()) {
			stale = append(stale, v.Path())
		}
	}
	for _, p := range stale {
		if err := store.DeleteVariable(p); err != nil {
			return fmt.Errorf("rpo: LoRA: deleting %s: %w", p, err)
		}
	}
	paths := make([]string, 0, len(values))
	for p := range values {
		paths = append(paths, p)
	}
	sort.Strings(paths) // the Store lists variables in creation order
	for _, p := range paths {
		if v := store.GetVariable(p); v != nil {
			if err := v.SetValue(values[p]); err != nil {
				return fmt.Errorf("rpo: LoRA: setting %s: %w", p, err)
			}
			v.SetTrainable(true)
			continue
		}
		v, err := store.CreateVariable(p, values[p])
		if err != nil {
			return fmt.Errorf("rpo: LoRA: creating %s: %w", p, err)
		}
		v.SetTrainable(true)
	}
	return nil
}

// Rank is r, the inner dimension of the adapters.
func (l *LoRA) Rank() int { return l.rank }

// Alpha is α, the scaling numerator.
func (l *LoRA) Alpha() float64 { return l.alpha }

// Scale is α/r, the factor of the adapters' output.
func (l *LoRA) Scale() float64 { return l.alpha / float64(l.rank) }

// Modules returns the upstream paths of the adapted modules, sorted
// ("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k", ...).
func (l *LoRA) Modules() []string {
	names := make([]string, len(l.modules))
	for i, m := range l.modules {
		names[i] = m.name
	}
	return names
}

// Variables returns the adapters' variables (lora_A and lora_B of every module, in u.Store()),
// sorted by path.
func (l *LoRA) Variables() []*model.Variable {
	store := l.unet.Store()
	var vars []*model.Variable
	for _, m := range l.modules {
		for _, p := range []string{m.aPath(), m.bPath()} {
			if v := store.GetVariable(p); v != nil {
				vars = append(vars, v)
			}
		}
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
	return vars
}

// Linear returns the adapted projection, a diffusion.LinearFunc for diffusion.UNet.ForwardWith or
// SetAttentionLinear: W·x + b + (α/r)·B·(A·x), with W and b the "weight" and "bias" of the
// scope it is called with (the projection's own scope, under whichever U-Net scope the graph
// builds: "/unet", a frozen "/base" copy, ...) and A, B the adapters of the module whose upstream
// path that scope ends with, read from LoRAScope of the graph's Store. It computes in x's dtype
// (the adapters, float32, are converted as the base weights are) and the gradients reach A and B.
// Building a graph for a scope that is no adapted module, or after Merge, panics (graph building
// errors are panics).
func (l *LoRA) Linear() diffusion.LinearFunc {
	scale := l.Scale()
	return func(scope *model.Scope, x *Node, outDim int, bias bool) *Node {
		m := l.moduleOf(scope.Scope())
		if m == nil {
			exceptions.Panicf("rpo: LoRA: %s is not one of the %d adapted modules (%s of the U-Net's attentions)",
				scope.Scope(), len(l.modules), strings.Join(LoRATargetModules, ", "))
		}
		l.mu.Lock()
		merged := l.merged
		l.mu.Unlock()
		if merged {
			exceptions.Panicf("rpo: LoRA: the adapters were merged into the U-Net; building %s with them would apply them twice", m.name)
		}
		if in := x.Shape().Dim(-1); in != m.in || outDim != m.out {
			exceptions.Panicf("rpo: LoRA: %s: x %s to %d outputs, adapters are for %d → %d", m.name, x.Shape(), outDim, m.in, m.out)
		}
		store := scope.Store()
		a, b := store.GetVariable(m.aPath()), store.GetVariable(m.bPath())
		if a == nil || b == nil {
			exceptions.Panicf("rpo: LoRA: the graph's Store has no %s and %s (NewLoRA and LoadLoRA create them in the U-Net's Store)",
				m.aPath(), m.bPath())
		}
		g := x.Graph()
		y := nn.Linear(scope, x, outDim, bias)
		delta := nn.LinearWith(nn.LinearWith(x, a.NodeValue(g), nil), b.NodeValue(g), nil)
		return Add(y, MulScalar(delta, scale))
	}
}

// moduleOf returns the module whose upstream path the scope path ends with, or nil.
func (l *LoRA) moduleOf(scopePath string) *loraModule {
	parts := strings.Split(strings.Trim(scopePath, "/"), "/")
	for i := range parts {
		if m, ok := l.byName[strings.Join(parts[i:], ".")]; ok {
			return m
		}
	}
	return nil
}

// Attach installs the adapters as the U-Net's attention hook (SetAttentionLinear), so its
// Forward and Predict, and every diffusion.Pipeline over it, run the adapted model, and marks the
// U-Net's own variables (under diffusion.UNetScope) non-trainable, remembering their flags for
// Detach. Attaching twice is a no-op; attaching after Merge is an error.
func (l *LoRA) Attach() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.merged {
		return errors.New("rpo: LoRA: attaching adapters already merged into the U-Net would apply them twice")
	}
	if l.attached {
		return nil
	}
	l.frozen = map[string]bool{}
	for v := range l.unet.Store().Scope(diffusion.UNetScope).IterVariables() {
		l.frozen[v.Path()] = v.Trainable
		v.SetTrainable(false)
	}
	l.unet.SetAttentionLinear(l.Linear())
	l.attached = true
	return nil
}

// Detach removes the U-Net's attention hook (Forward and Predict run the base model again) and
// gives the U-Net's variables back the Trainable flags they had before Attach. The adapters stay
// in the Store. Detaching a LoRA that is not attached is a no-op.
func (l *LoRA) Detach() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.detachLocked()
}

func (l *LoRA) detachLocked() {
	if !l.attached {
		return
	}
	l.unet.SetAttentionLinear(nil)
	for v := range l.unet.Store().Scope(diffusion.UNetScope).IterVariables() {
		if trainable, ok := l.frozen[v.Path()]; ok {
			v.SetTrainable(trainable)
		}
	}
	l.frozen = nil
	l.attached = false
}

// Attached reports whether the adapters are the U-Net's attention hook.
func (l *LoRA) Attached() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attached
}

// Merge folds the adapters into the U-Net's weights, W ← W + (α/r)·B·A for every module
// (computed on the host in float64, stored as float32), then detaches: the plain U-Net now
// computes what the adapted one did, at the base model's cost, and Save on the U-Net writes the
// merged model in diffusers layout. The adapters stay in the Store (Save still writes them), but
// the LoRA can no longer be attached or merged. Nothing changes on error.
func (l *LoRA) Merge() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.merged {
		return errors.New("rpo: LoRA: already merged")
	}
	store := l.unet.Store()
	scale := l.Scale()
	merged := make(map[*model.Variable]*tensors.Tensor, len(l.modules))
	for _, m := range l.modules {
		wVar := store.GetVariable(m.path(diffusion.UNetScope) + "/weight")
		if wVar == nil {
			return fmt.Errorf("rpo: LoRA: merging: the U-Net has no %s.weight", m.name)
		}
		w, err := variableFloat32(wVar, m.out, m.in)
		if err != nil {
			return fmt.Errorf("rpo: LoRA: merging: %w", err)
		}
		a, err := variableFloat32(store.GetVariable(m.aPath()), l.rank, m.in)
		if err != nil {
			return fmt.Errorf("rpo: LoRA: merging: %w", err)
		}
		b, err := variableFloat32(store.GetVariable(m.bPath()), m.out, l.rank)
		if err != nil {
			return fmt.Errorf("rpo: LoRA: merging: %w", err)
		}
		row := make([]float64, m.in)
		for o := range m.out {
			clear(row)
			for k := range l.rank {
				bk := float64(b[o*l.rank+k])
				for i, av := range a[k*m.in : (k+1)*m.in] {
					row[i] += bk * float64(av)
				}
			}
			wo := w[o*m.in : (o+1)*m.in]
			for i := range wo {
				wo[i] = float32(float64(wo[i]) + scale*row[i])
			}
		}
		merged[wVar] = tensors.FromFlatDataAndDimensions(w, m.out, m.in)
	}
	for v, t := range merged {
		if err := v.SetValue(t); err != nil {
			return fmt.Errorf("rpo: LoRA: merging: setting %s: %w", v.Path(), err)
		}
	}
	l.detachLocked()
	l.merged = true
	return nil
}

// variableFloat32 copies a float32 variable of the given dimensions to the host.
func variableFloat32(v *model.Variable, dims ...int) ([]float32, error) {
	if v == nil {
		return nil, errors.New("missing variable")
	}
	if !slices.Equal(v.Shape().Dimensions, dims) {
		return nil, fmt.Errorf("%s has shape %v, want %v", v.Path(), v.Shape().Dimensions, dims)
	}
	t, err := v.Value()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.Path(), err)
	}
	data, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.Path(), err)
	}
	return data, nil
}

// minDim is the smallest input or output width among the adapted modules.
func minDim(modules []*loraModule) int {
	n := 0
	for i, m := range modules {
		if d := min(m.in, m.out); i == 0 || d < n {
			n = d
		}
	}
	return n
}
