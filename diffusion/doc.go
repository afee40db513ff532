// Package diffusion runs text-to-image diffusion models saved in the diffusers layout: the
// ε-prediction U-Net (UNet2DConditionModel), the VAE (AutoencoderKL), the CLIP text encoder and its
// BPE tokenizer, and the Pipeline that turns prompts into images with classifier-free guidance.
//
// Weights load by their upstream names from a diffusers folder (model_index.json, unet/, vae/,
// text_encoder/, tokenizer/, scheduler/), and a fine-tuned U-Net is written back in the same layout
// so diffusers can load it. Samplers come from package schedule.
//
// Status: the CLIP tokenizer is here; the models and the Pipeline are being built on the
// building blocks of internal/nn.
package diffusion
