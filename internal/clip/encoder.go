package clip

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/gorpo/gorpo/internal/nn"
)

// Activation returns the activation transformers' ACT2FN table gives for name: "quick_gelu"
// (OpenAI CLIP, SD 1.x), "gelu" (exact, erf-based: OpenCLIP, SD 2.x, ViT), "gelu_new" and
// "gelu_pytorch_tanh" and "gelu_fast" (the tanh approximation, one formula), "relu", "silu"/"swish".
func Activation(name string) (func(*Node) *Node, error) {
	return nn.ActivationByName(name)
}

// mustActivation is Activation for graph code, where a bad name is a graph-building error.
func mustActivation(name string) func(*Node) *Node {
	act, err := Activation(name)
	if err != nil {
		exceptions.Panicf("clip: hidden_act %q: %v", name, err)
	}
	return act
}

// SelfAttention is the multi-head self-attention of CLIP and ViT: separate query, key and value
// projections (Linear, with bias when qkvBias is set), scaled dot-product attention with scale
// 1/√headDim, and the output projection (Linear with bias) under the given scopes, which carry
// the upstream names (CLIP: self_attn/{q_proj,k_proj,v_proj,out_proj}; ViT:
// attention/attention/{query,key,value} and attention/output/dense).
//
// x: [batch, L, dim] → [batch, L, dim]. mask, optional, is an additive or boolean mask
// broadcastable to [batch, heads, L, L] (see nn.ScaledDotProductAttention).
func SelfAttention(x *Node, heads int, qkvBias bool, mask *Node, q, k, v, out *model.Scope) *Node {
	dims := x.Shape().Dimensions
	if x.Rank() != 3 {
		exceptions.Panicf("clip.SelfAttention: x %s, want [batch, L, dim]", x.Shape())
	}
	batch, l, dim := dims[0], dims[1], dims[2]
	if heads <= 0 || dim%heads != 0 {
		exceptions.Panicf("clip.SelfAttention: %d heads do not split dim %d", heads, dim)
	}
	headDim := dim / heads
	split := func(y *Node) *Node { return Reshape(y, batch, l, heads, headDim) }
	qs := split(nn.Linear(q, x, dim, qkvBias))
	ks := split(nn.Linear(k, x, dim, qkvBias))
	vs := split(nn.Linear(v, x, dim, qkvBias))
	y := nn.ScaledDotProductAttention(qs, ks, vs, mask, 0)
	return nn.Linear(out, Reshape(y, batch, l, dim), dim, true)
}

// tower is what CLIPEncoder needs of a config.
type tower struct {
	layers, heads, intermediate int
	eps                         float64
	act                         func(*Node) *Node
}

// encoderLayer is CLIPEncoderLayer: pre-norm self-attention and MLP, each with a residual.
// Learned, under scope: layer_norm1, self_attn/{q,k,v,out}_proj, layer_norm2, mlp/fc1, mlp/fc2.
func encoderLayer(scope *model.Scope, t tower, x, mask *Node) *Node {
	dim := x.Shape().Dim(-1)
	attn := scope.In("self_attn")
	h := nn.LayerNorm(scope.In("layer_norm1"), x, t.eps)
	h = SelfAttention(h, t.heads, true, mask, attn.In("q_proj"), attn.In("k_proj"), attn.In("v_proj"), attn.In("out_proj"))
	x = Add(x, h)
	mlp := scope.In("mlp")
	h = nn.LayerNorm(scope.In("layer_norm2"), x, t.eps)
	h = t.act(nn.Linear(mlp.In("fc1"), h, t.intermediate, true))
	h = nn.Linear(mlp.In("fc2"), h, dim, true)
	return Add(x, h)
}

// encoder is CLIPEncoder: the layers under scope "layers/N". It returns transformers'
// hidden_states: x itself, then the output of every layer (num_hidden_layers + 1 in all).
func encoder(scope *model.Scope, t tower, x, mask *Node) []*Node {
	hidden := make([]*Node, 0, t.layers+1)
	hidden = append(hidden, x)
	layers := scope.In("layers")
	for i := range t.layers {
		x = encoderLayer(layers.In("%d", i), t, x, mask)
		hidden = append(hidden, x)
	}
	return hidden
}
