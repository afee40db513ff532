// Package clip holds the transformer encoders of CLIP (Radford et al., "Learning Transferable
// Visual Models From Natural Language Supervision", ICML 2021) exactly as transformers builds
// them: the text tower (CLIPTextTransformer, Stable Diffusion's text encoder and the text half of
// CLIPModel), the image tower (CLIPVisionTransformer), and CLIPModel's projections and logit
// scale. Package diffusion wraps the text tower as Stable Diffusion's text encoder; package
// align wraps CLIPModel as the judge of the CLIP-I and CLIP-T metrics and reuses the
// patch-embedding and attention pieces for its DINO ViT.
//
// Graph functions (TextTransformer, VisionTransformer, ImageFeatures, TextFeatures, Forward)
// create their variables under the upstream module names (embeddings/token_embedding/weight,
// encoder/layers/3/self_attn/q_proj/weight, ...), so a checkpoint binds by name with
// internal/weights. The configs (TextConfig, VisionConfig, Config, read from config.json under the
// upstream field names, with transformers' defaults for absent fields and a FieldError for values
// this package cannot run) are public types of package align/clip, aliased here.
// Host-side, LoadTextModel and LoadModel read a save_pretrained folder and Runner executes graphs
// over the loaded weights.
package clip
