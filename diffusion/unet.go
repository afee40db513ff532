package diffusion

import (
	"sync/atomic"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"

	"github.com/gorpo/gorpo/internal/hostexec"
	"github.com/gorpo/gorpo/internal/nn"
)

// UNetScope is the scope under which LoadUNet and NewUNet keep the U-Net's variables in its
// Store: "/unet/down_blocks/0/attentions/0/transformer_blocks/0/attn1/to_q/weight" is diffusers'
// "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight".
const UNetScope = "/unet"

// UNet is Stable Diffusion's ε-prediction U-Net, diffusers' UNet2DConditionModel (SD 1.x and
// 2.x variants; see UNetConfig), with its weights in a GoMLX Store under UNetScope.
//
// Graph side, Forward builds the network under any scope of any Store, so a trainer can run
// the trained U-Net and a frozen copy of it (CopyTo) in one graph. Host side, Predict takes and
// returns NCHW []float32 as diffusers does, compiling once per input shape. A training graph
// over the U-Net's own Store looks like:
//
//	u.CopyTo(u.Store(), "/base", false) // frozen ε_base beside the trained ε_θ
//	exec, _ := model.NewExec(backend, u.Store(), func(scope *model.Scope, x, t, c, eps *Node) *Node {
//		pred := u.Forward(scope.In("unet"), x, t, c)  // trainable, under UNetScope
//		base := u.Forward(scope.In("base"), x, t, c)  // not trainable
//		loss := ... // from pred, base and eps
//		opt.UpdateGraph(scope, x.Graph(), loss)
//		return loss
//	})
//
// ForwardWith builds the attention projections with a caller's function (LoRA adapters), and
// SetAttentionLinear makes such a function the U-Net's own, for Forward, Predict and Pipeline.
//
// It computes in float32 unless SetComputeDType chooses another dtype (bfloat16 on GPUs).
type UNet struct {
	cfg     UNetConfig
	plan    *unetPlan
	store   *model.Store
	backend compute.Backend

	hostState                // compute dtype; mu serialises Predict
	predict   *hostexec.Exec // Predict's graph

	attnLinear atomic.Pointer[LinearFunc] // SetAttentionLinear's hook; nil: Linear
	checkpoint atomic.Bool                // SetGradientCheckpointing
}

// Config returns the U-Net's configuration.
func (u *UNet) Config() UNetConfig { return u.cfg }

// Store returns the Store holding the U-Net's variables under UNetScope.
func (u *UNet) Store() *model.Store { return u.store }

// SetComputeDType sets the dtype Forward and Predict compute in: dtypes.Float32 (the default),
// dtypes.BFloat16 (or Float16) for mixed precision on XLA GPU backends, or Float64.
//
// The weights stay as they are (float32 master weights, loaded and saved as float32): every
// layer converts the weights it reads to the compute dtype, and gradients reach the float32
// variables through the conversion as float32, so training under BFloat16 needs no other
// change. Group and layer norms, attention scores and softmax, and the sinusoidal timestep
// projection stay in float32 internally. Forward converts its inputs to the compute dtype and
// its output back to the sample's dtype. On the fixture U-Nets (parity/unet_sd1, unet_sd2) the
// bfloat16 output differs from the float32 one by 2.5% and 1.2% (max |a−b| / max |b|; float16:
// 0.3%), and the float32 gradients by 1.4%.
//
// Half precision is meant for XLA backends on GPUs: GoMLX's Go backend runs it correctly but
// slower than float32 (the unet_sd1 fixture at batch 8 on 2 CPU cores with GOEXPERIMENT=simd:
// forward 0.57 s in float32 against 0.65 s in bfloat16, forward+backward 0.97 s against 1.46 s).
// Call it before building graphs; Predict's compiled graph is dropped.
func (u *UNet) SetComputeDType(dtype dtypes.DType) error {
	return u.setComputeDType("unet", dtype, u.predict)
}

// SetAttentionLinear installs fn as the function that builds the attention projections (to_q,
// to_k, to_v, to_out.0) in Forward and Predict, so that code which knows nothing of adapters
// (Pipeline) runs the U-Net with them; nil restores Linear. See ForwardWith for what fn
// receives. Predict's compiled graph is dropped; graphs already built keep the function they
// were built with. Install it between graph builds, not during one.
func (u *UNet) SetAttentionLinear(fn LinearFunc) {
	u.mu.Lock()
	defer u.mu.Unlock()
	dropExecs(u.predict)
	if fn == nil {
		u.attnLinear.Store(nil)
	} else {
		u.attnLinear.Store(&fn)
	}
}

// AttentionLinear returns the function that builds the attention projections in Forward and
// Predict: the one SetAttentionLinear installed, or Linear.
func (u *UNet) AttentionLinear() LinearFunc {
	if fn := u.attnLinear.Load(); fn != nil {
		return *fn
	}
	return Linear
}

// SetGradientCheckpointing turns gradient checkpointing on or off for the graphs Forward builds
// afterwards (diffusers' enable_gradient_checkpointing and disable_gradient_checkpointing; off
// by default). On, every ResNet, attention (Transformer2D) and resampling block of the
// down, mid and up blocks, and the output layers, keep none of their activations for the
// backward pass: the backward pass recomputes each block from its inputs when the gradient
// reaches it (nn.Checkpoint). Training then holds about the blocks' inputs and outputs instead
// of every activation, for about one more forward pass of compute; the values and gradients
// are the same (TestUNetGradientCheckpointing). Graphs without a gradient pass only pay a few
// scalar operations.
func (u *UNet) SetGradientCheckpointing(on bool) { u.checkpoint.Store(on) }

// GradientCheckpointing reports whether Forward builds checkpointed blocks (diffusers'
// is_gradient_checkpointing).
func (u *UNet) GradientCheckpointing() bool { return u.checkpoint.Load() }

// ComputeDType returns the dtype the U-Net computes in (see SetComputeDType).
func (u *UNet) ComputeDType() dtypes.DType { return orFloat32(u.dtype) }

// Forward builds the U-Net under scope (whose variables are created with PyTorch's default
// initialisation where the Store lacks them) and returns the predicted noise.
//
//   - sample: [batch, height, width, in_channels], channels last (float32).
//   - timesteps: [batch], a scalar, or [1] for all (any int or float dtype; fractional values
//     are fine).
//   - context: [batch, Lk, cross_attention_dim], the text encoder's hidden states.
//   - returns [batch, height', width', out_channels] (height' = height for the usual odd
//     conv_out_kernel), in sample's dtype.
//
// It computes in ComputeDType (float32 unless SetComputeDType chose another): sample and context
// are converted to it on the way in, the output back to sample's dtype on the way out.
//
// Forward only reads the configuration, so one UNet can build several copies under different
// scopes; it may also be called several times with the same scope in one graph (the copies
// share their weights). Shape errors panic, as everywhere in graph building.
//
// The attention projections go through the hook SetAttentionLinear installed, if any: Forward is
// ForwardWith(scope, sample, timesteps, context, nil).
func (u *UNet) Forward(scope *model.Scope, sample, timesteps, context *Node) *Node {
	return u.ForwardWith(scope, sample, timesteps, context, nil)
}

// ForwardWith is Forward with the four projections of every attention (to_q, to_k, to_v and
// to_out.0 of attn1 and attn2 in each transformer block) built by attnLinear instead of
// Linear: the way LoRA adapters enter the graph. attnLinear is called with the projection's
// own scope, whose path ends with the projection's upstream module path
// ("<scope>/down_blocks/0/attentions/0/transformer_blocks/0/attn1/to_q" is diffusers'
// "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"), so it reads the base "weight"
// (and "bias") there and knows which module it replaces. attnLinear nil means the hook
// SetAttentionLinear installed, or Linear when there is none; pass Linear itself for the
// plain U-Net while a hook is installed (the frozen base beside an adapted one).
func (u *UNet) ForwardWith(scope *model.Scope, sample, timesteps, context *Node, attnLinear LinearFunc) *Node {
	if attnLinear == nil {
		attnLinear = u.AttentionLinear()
	}
	scope = scope.ResetVisited()
	cfg, plan := &u.cfg, u.plan
	if sample.Rank() != 4 || sample.Shape().Dim(-1) != cfg.InChannels {
		exceptions.Panicf("diffusion.UNet: sample %s, want [batch, height, width, %d]", sample.Shape(), cfg.InChannels)
	}
	batch := sample.Shape().Dim(0)
	if context.Rank() != 3 || context.Shape().Dim(0) != batch || context.Shape().Dim(2) != plan.crossDim {
		exceptions.Panicf("diffusion.UNet: context %s, want [%d, Lk, %d]", context.Shape(), batch, plan.crossDim)
	}
	timesteps = broadcastTimesteps(timesteps, batch)
	outDType, dtype := sample.DType(), u.ComputeDType()
	sample, context = ConvertDType(sample, dtype), ConvertDType(context, dtype)
	if cfg.CenterInputSample {
		sample = AddScalar(MulScalar(sample, 2), -1)
	}
	temb := u.timeEmbedding(scope.In("time_embedding"), timesteps, sample)
	if plan.textTimeHeads > 0 {
		temb = Add(temb, textTimeEmbedding(scope.In("add_embedding"), context, plan.textTimeHeads, plan.timeEmbedDim))
	}
	if cfg.TimeEmbeddingActFn != nil {
		temb = diffusersActivation(*cfg.TimeEmbeddingActFn)(temb)
	}
	blocks := unetBlocks{cfg: cfg, plan: plan, temb: temb, context: context, attnLinear: nn.LinearFunc(attnLinear),
		checkpoint: u.GradientCheckpointing()}

	k := cfg.ConvInKernel
	h := nn.Conv2D(scope.In("conv_in"), sample, cfg.BlockOutChannels[0]).Kernel(k).Padding((k - 1) / 2).Done()
	skips := []*Node{h}
	downs := scope.In("down_blocks")
	for i, b := range plan.down {
		var s []*Node
		h, s = blocks.down(downs.In("%d", i), b, h)
		skips = append(skips, s...)
	}
	if plan.mid != nil {
		h = blocks.mid(scope.In("mid_block"), *plan.mid, h)
	}
	ups := scope.In("up_blocks")
	for i, b := range plan.up {
		h, skips = blocks.up(ups.In("%d", i), b, h, skips)
	}
	out := blocks.run(scope, func(scope *model.Scope, in []*Node) *Node {
		h := diffusersActivation(cfg.ActFn)(nn.GroupNorm(scope.In("conv_norm_out"), in[0], plan.groups, cfg.NormEps))
		k := cfg.ConvOutKernel
		return nn.Conv2D(scope.In("conv_out"), h, cfg.OutChannels).Kernel(k).Padding((k - 1) / 2).Done()
	}, h)
	return ConvertDType(out, outDType)
}

// timeEmbedding is Timesteps (the sinusoidal projection, block_out_channels[0] wide) followed by
// TimestepEmbedding: linear_1, act_fn, linear_2 (and timestep_post_act when set; Forward applies
// time_embedding_act_fn after adding the text embedding, as diffusers' forward does). The
// sinusoidal projection is computed in float32 and converted to sample's dtype (the compute
// dtype); returns [batch, time_embed_dim] in it.
func (u *UNet) timeEmbedding(scope *model.Scope, timesteps, sample *Node) *Node {
	cfg, plan := &u.cfg, u.plan
	t := nn.SinusoidalTimestepEmbedding(timesteps, plan.timeProjDim, cfg.FlipSinToCos, cfg.FreqShift, 1, 10000)
	t = ConvertDType(t, sample.DType())
	emb := diffusersActivation(cfg.ActFn)(nn.Linear(scope.In("linear_1"), t, plan.timeEmbedDim, true))
	emb = nn.Linear(scope.In("linear_2"), emb, plan.timeEmbedDim, true)
	if cfg.TimestepPostAct != nil {
		emb = diffusersActivation(*cfg.TimestepPostAct)(emb)
	}
	return emb
}

// broadcastTimesteps turns a scalar, [1] or [batch] timesteps node into [batch].
func broadcastTimesteps(t *Node, batch int) *Node {
	switch {
	case t.Rank() == 0:
		t = Reshape(t, 1)
	case t.Rank() != 1:
		exceptions.Panicf("diffusion.UNet: timesteps %s, want [%d], [1] or a scalar", t.Shape(), batch)
	}
	switch t.Shape().Dim(0) {
	case batch:
		return t
	case 1:
		return BroadcastToDims(t, batch)
	}
	exceptions.Panicf("diffusion.UNet: timesteps %s, want [%d], [1] or a scalar", t.Shape(), batch)
	return nil
}
