package diffusion

import (
	"sync"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"

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
type UNet struct {
	cfg     UNetConfig
	plan    *unetPlan
	store   *model.Store
	backend compute.Backend

	mu      sync.Mutex
	predict *model.Exec
}

// Config returns the U-Net's configuration.
func (u *UNet) Config() UNetConfig { return u.cfg }

// Store returns the Store holding the U-Net's variables under UNetScope.
func (u *UNet) Store() *model.Store { return u.store }

// Forward builds the U-Net under scope (whose variables are created with PyTorch's default
// initialisation where the Store lacks them) and returns the predicted noise.
//
//   - sample: [batch, height, width, in_channels], channels last (float32).
//   - timesteps: [batch], a scalar, or [1] for all (any int or float dtype; fractional values
//     are fine).
//   - context: [batch, Lk, cross_attention_dim], the text encoder's hidden states.
//   - returns [batch, height', width', out_channels] (height' = height for the usual odd
//     conv_out_kernel).
//
// Forward only reads the configuration, so one UNet can build several copies under different
// scopes; it may also be called several times with the same scope in one graph (the copies
// share their weights). Shape errors panic, as everywhere in graph building.
func (u *UNet) Forward(scope *model.Scope, sample, timesteps, context *Node) *Node {
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
	if cfg.CenterInputSample {
		sample = AddScalar(MulScalar(sample, 2), -1)
	}
	context = ConvertDType(context, sample.DType())
	blocks := unetBlocks{cfg: cfg, plan: plan, temb: u.timeEmbedding(scope.In("time_embedding"), timesteps, sample), context: context}

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
	h = diffusersActivation(cfg.ActFn)(nn.GroupNorm(scope.In("conv_norm_out"), h, plan.groups, cfg.NormEps))
	k = cfg.ConvOutKernel
	return nn.Conv2D(scope.In("conv_out"), h, cfg.OutChannels).Kernel(k).Padding((k - 1) / 2).Done()
}

// timeEmbedding is Timesteps (the sinusoidal projection, block_out_channels[0] wide) followed by
// TimestepEmbedding: linear_1, act_fn, linear_2 (and timestep_post_act, time_embedding_act_fn
// when set). Returns [batch, time_embed_dim] in sample's dtype.
func (u *UNet) timeEmbedding(scope *model.Scope, timesteps, sample *Node) *Node {
	cfg, plan := &u.cfg, u.plan
	t := nn.SinusoidalTimestepEmbedding(timesteps, plan.timeProjDim, cfg.FlipSinToCos, cfg.FreqShift, 1, 10000)
	t = ConvertDType(t, sample.DType())
	emb := diffusersActivation(cfg.ActFn)(nn.Linear(scope.In("linear_1"), t, plan.timeEmbedDim, true))
	emb = nn.Linear(scope.In("linear_2"), emb, plan.timeEmbedDim, true)
	if cfg.TimestepPostAct != nil {
		emb = diffusersActivation(*cfg.TimestepPostAct)(emb)
	}
	if cfg.TimeEmbeddingActFn != nil {
		emb = diffusersActivation(*cfg.TimeEmbeddingActFn)(emb)
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
