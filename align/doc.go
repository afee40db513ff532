// Package align holds the image/text embedding models that judge images: ALIGN (EfficientNet image
// tower, BERT text tower, WordPiece tokenizer) for RPO's reward, and CLIP (ViT) and DINO (ViT) for
// the paper's evaluation metrics, each with its image preprocessing and a loader for the
// checkpoints transformers saves.
//
// The models satisfy package reward's interfaces: *ALIGN is a reward.Embedder (RPO's reward),
// *CLIP an Embedder (CLIP-I, CLIP-T) and *DINO an ImageEmbedder (the DINO metric). Each loads the
// folder transformers' save_pretrained writes (config.json, model.safetensors, tokenizer files,
// preprocessor_config.json) and agrees with transformers to about 2e-7 relative on the fixtures.
// Inside graphs images are channels-last; the host-side methods take NCHW pixel values or
// image.Image values run through the model's own image processor.
package align
