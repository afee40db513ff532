// Package clip holds what Stable Diffusion and the CLIP judge share of OpenAI's CLIP (Radford et
// al., "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021) and
// that a program names: the configurations under transformers' field names (TextConfig for
// CLIPTextConfig, the text encoder of Stable Diffusion and the text half of CLIPModel;
// VisionConfig for CLIPVisionConfig; Config for CLIPConfig) and the byte-level BPE Tokenizer.
//
// Package diffusion's TextEncoderConfig and CLIPTokenizer, and package align's CLIPConfig,
// CLIPTextConfig, CLIPVisionConfig and CLIPTokenizer, are these types under the names their
// packages use. The models themselves are diffusion.TextEncoder and align.CLIP.
package clip
