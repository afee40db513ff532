package diffusion

import "fmt"

// Limits on the config.json values that size memory or loops. They sit far above every published
// Stable Diffusion model (SD 2.x: sample_size 96, channels up to 1280, 2 layers per block, 20
// heads; SDXL: sample_size 128, 10 transformer layers, cross_attention_dim 2048) and far below
// what would exhaust memory before the weights are even read, so that a corrupt or hostile
// config.json is refused at load with the file and field named (issue 12: sample_size 1e9 used
// to become a 2e9×2e9 default image and a fatal out-of-memory).
const (
	// MaxSampleSize bounds a U-Net's sample_size, latent pixels per side: the default image is
	// that times the VAE's scale factor (8192 pixels a side for SD's 8), already 800 MB as float32.
	MaxSampleSize = 1024
	// MaxVAESampleSize bounds a VAE's sample_size, image pixels per side.
	MaxVAESampleSize = 8192
	// MaxChannels bounds channel counts and widths: in/out/latent channels, block_out_channels,
	// cross_attention_dim, embedding widths, norm_num_groups.
	MaxChannels = 1 << 16
	// MaxBlocks bounds the number of down (and up) blocks; each halves the resolution.
	MaxBlocks = 16
	// MaxLayers bounds layers_per_block and transformer_layers_per_block.
	MaxLayers = 64
	// MaxHeads bounds attention_head_dim and num_attention_heads.
	MaxHeads = 1 << 12
	// MaxKernel bounds conv_in_kernel and conv_out_kernel.
	MaxKernel = 31
	// MaxClassEmbeds bounds num_class_embeds (the rows of a class-embedding table).
	MaxClassEmbeds = 1 << 20
)

// limitCheck collects the first out-of-range value.
type limitCheck struct{ err error }

func (l *limitCheck) int(field string, v, lo, hi int) {
	if l.err == nil && (v < lo || v > hi) {
		l.err = invalidConfig(field, v, fmt.Sprintf("want %d to %d", lo, hi))
	}
}

func (l *limitCheck) optional(field string, v *int, lo, hi int) {
	if v != nil {
		l.int(field, *v, lo, hi)
	}
}

func (l *limitCheck) list(field string, x IntOrList, lo, hi int) {
	if x.List == nil {
		l.int(field, x.Value, lo, hi)
		return
	}
	if len(x.List) > MaxBlocks*MaxLayers {
		l.int(field+" (entries)", len(x.List), 0, MaxBlocks*MaxLayers)
	}
	for _, v := range x.List {
		l.int(field, v, lo, hi)
	}
}

// checkLimits bounds every U-Net value that sizes memory or loops (see MaxSampleSize, ...).
func (c *UNetConfig) checkLimits() error {
	var l limitCheck
	if c.SampleSize != nil {
		l.list("sample_size", *c.SampleSize, 1, MaxSampleSize)
	}
	l.int("in_channels", c.InChannels, 1, MaxChannels)
	l.int("out_channels", c.OutChannels, 1, MaxChannels)
	l.int("block_out_channels (entries)", len(c.BlockOutChannels), 1, MaxBlocks)
	l.int("down_block_types (entries)", len(c.DownBlockTypes), 0, MaxBlocks)
	l.int("up_block_types (entries)", len(c.UpBlockTypes), 0, MaxBlocks)
	for _, ch := range c.BlockOutChannels {
		l.int("block_out_channels", ch, 1, MaxChannels)
	}
	l.list("layers_per_block", c.LayersPerBlock, 1, MaxLayers)
	l.list("cross_attention_dim", c.CrossAttentionDim, 1, MaxChannels)
	l.list("attention_head_dim", c.AttentionHeadDim, 1, MaxHeads)
	if c.NumAttentionHeads != nil {
		l.list("num_attention_heads", *c.NumAttentionHeads, 1, MaxHeads)
	}
	for _, layers := range []*NestedInts{&c.TransformerLayersPerBlock, c.ReverseTransformerLayersPerBlock} {
		if layers == nil {
			continue
		}
		if layers.List == nil {
			l.int("transformer_layers_per_block", layers.Value, 1, MaxLayers)
		}
		if len(layers.List) > MaxBlocks {
			l.int("transformer_layers_per_block (entries)", len(layers.List), 0, MaxBlocks)
		}
		for _, x := range layers.List {
			l.list("transformer_layers_per_block", x, 1, MaxLayers)
		}
	}
	l.optional("norm_num_groups", c.NormNumGroups, 1, MaxChannels)
	l.optional("encoder_hid_dim", c.EncoderHidDim, 1, MaxChannels)
	l.optional("addition_time_embed_dim", c.AdditionTimeEmbedDim, 1, MaxChannels)
	l.optional("num_class_embeds", c.NumClassEmbeds, 1, MaxClassEmbeds)
	l.optional("time_embedding_dim", c.TimeEmbeddingDim, 1, MaxChannels)
	l.optional("time_cond_proj_dim", c.TimeCondProjDim, 1, MaxChannels)
	l.optional("projection_class_embeddings_input_dim", c.ProjectionClassEmbeddingsInputDim, 1, MaxChannels)
	l.int("conv_in_kernel", c.ConvInKernel, 1, MaxKernel)
	l.int("conv_out_kernel", c.ConvOutKernel, 1, MaxKernel)
	l.int("addition_embed_type_num_heads", c.AdditionEmbedTypeNumHeads, 1, MaxHeads)
	return l.err
}

// checkLimits bounds every VAE value that sizes memory or loops.
func (c *VAEConfig) checkLimits() error {
	var l limitCheck
	if c.SampleSize != nil {
		l.list("sample_size", *c.SampleSize, 1, MaxVAESampleSize)
	}
	l.int("in_channels", c.InChannels, 1, MaxChannels)
	l.int("out_channels", c.OutChannels, 1, MaxChannels)
	l.int("latent_channels", c.LatentChannels, 1, MaxChannels)
	l.int("block_out_channels (entries)", len(c.BlockOutChannels), 1, MaxBlocks)
	for _, ch := range c.BlockOutChannels {
		l.int("block_out_channels", ch, 1, MaxChannels)
	}
	l.int("layers_per_block", c.LayersPerBlock, 1, MaxLayers)
	l.int("norm_num_groups", c.NormNumGroups, 1, MaxChannels)
	l.int("latents_mean (entries)", len(c.LatentsMean), 0, MaxChannels)
	l.int("latents_std (entries)", len(c.LatentsStd), 0, MaxChannels)
	return l.err
}
