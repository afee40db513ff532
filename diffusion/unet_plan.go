package diffusion

import (
	"fmt"
	"slices"
)

// unetBlock is one resolved down, mid or up block.
type unetBlock struct {
	kind              string
	out               int   // output channels (inputs follow from the skip connections)
	layers            int   // resnets (and transformers, for cross-attention blocks)
	transformerLayers []int // per layer, for cross-attention blocks
	heads, headDim    int
	crossAttention    bool // has Transformer2DModel attentions
	onlyCross         bool
	resample          bool // downsample (down blocks) or upsample (up blocks)
}

// unetPlan is a validated UNetConfig resolved per block, the way diffusers' __init__ resolves it.
type unetPlan struct {
	timeProjDim, timeEmbedDim int
	groups                    int
	crossDim                  int
	textTimeHeads             int // addition_embed_type "text": TextTimeEmbedding's pooling heads; 0: none
	down, up                  []unetBlock
	mid                       *unetBlock
}

// plan validates c and resolves it per block.
func (c *UNetConfig) plan() (*unetPlan, error) {
	if c.ClassName != "" && c.ClassName != unetClassName {
		return nil, invalidConfig("_class_name", c.ClassName, "want "+unetClassName)
	}
	// Features outside Stable Diffusion 1.x/2.x.
	switch {
	case c.ClassEmbedType != nil:
		return nil, unsupportedConfig("class_embed_type", *c.ClassEmbedType, "class embeddings are not implemented")
	case c.NumClassEmbeds != nil:
		return nil, unsupportedConfig("num_class_embeds", *c.NumClassEmbeds, "class embeddings are not implemented")
	case c.ClassEmbeddingsConcat:
		return nil, unsupportedConfig("class_embeddings_concat", true, "class embeddings are not implemented")
	case c.AdditionEmbedType != nil && *c.AdditionEmbedType != "text":
		return nil, unsupportedConfig("addition_embed_type", *c.AdditionEmbedType, `only "text" (TextTimeEmbedding) is implemented`)
	case c.EncoderHidDim != nil:
		return nil, unsupportedConfig("encoder_hid_dim", *c.EncoderHidDim, "encoder_hid_proj is not implemented")
	case c.EncoderHidDimType != nil:
		return nil, unsupportedConfig("encoder_hid_dim_type", *c.EncoderHidDimType, "encoder_hid_proj is not implemented")
	case c.TimeCondProjDim != nil:
		return nil, unsupportedConfig("time_cond_proj_dim", *c.TimeCondProjDim, "timestep conditioning is not implemented")
	case c.AttentionType != "default":
		return nil, unsupportedConfig("attention_type", c.AttentionType, "only \"default\" is implemented")
	case c.DualCrossAttention:
		return nil, unsupportedConfig("dual_cross_attention", true, "DualTransformer2DModel is not implemented")
	case c.ResnetTimeScaleShift != "default":
		return nil, unsupportedConfig("resnet_time_scale_shift", c.ResnetTimeScaleShift, "only \"default\" is implemented")
	case c.TimeEmbeddingType != "positional":
		return nil, unsupportedConfig("time_embedding_type", c.TimeEmbeddingType, "only \"positional\" is implemented")
	case c.Dropout != 0:
		return nil, unsupportedConfig("dropout", c.Dropout, "dropout is not implemented")
	case c.NumAttentionHeads != nil:
		// diffusers itself raises here (the attention_head_dim naming quirk).
		return nil, unsupportedConfig("num_attention_heads", *c.NumAttentionHeads,
			"diffusers refuses it too; attention_head_dim gives the number of heads")
	case c.NormNumGroups == nil:
		return nil, unsupportedConfig("norm_num_groups", "null", "U-Nets without group norms are not implemented")
	}
	for field, act := range map[string]*string{"act_fn": &c.ActFn, "time_embedding_act_fn": c.TimeEmbeddingActFn,
		"timestep_post_act": c.TimestepPostAct} {
		if act != nil && !slices.Contains(diffusersActivations, *act) {
			return nil, unsupportedConfig(field, *act, fmt.Sprintf("want one of %v", diffusersActivations))
		}
	}

	n := len(c.DownBlockTypes)
	switch {
	case n == 0:
		return nil, invalidConfig("down_block_types", c.DownBlockTypes, "empty")
	case len(c.UpBlockTypes) != n:
		return nil, invalidConfig("up_block_types", c.UpBlockTypes, fmt.Sprintf("want %d entries like down_block_types", n))
	case len(c.BlockOutChannels) != n:
		return nil, invalidConfig("block_out_channels", c.BlockOutChannels, fmt.Sprintf("want %d entries like down_block_types", n))
	case c.InChannels <= 0:
		return nil, invalidConfig("in_channels", c.InChannels, "want > 0")
	case c.OutChannels <= 0:
		return nil, invalidConfig("out_channels", c.OutChannels, "want > 0")
	case c.ConvInKernel <= 0:
		return nil, invalidConfig("conv_in_kernel", c.ConvInKernel, "want > 0")
	case c.ConvOutKernel <= 0:
		return nil, invalidConfig("conv_out_kernel", c.ConvOutKernel, "want > 0")
	case c.DownsamplePadding < 0:
		return nil, invalidConfig("downsample_padding", c.DownsamplePadding, "want ≥ 0")
	case c.MidBlockScaleFactor == 0:
		return nil, invalidConfig("mid_block_scale_factor", 0, "want ≠ 0")
	}
	perBlock := func(field string, l int, isList bool) error {
		if isList && l != n {
			return invalidConfig(field, fmt.Sprintf("a list of %d", l), fmt.Sprintf("want %d entries like down_block_types", n))
		}
		return nil
	}
	for _, chk := range []struct {
		field  string
		l      int
		isList bool
	}{
		{"only_cross_attention", len(c.OnlyCrossAttention.List), c.OnlyCrossAttention.List != nil},
		{"layers_per_block", len(c.LayersPerBlock.List), c.LayersPerBlock.IsList()},
		{"cross_attention_dim", len(c.CrossAttentionDim.List), c.CrossAttentionDim.IsList()},
		{"attention_head_dim", len(c.AttentionHeadDim.List), c.AttentionHeadDim.IsList()},
		{"transformer_layers_per_block", len(c.TransformerLayersPerBlock.List), c.TransformerLayersPerBlock.List != nil},
	} {
		if err := perBlock(chk.field, chk.l, chk.isList); err != nil {
			return nil, err
		}
	}
	if c.ReverseTransformerLayersPerBlock != nil {
		if err := perBlock("reverse_transformer_layers_per_block", len(c.ReverseTransformerLayersPerBlock.List), c.ReverseTransformerLayersPerBlock.List != nil); err != nil {
			return nil, err
		}
	} else {
		for _, l := range c.TransformerLayersPerBlock.List {
			if l.IsList() {
				return nil, invalidConfig("transformer_layers_per_block", c.TransformerLayersPerBlock.List,
					"nested lists need reverse_transformer_layers_per_block")
			}
		}
	}
	// One encoder_hidden_states feeds every block, so every block must take the same width.
	crossDim := c.CrossAttentionDim.At(0)
	for i := range n {
		if c.CrossAttentionDim.At(i) != crossDim {
			return nil, unsupportedConfig("cross_attention_dim", c.CrossAttentionDim,
				"per-block widths differ but one encoder_hidden_states feeds them all")
		}
	}
	if crossDim <= 0 {
		return nil, invalidConfig("cross_attention_dim", crossDim, "want > 0")
	}
	groups := *c.NormNumGroups
	if groups <= 0 {
		return nil, invalidConfig("norm_num_groups", groups, "want > 0")
	}
	for i, ch := range c.BlockOutChannels {
		if ch <= 0 || ch%groups != 0 {
			return nil, invalidConfig("block_out_channels", c.BlockOutChannels,
				fmt.Sprintf("entry %d does not split into norm_num_groups=%d groups", i, groups))
		}
	}

	p := &unetPlan{groups: groups, crossDim: crossDim, timeProjDim: c.BlockOutChannels[0]}
	p.timeEmbedDim = 4 * c.BlockOutChannels[0]
	if c.TimeEmbeddingDim != nil {
		p.timeEmbedDim = *c.TimeEmbeddingDim
	}
	if p.timeEmbedDim <= 0 {
		return nil, invalidConfig("time_embedding_dim", p.timeEmbedDim, "want > 0")
	}
	if c.AdditionEmbedType != nil { // "text": TextTimeEmbedding over cross_attention_dim
		if c.CrossAttentionDim.IsList() {
			return nil, unsupportedConfig("cross_attention_dim", c.CrossAttentionDim, `a list with addition_embed_type "text"`)
		}
		h := c.AdditionEmbedTypeNumHeads
		if h <= 0 || crossDim%h != 0 {
			return nil, invalidConfig("addition_embed_type_num_heads", h,
				fmt.Sprintf("want a divisor of cross_attention_dim %d (the text pooling's heads)", crossDim))
		}
		p.textTimeHeads = h
	}
	// heads: diffusers' num_attention_heads defaults to attention_head_dim, which therefore gives
	// the number of heads, and each head is out_channels // heads wide.
	heads := func(i int) (int, error) {
		h := c.AttentionHeadDim.At(i)
		if h <= 0 || c.BlockOutChannels[i]/h == 0 {
			return 0, invalidConfig("attention_head_dim", c.AttentionHeadDim,
				fmt.Sprintf("%d heads do not fit block %d's %d channels", h, i, c.BlockOutChannels[i]))
		}
		return h, nil
	}
	layersAt := func(i int) (int, error) {
		l := c.LayersPerBlock.At(i)
		if l <= 0 {
			return 0, invalidConfig("layers_per_block", c.LayersPerBlock, "want > 0")
		}
		return l, nil
	}
	transformerLayers := func(field string, x NestedInts, i, layers int) ([]int, error) {
		out := make([]int, layers)
		if x.List != nil && x.List[i].IsList() && len(x.List[i].List) < layers {
			return nil, invalidConfig(field, x.List, fmt.Sprintf("block %d lists %d layers, want %d", i, len(x.List[i].List), layers))
		}
		for j := range out {
			out[j] = x.At(i, j)
			if out[j] <= 0 {
				return nil, invalidConfig(field, x.List, "want > 0")
			}
		}
		return out, nil
	}

	for i, kind := range c.DownBlockTypes {
		out := c.BlockOutChannels[i]
		b := unetBlock{kind: trimUNetRes(kind), out: out, resample: i < n-1, onlyCross: c.OnlyCrossAttention.At(i)}
		var err error
		if b.layers, err = layersAt(i); err != nil {
			return nil, err
		}
		switch b.kind {
		case "DownBlock2D":
		case "CrossAttnDownBlock2D":
			b.crossAttention = true
			if b.heads, err = heads(i); err != nil {
				return nil, err
			}
			b.headDim = out / b.heads
			if b.transformerLayers, err = transformerLayers("transformer_layers_per_block", c.TransformerLayersPerBlock, i, b.layers); err != nil {
				return nil, err
			}
		default:
			return nil, unsupportedConfig("down_block_types", c.DownBlockTypes,
				fmt.Sprintf("block %d: %q; want CrossAttnDownBlock2D or DownBlock2D", i, kind))
		}
		p.down = append(p.down, b)
	}

	if c.MidBlockType != nil {
		last := c.BlockOutChannels[n-1]
		m := unetBlock{kind: *c.MidBlockType, out: last, layers: 1}
		switch m.kind {
		case "UNetMidBlock2DCrossAttn":
			var err error
			m.crossAttention = true
			if m.heads, err = heads(n - 1); err != nil {
				return nil, err
			}
			m.headDim = last / m.heads
			if m.transformerLayers, err = transformerLayers("transformer_layers_per_block", c.TransformerLayersPerBlock, n-1, 1); err != nil {
				return nil, err
			}
		case "UNetMidBlock2D":
			m.layers = 0 // one resnet, no attention (diffusers' get_mid_block: num_layers=0, add_attention=False)
		default:
			return nil, unsupportedConfig("mid_block_type", m.kind, "want UNetMidBlock2DCrossAttn, UNetMidBlock2D or null")
		}
		p.mid = &m
	}

	reverse := func(i int) int { return n - 1 - i }
	for i, kind := range c.UpBlockTypes {
		out := c.BlockOutChannels[reverse(i)]
		b := unetBlock{kind: trimUNetRes(kind), out: out, resample: i < n-1,
			onlyCross: c.OnlyCrossAttention.At(reverse(i))}
		l, err := layersAt(reverse(i))
		if err != nil {
			return nil, err
		}
		b.layers = l + 1
		switch b.kind {
		case "UpBlock2D":
		case "CrossAttnUpBlock2D":
			b.crossAttention = true
			if b.heads, err = heads(reverse(i)); err != nil {
				return nil, err
			}
			b.headDim = out / b.heads
			if c.ReverseTransformerLayersPerBlock != nil {
				b.transformerLayers, err = transformerLayers("reverse_transformer_layers_per_block", *c.ReverseTransformerLayersPerBlock, i, b.layers)
			} else {
				b.transformerLayers, err = transformerLayers("transformer_layers_per_block", c.TransformerLayersPerBlock, reverse(i), b.layers)
			}
			if err != nil {
				return nil, err
			}
		default:
			return nil, unsupportedConfig("up_block_types", c.UpBlockTypes,
				fmt.Sprintf("block %d: %q; want CrossAttnUpBlock2D or UpBlock2D", i, kind))
		}
		p.up = append(p.up, b)
	}
	return p, nil
}

// trimUNetRes drops the "UNetRes" prefix diffusers' get_down_block/get_up_block ignore.
func trimUNetRes(kind string) string {
	if len(kind) > 7 && kind[:7] == "UNetRes" {
		return kind[7:]
	}
	return kind
}
