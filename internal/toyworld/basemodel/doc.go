// Package basemodel is the toy world's base text-to-image model and the code that trains it from
// scratch: a miniature Stable Diffusion, the same three parts through the same code, trained on
// captioned renders of generic objects (toyworld.GenericScene and toyworld.Caption), never the
// subjects, so that RPO has a base model that knows "a red ball on the beach" but not "[V] ball".
//
// The pieces, each in the upstream format so that package diffusion loads them as it loads
// Stable Diffusion (diffusion.LoadPipeline on the exported folder):
//
//   - the tokenizer (Vocab, BuildVocab, DefaultVocab): a CLIP byte-level BPE vocabulary learned
//     from the world's captions and prompts (Corpus) until every word is one token: the 512
//     byte symbols, one entry per merge, <|startoftext|> and <|endoftext|>: 820 tokens.
//     CLIP's pre-tokenizer splits the subject token "[V]" into "[", "v" and "]", byte symbols
//     already; "sks" is a word of its own;
//   - the text encoder: transformers' CLIPTextModel (internal/clip), 3 layers of width 64;
//   - the autoencoder: diffusers' AutoencoderKL, trained beforehand and frozen here (package
//     autoencoder): 32×32 renders to 16×16×8 latents, scaled by its measured scaling_factor;
//   - the U-Net: diffusers' UNet2DConditionModel (diffusion.UNet) on those latents, channels
//     32/64/64, cross-attention at 8×8 and 4×4, and the prompt pooled into the time embedding
//     (addition_embed_type "text") so that every resolution knows what it draws;
//   - the scheduler: DDIM over DDPM's linear β schedule, v-prediction (see DefaultConfig for why).
//
// Dataset renders the scenes and encodes them once (Dataset.Encode); Trainer trains the text
// encoder and the U-Net jointly on the v- (or ε-) prediction MSE of posterior samples of the
// latents, AdamW with gradient clipping, captions dropped to "" 10% of the time (the
// unconditional embedding of classifier-free guidance), an exponential moving average of the
// weights for export, fixed shapes (one compiled step), every batch a function of the seed and
// the step alone (so a resumed run is the uninterrupted one), and atomic checkpoints. The
// training step's forward pass is the pipeline's denoising call (TestTrainingMatchesPipeline).
// Model.Export writes the diffusers folder; Load and Dir give the shipped one (model/).
// examples/toypretrain is the command line; PLAN.md says how the model was sized and made.
package basemodel
