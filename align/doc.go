// Package align holds the image/text embedding models that judge images: ALIGN (EfficientNet image
// tower, BERT text tower, WordPiece tokenizer) for RPO's reward, and CLIP (ViT) and DINO (ViT) for
// the paper's evaluation metrics, each with its image preprocessing and a loader for the
// checkpoints transformers saves.
//
// Status: the WordPiece tokenizer and the three image processors (CLIPImageProcessor,
// ViTImageProcessor, EfficientNetImageProcessor, bit-exact against transformers' default
// torchvision path on the fixtures) are here; the encoders are being built on the building blocks
// of internal/nn.
package align
