// Package autoencoder makes the toy world's image autoencoder: a diffusers AutoencoderKL
// (Stable Diffusion's VAE, package diffusion's own code) at a small configuration, trained on
// renders of generic scenes, so that the toy base model works in latent space as Stable
// Diffusion does: references are encoded once, samples decoded.
//
// Like Stable Diffusion's VAE (Rombach et al. 2022, "High-Resolution Image Synthesis with
// Latent Diffusion Models") it is trained on a reconstruction loss plus a small KL term that
// keeps the posterior close to a standard normal; the latents' scale for the U-Net
// (config.json's scaling_factor) is measured on the data once training ends. Unlike it, there is
// no perceptual or adversarial term: at 32×32 with a downsampling factor of 2 the L1 loss alone
// keeps the subjects' 1–2-pixel marks (PLAN.md in package basemodel has the measurements).
//
// The trained model ships in the base model's folder (vae/), where diffusion.LoadPipeline reads it
// like any Stable Diffusion VAE; examples/toyvae reproduces it.
package autoencoder
