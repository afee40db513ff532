package diffusion

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"

	"github.com/gorpo/gorpo/internal/hostexec"
	"github.com/gorpo/gorpo/internal/nn"
)

// VAEScope is the scope under which LoadVAE and NewVAE keep the VAE's variables in its Store
// ("/vae/encoder/conv_in/weight" is diffusers' "encoder.conv_in.weight").
const VAEScope = "/vae"

// AutoencoderKL is Stable Diffusion's VAE, diffusers' AutoencoderKL: an Encoder to the mean and
// log-variance of a diagonal Gaussian posterior over latents (latent_channels deep, each side
// 2^(len(block_out_channels)-1) times smaller: 8× for Stable Diffusion), and a Decoder back to
// images. Its weights live in a GoMLX Store under VAEScope.
//
// Graph side, ForwardEncode and ForwardDecode build the two halves under any scope, channels
// last. Host side, Encode, Sample and Decode take and return NCHW []float32 in diffusers' layout
// (images in [-1, 1]). It computes in float32 unless SetComputeDType chooses another dtype.
type AutoencoderKL struct {
	cfg     VAEConfig
	store   *model.Store
	backend compute.Backend
	// legacyAttention: the mid blocks' attention uses the names of checkpoints saved before
	// diffusers 0.14 (query, key, value, proj_attn), which diffusers converts on load and which
	// LoadVAE binds as they are.
	legacyAttention bool

	hostState                     // compute dtype; mu serialises Encode and Decode
	encode, decode *hostexec.Exec // their graphs
}

// Config returns the VAE's configuration.
func (v *AutoencoderKL) Config() VAEConfig { return v.cfg }

// Store returns the Store holding the VAE's variables under VAEScope.
func (v *AutoencoderKL) Store() *model.Store { return v.store }

// SetComputeDType sets the dtype ForwardEncode, ForwardDecode, Encode and Decode compute in:
// dtypes.Float32 (the default), dtypes.BFloat16 (or Float16) for mixed precision on XLA GPU
// backends, or Float64. As for UNet.SetComputeDType, the weights stay float32, the layers convert
// them as they read them, norms and softmax stay in float32, and the outputs come back in the
// input's dtype. (Stable Diffusion's VAE overflows in float16 at large image sizes; bfloat16 has
// float32's range.) Half precision is for XLA backends: the Go backend runs it slower than
// float32. Call it before building graphs; the compiled host graphs are dropped.
func (v *AutoencoderKL) SetComputeDType(dtype dtypes.DType) error {
	return v.setComputeDType("vae", dtype, v.encode, v.decode)
}

// ComputeDType returns the dtype the VAE computes in (see SetComputeDType).
func (v *AutoencoderKL) ComputeDType() dtypes.DType { return orFloat32(v.dtype) }

// ScalingFactor is config.json's scaling_factor: latents for the U-Net are posterior samples
// times it (and are divided by it before decoding).
func (v *AutoencoderKL) ScalingFactor() float64 { return v.cfg.ScalingFactor }

// ForwardEncode builds the encoder (and quant_conv) under scope.
//
//   - image: [batch, height, width, in_channels], channels last, values in [-1, 1].
//   - returns the posterior's mean and log-variance, each [batch, height/f, width/f,
//     latent_channels] with f = 2^(len(block_out_channels)-1), in image's dtype; the
//     log-variance is clamped to [-30, 20] as diffusers' DiagonalGaussianDistribution does.
//
// It computes in ComputeDType.
func (v *AutoencoderKL) ForwardEncode(scope *model.Scope, image *Node) (mean, logvar *Node) {
	scope = scope.ResetVisited()
	cfg := &v.cfg
	if image.Rank() != 4 || image.Shape().Dim(-1) != cfg.InChannels {
		exceptions.Panicf("diffusion.AutoencoderKL: image %s, want [batch, height, width, %d]", image.Shape(), cfg.InChannels)
	}
	outDType := image.DType()
	h := v.encoder(scope.In("encoder"), ConvertDType(image, v.ComputeDType()))
	l := cfg.LatentChannels
	if cfg.UseQuantConv {
		h = nn.Conv2D(scope.In("quant_conv"), h, 2*l).Done()
	}
	h = ConvertDType(h, outDType)
	mean = SliceAxis(h, -1, AxisRange(0, l))
	logvar = ClipScalar(SliceAxis(h, -1, AxisRange(l, 2*l)), -30, 20)
	return mean, logvar
}

// ForwardDecode builds post_quant_conv and the decoder under scope: latent [batch, h, w,
// latent_channels] (unscaled: divide the U-Net's latents by ScalingFactor first) to an image
// [batch, h·f, w·f, out_channels], channels last, nominally in [-1, 1], in latent's dtype. It
// computes in ComputeDType.
func (v *AutoencoderKL) ForwardDecode(scope *model.Scope, latent *Node) *Node {
	scope = scope.ResetVisited()
	cfg := &v.cfg
	if latent.Rank() != 4 || latent.Shape().Dim(-1) != cfg.LatentChannels {
		exceptions.Panicf("diffusion.AutoencoderKL: latent %s, want [batch, height, width, %d]", latent.Shape(), cfg.LatentChannels)
	}
	outDType := latent.DType()
	latent = ConvertDType(latent, v.ComputeDType())
	if cfg.UsePostQuantConv {
		latent = nn.Conv2D(scope.In("post_quant_conv"), latent, cfg.LatentChannels).Done()
	}
	return ConvertDType(v.decoder(scope.In("decoder"), latent), outDType)
}

// resnet is the VAE's ResnetBlock2D: no time embedding, eps 1e-6.
func (v *AutoencoderKL) resnet(out int) resnetBlock {
	return resnetBlock{outChannels: out, groups: v.cfg.NormNumGroups, eps: 1e-6, outScale: 1, act: diffusersActivation(v.cfg.ActFn)}
}

// encoder is diffusers' vae.Encoder with double_z: conv_in, down_blocks/<i> (DownEncoderBlock2D:
// resnets/<j>, then downsamplers/0/conv with the asymmetric padding on all but the last),
// mid_block, conv_norm_out, SiLU, conv_out to 2·latent_channels.
func (v *AutoencoderKL) encoder(scope *model.Scope, x *Node) *Node {
	cfg := &v.cfg
	boc := cfg.BlockOutChannels
	h := nn.Conv2D(scope.In("conv_in"), x, boc[0]).Kernel(3).Padding(1).Done()
	downs := scope.In("down_blocks")
	for i, ch := range boc {
		block := downs.In("%d", i)
		resnets := block.In("resnets")
		for j := range cfg.LayersPerBlock {
			h = v.resnet(ch).apply(resnets.In("%d", j), h, nil)
		}
		if i < len(boc)-1 {
			h = downsample2D(block.In("downsamplers").In("0"), h, 0)
		}
	}
	h = v.midBlock(scope.In("mid_block"), h)
	h = nn.SiLU(nn.GroupNorm(scope.In("conv_norm_out"), h, cfg.NormNumGroups, 1e-6))
	return nn.Conv2D(scope.In("conv_out"), h, 2*cfg.LatentChannels).Kernel(3).Padding(1).Done()
}

// decoder is diffusers' vae.Decoder: conv_in, mid_block, up_blocks/<i> (UpDecoderBlock2D over
// the reversed block_out_channels: layers_per_block+1 resnets, then upsamplers/0 on all but the
// last), conv_norm_out, SiLU, conv_out.
func (v *AutoencoderKL) decoder(scope *model.Scope, z *Node) *Node {
	cfg := &v.cfg
	boc := cfg.BlockOutChannels
	n := len(boc)
	h := nn.Conv2D(scope.In("conv_in"), z, boc[n-1]).Kernel(3).Padding(1).Done()
	h = v.midBlock(scope.In("mid_block"), h)
	ups := scope.In("up_blocks")
	for i := range n {
		block := ups.In("%d", i)
		resnets := block.In("resnets")
		for j := range cfg.LayersPerBlock + 1 {
			h = v.resnet(boc[n-1-i]).apply(resnets.In("%d", j), h, nil)
		}
		if i < n-1 {
			d := h.Shape().Dimensions
			h = upsample2D(block.In("upsamplers").In("0"), h, 2*d[1], 2*d[2])
		}
	}
	h = nn.SiLU(nn.GroupNorm(scope.In("conv_norm_out"), h, cfg.NormNumGroups, 1e-6))
	return nn.Conv2D(scope.In("conv_out"), h, cfg.OutChannels).Kernel(3).Padding(1).Done()
}

// midBlock is diffusers' UNetMidBlock2D as the VAE uses it: resnets/0, attentions/0 (unless
// mid_block_add_attention is false), resnets/1.
func (v *AutoencoderKL) midBlock(scope *model.Scope, h *Node) *Node {
	c := h.Shape().Dim(-1)
	resnets := scope.In("resnets")
	h = v.resnet(c).apply(resnets.In("0"), h, nil)
	if v.cfg.MidBlockAddAttention {
		h = v.attention(scope.In("attentions").In("0"), h)
	}
	return v.resnet(c).apply(resnets.In("1"), h, nil)
}

// attention is the VAE's single-head spatial self-attention with a residual connection
// (diffusers' Attention built with _from_deprecated_attn_block): group_norm (eps 1e-6), then
// to_q, to_k, to_v and to_out/0, all Linear C→C with bias, over the height·width positions.
func (v *AutoencoderKL) attention(scope *model.Scope, x *Node) *Node {
	d := x.Shape().Dimensions
	b, l, c := d[0], d[1]*d[2], d[3]
	h := Reshape(nn.GroupNorm(scope.In("group_norm"), x, v.cfg.NormNumGroups, 1e-6), b, l, c)
	names := [4]string{"to_q", "to_k", "to_v", "to_out"}
	if v.legacyAttention {
		names = [4]string{"query", "key", "value", "proj_attn"}
	}
	project := func(name string) *Node {
		return Reshape(nn.Linear(scope.In("%s", name), h, c, true), b, l, 1, c)
	}
	out := Reshape(nn.ScaledDotProductAttention(project(names[0]), project(names[1]), project(names[2]), nil, 0), b, l, c)
	outScope := scope.In("%s", names[3])
	if !v.legacyAttention {
		outScope = outScope.In("0")
	}
	out = nn.Linear(outScope, out, c, true)
	return Add(Reshape(out, d...), x)
}
