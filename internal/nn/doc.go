// Package nn holds the neural-network building blocks the models share: convolutions,
// pooling, up-sampling and padding; group and layer norms; Linear; activations (SiLU, GELU and
// its tanh and quick approximations, GEGLU); scaled dot-product and multi-head attention with
// causal and padding masks; the sinusoidal timestep embedding; and PyTorch's default
// initialisers.
//
// A layer is a function over a *model.Scope and *graph.Node inputs (a small builder ended by
// Done when it has more than a few knobs), with a scope-free "…With" variant that takes the
// weight nodes, for frozen copies and LoRA. Every layer is differentiable and works in float32
// and in the other float dtypes (see Precision).
//
// # Layouts
//
// Inside graphs, images are channels-last, [batch, height, width, channels], and sequences
// [batch, seq, dim]: per-position features are then contiguous, so 1×1 convolutions, norms'
// affine parts, Linear layers and attention projections contract the last axis, which is the
// layout the Go backend's matmul takes without transposing (its direct convolution is far
// slower than patches-plus-matmul, which wants the same layout). Public APIs outside this
// package speak NCHW; models transpose once at their edges.
//
// Variables, on the other hand, keep the upstream PyTorch layouts and names — Linear "weight"
// [out, in] and "bias" [out]; norm "weight" and "bias" [C]; diffusers' attention "to_q", "to_k",
// "to_v", "to_out"/"0" — so loading or saving a diffusers or transformers checkpoint is a 1:1 walk
// over names with no reshaping, and a fine-tuned model goes back in the layout it came from.
// Layers contract against the weights as stored (x's last axis with Linear's weight's last axis)
// rather than transposing them.
//
// # Precision
//
// A layer computes in the dtype of its input activation, whatever the dtype of its variables:
// the weights it reads are converted to that dtype (norms: to float32 for half precision), and
// the converted values' gradients flow back through the conversion in the variables' own dtype.
// So a model whose variables are float32 runs in bfloat16 when fed bfloat16 activations — mixed
// precision with float32 master weights and float32 gradients, with no second copy of the
// weights — while a model built from bfloat16 activations on an empty Store creates bfloat16
// variables. Group and layer norms compute their statistics and affine step in float32 for
// half-precision inputs, attention its scores and softmax, and SinusoidalTimestepEmbedding its
// sin/cos (returning float32 for the caller to convert); each returns the activation's dtype.
// Half precision is meant for XLA backends on GPUs: GoMLX's Go backend runs it correctly but
// slower than float32 (the fixture U-Net's forward+backward 1.5× slower; see diffusion's
// benchmarks).
//
// # Gradients
//
// Linear, GroupNorm and scaled dot-product attention carry hand-written backward passes
// (newCustomVJP explains the mechanism), shaped for the Go backend: its matmul takes operands
// contracted over their last axis (or the right-hand one over its first) and transposes anything
// else, its binary ops are several times slower with a broadcast operand, and ReduceSum is far
// slower than a batched matmul against ones. The forward-only formulations differentiated by
// autodiff stay beside them as references in the tests and benchmarks. They support first
// derivatives only.
//
// Variables missing from the store are created with PyTorch's default initialisation (Linear
// and convolutions U(-1/√fanIn, 1/√fanIn), norms ones and zeros), deterministically from the
// store's initializer seed and the variable's path; see Variable and KaimingUniformInit.
package nn
