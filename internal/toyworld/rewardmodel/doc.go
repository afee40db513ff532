// Package rewardmodel is the toy world's reward model: an ALIGN-architecture pair (Jia et al.,
// 2021, arXiv:2102.05918) sized to 32×32 pictures, an EfficientNet image tower (width ×0.5, six
// MBConv blocks, 64-channel features) and a 2-layer BERT text tower over a WordPiece vocabulary of
// the world's language (Vocabulary), trained from scratch with ALIGN's contrastive objective on
// captioned renders of generic objects (toyworld.GenericScene and toyworld.Caption; never the
// subjects). It is what RPO scores the toy world's images with: ALIGN-T is the cosine of an image
// and a prompt, ALIGN-I the cosine of two images.
//
// The trained folder ships embedded in the package, in the layout transformers' save_pretrained
// writes (config.json with AlignConfig's fields, model.safetensors with upstream tensor names,
// vocab.txt, tokenizer_config.json, preprocessor_config.json) with TRAINING.md, which records the
// command, seed, time and held-out metrics. Dir writes it to a cache folder and Load reads it with
// align.LoadALIGN, so it is used exactly as a real ALIGN checkpoint is.
//
// examples/toyreward reproduces it from scratch (Train, Save), and Evaluate measures any ALIGN
// model on held-out renders: retrieval within a batch, and whether an image is closer to its
// description than to the same description with its context, colour, class or accessory swapped.
// The seed ranges of training, the program's evaluation and the tests never meet (see TrainSeed).
package rewardmodel
