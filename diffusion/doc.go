// Package diffusion runs text-to-image diffusion models saved in the diffusers layout: the
// ε-prediction U-Net (UNet2DConditionModel), the VAE (AutoencoderKL), the CLIP text encoder and its
// BPE tokenizer, and the Pipeline that turns prompts into images with classifier-free guidance.
//
// Weights load by their upstream names from a diffusers folder (model_index.json, unet/, vae/,
// text_encoder/, tokenizer/, scheduler/), and a fine-tuned U-Net is written back in the same layout
// so diffusers can load it. Samplers come from package schedule.
//
// The quickest way in is a whole folder (a snapshot of stable-diffusion-v1-5 or
// stable-diffusion-2-1, or a pixel-space model without vae/):
//
//	p, err := diffusion.LoadPipeline(dir, diffusion.Variant("fp16")) // or no variant: the float32 files
//	images, err := p.Generate(ctx, []string{"a photo of a dog on the moon"},
//		diffusion.Steps(30), diffusion.Guidance(7.5), diffusion.Seed(1))
//	paths, err := diffusion.WritePNGs("out", "dog-", images)
//
// Generate follows diffusers' StableDiffusionPipeline (tokenize, encode, guided sampling with any
// sampler of package schedule, decode), with per-image seeds so that an image does not depend on
// the others of its batch; GenerateLatents and GenerateTensors return the raw NCHW floats for
// training code. The parts load and run on their own too: LoadUNet (UNet.Predict on the host,
// UNet.Forward inside a training graph, UNet.Save back to diffusers' layout), LoadVAE
// (AutoencoderKL.Encode, Sample, Decode), LoadTextEncoder (TextEncoder.Encode, WithClipSkip) and
// LoadCLIPTokenizer. Host-side methods take and return NCHW []float32, images in [-1, 1].
//
// Status: the U-Net (SD 1.x and 2.x configurations, any channel count, trainable, saved back),
// the VAE, the CLIP text encoder and tokenizer, diffusers folder loading (model_index.json,
// single-file, sharded and fp16-variant weights, pixel-space models) and the text-to-image
// Pipeline are here; the models match diffusers and transformers on the reference fixtures.
// Not here: SDXL and other U-Net variants (refused by name), image-to-image, inpainting and
// guidance rescale.
package diffusion
