package rpo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/hostexec"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
	"github.com/gorpo/gorpo/schedule"
)

// BaseUNetScope is where a full fine-tune keeps the frozen copy of the starting U-Net in the
// U-Net's Store, for ε_base (a LoRA fine-tune needs no copy: the base model is the U-Net without
// its adapters).
const BaseUNetScope = "/base_unet"

// trainedModel is what a run fine-tunes: the whole U-Net (under diffusion.UNetScope of its own
// Store, trained in place) or LoRA adapters on it.
type trainedModel struct {
	unet *diffusion.UNet
	lora *LoRA // nil: the whole U-Net
}

// trainScope is the scope whose trainable variables AdamW updates.
func (m *trainedModel) trainScope() string {
	if m.lora != nil {
		return LoRAScope
	}
	return diffusion.UNetScope
}

// forward builds ε_θ: the trained model on x [batch, H, W, C]. A full fine-tune builds the U-Net
// as its Predict does (with whatever attention hook it has, normally none), so that training and
// validation run the same model.
func (m *trainedModel) forward(store *model.Store, x, t, c *Node) *Node {
	if m.lora != nil {
		return m.unet.ForwardWith(store.Scope(diffusion.UNetScope), x, t, c, m.lora.Linear())
	}
	return m.unet.Forward(store.Scope(diffusion.UNetScope), x, t, c)
}

// forwardBase builds ε_base: the frozen starting model on the same inputs (for LoRA, the U-Net
// without its adapters).
func (m *trainedModel) forwardBase(store *model.Store, x, t, c *Node) *Node {
	if m.lora != nil {
		return StopGradient(m.unet.ForwardWith(store.Scope(diffusion.UNetScope), x, t, c, diffusion.Linear))
	}
	return StopGradient(m.unet.Forward(store.Scope(BaseUNetScope), x, t, c))
}

// release drops what only training needed from the U-Net's Store: the frozen copy and AdamW's
// state (for Stable Diffusion three times the U-Net's size).
func (m *trainedModel) release() {
	store := m.unet.Store()
	_ = store.DeleteVariablesInScope(BaseUNetScope)
	_ = store.DeleteVariablesInScope(DefaultOptimizerScope)
}

// copyBase makes the frozen copy a full fine-tune compares with (a no-op for LoRA), stored in
// the precision the step computes in: under bf16 or fp16 the layers would round float32 weights
// to it as they read them, so a copy stored rounded gives the same ε_base in half the memory
// (1.7 GB less for Stable Diffusion 1.5).
func (m *trainedModel) copyBase(p Precision) error {
	if m.lora != nil {
		return nil
	}
	dtype, err := p.DType()
	if err != nil {
		return fmt.Errorf("rpo: copying the base U-Net: %w", err)
	}
	if err := m.unet.CopyFrozenAs(m.unet.Store(), BaseUNetScope, dtype); err != nil {
		return fmt.Errorf("rpo: copying the base U-Net: %w", err)
	}
	return nil
}

// save writes the trained weights into a checkpoint folder: unet/ in diffusers layout, or the
// LoRA adapter file.
func (m *trainedModel) save(dir string) error {
	if m.lora != nil {
		return m.lora.Save(dir) // dir/pytorch_lora_weights.safetensors (CheckpointLoRAFile)
	}
	return m.unet.Save(filepath.Join(dir, CheckpointUNetDir))
}

// load sets the trained weights from a checkpoint folder written by save. For LoRA it replaces the
// adapters (graphs built before read stale variables: build them after).
func (m *trainedModel) load(dir string) error {
	if m.lora != nil {
		attached := m.lora.Attached()
		m.lora.Detach()
		l, err := LoadLoRA(m.unet, dir)
		if err != nil {
			return err
		}
		m.lora = l
		if attached {
			return l.Attach()
		}
		return nil
	}
	path := filepath.Join(dir, CheckpointUNetDir, "diffusion_pytorch_model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("rpo: loading the U-Net: %w", err)
	}
	defer f.Close() // Bind copies the tensors
	if err := weights.Bind(m.unet.Store(), diffusion.UNetScope, f, weights.BindOptions{}); err != nil {
		return fmt.Errorf("rpo: loading the U-Net from %s: %w", path, err)
	}
	return nil
}

// weightsPath is the trained weights' file or folder inside a checkpoint folder.
func (m *trainedModel) weightsPath(dir string) string {
	if m.lora != nil {
		return filepath.Join(dir, CheckpointLoRAFile)
	}
	return filepath.Join(dir, CheckpointUNetDir)
}

// hasWeights reports whether a checkpoint folder holds this model's kind of weights.
func (m *trainedModel) hasWeights(dir string) bool {
	_, err := os.Stat(m.weightsPath(dir))
	return err == nil
}

// stepper is the training step: one hostexec.Exec over the U-Net's Store, compiled once (every
// step has the same shapes).
//
// Inputs, all drawn on the host (see trainData.makeBatch): x0 and noise [N, C, H, W], timesteps
// [N] int32, the prompt embeddings [N, tokens, width], and for RPO the labels [B]; N = 2B (the
// references, then the generated or class images) or B for L_sim. The graph noises x0 with the
// schedule's ᾱ, runs ε_θ (and for RPO ε_base) on all N in one batch, forms the target (ε or v),
// the objective's loss, and the AdamW update of the trained variables only. Outputs: the named
// loss terms, the gradient norm before clipping and the learning rate.
//
// Both U-Net forwards compute in the U-Net's compute dtype, which the run sets from
// Config.Precision (useUNetPrecision) before the graph is built; everything after them is float32.
// Under float16 the trained forward's backward pass is loss-scaled (scaledBackward).
type stepper struct {
	exec       *hostexec.Exec
	names      []string
	withOthers bool
	withLabels bool
}

// stepResult is what one step reports.
type stepResult struct {
	losses       Losses
	gradNorm, lr float64
}

func newStepper(cfg Config, m *trainedModel, sched *schedule.Schedule, prediction string) (*stepper, error) {
	// The step runs where the U-Net's weights live: the backend its pipeline was loaded on
	// (diffusion.WithBackend, else the default one).
	b := m.unet.Backend()
	s := &stepper{withOthers: cfg.Objective.Preference() || cfg.Objective.ClassImages(), withLabels: cfg.Objective.Preference()}
	batch := cfg.BatchSize
	opt := NewAdamW(cfg)
	dtype, err := cfg.Precision.DType()
	if err != nil {
		return nil, fmt.Errorf("rpo: training step: Config.Precision %q: %w", cfg.Precision, err)
	}
	s.exec = hostexec.New(b, m.unet.Store(), "rpo: training step", func(scope *model.Scope, in []*Node) []*Node {
		g := in[0].Graph()
		store := scope.Store()
		x0 := TransposeAllAxes(in[0], 0, 2, 3, 1) // NCHW → NHWC, the U-Net's layout
		noise := TransposeAllAxes(in[1], 0, 2, 3, 1)
		t, ctx := in[2], in[3]
		alphas := schedule.AlphasCumprodConst(g, sched)
		xt := schedule.AddNoiseGraph(alphas, x0, noise, t)
		var pred *Node
		if dtype == dtypes.Float16 {
			pred = scaledBackward(store.Scope(m.trainScope()), xt, func() *Node { return m.forward(store, xt, t, ctx) })
		} else {
			pred = m.forward(store, xt, t, ctx)
		}
		target := Target(prediction, alphas, x0, noise, t)
		var p PairPredictions
		var labels *Node
		if s.withOthers {
			first := func(x *Node) *Node { return Slice(x, AxisRange(0, batch)) }
			second := func(x *Node) *Node { return Slice(x, AxisRange(batch, 2*batch)) }
			p.Ref, p.Gen, p.TargetRef, p.TargetGen = first(pred), second(pred), first(target), second(target)
			if cfg.Objective.Preference() {
				base := m.forwardBase(store, xt, t, ctx)
				p.BaseRef, p.BaseGen = first(base), second(base)
				labels = in[4]
			}
		} else {
			p.Ref, p.TargetRef = pred, target
		}
		losses := ObjectiveLoss(cfg, p, labels)
		stats := opt.Update(store.Scope(m.trainScope()), losses.Total)
		names, nodes := losses.Named()
		s.names = names
		// hostexec appends the trailing output the Go backend (compute v0.1.2) needs when a
		// variable is first read after the last output, and drops it (see internal/hostexec).
		return append(nodes, stats.GradNorm, stats.LearningRate)
	})
	return s, nil
}

// run takes one optimiser step on the batch; shape is one input's [C, H, W] and embShape one
// prompt embedding's [tokens, width].
func (s *stepper) run(in *batch, shape [3]int, embShape [2]int) (res stepResult, err error) {
	n := len(in.t)
	args := []any{
		tensors.FromFlatDataAndDimensions(in.x0, n, shape[0], shape[1], shape[2]),
		tensors.FromFlatDataAndDimensions(in.noise, n, shape[0], shape[1], shape[2]),
		tensors.FromFlatDataAndDimensions(in.t, n),
		tensors.FromFlatDataAndDimensions(in.ctx, n, embShape[0], embShape[1]),
	}
	if s.withLabels {
		args = append(args, tensors.FromFlatDataAndDimensions(in.labels, len(in.labels)))
	}
	outs, err := s.exec.Call(args...)
	if err != nil {
		return res, err
	}
	defer func() {
		for _, o := range outs {
			o.FinalizeAll()
		}
	}()
	if len(outs) != len(s.names)+2 {
		return res, fmt.Errorf("rpo: training step: %d outputs, want %d", len(outs), len(s.names)+2)
	}
	scalar := func(t *tensors.Tensor) (float64, error) {
		v, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return 0, err
		}
		if len(v) != 1 {
			return 0, errors.New("not a scalar")
		}
		return float64(v[0]), nil
	}
	values := make([]float64, len(s.names))
	for i := range s.names {
		if values[i], err = scalar(outs[i]); err != nil {
			return res, fmt.Errorf("rpo: training step: %s: %w", s.names[i], err)
		}
	}
	if res.losses, err = NewLosses(s.names, values); err != nil {
		return res, err
	}
	if res.gradNorm, err = scalar(outs[len(s.names)]); err != nil {
		return res, fmt.Errorf("rpo: training step: gradient norm: %w", err)
	}
	if res.lr, err = scalar(outs[len(s.names)+1]); err != nil {
		return res, fmt.Errorf("rpo: training step: learning rate: %w", err)
	}
	return res, nil
}

// finalize frees the compiled graph.
func (s *stepper) finalize() { s.exec.Finalize() }
