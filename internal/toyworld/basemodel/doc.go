// Package basemodel is the toy world's base text-to-image model and the code that trains it from
// scratch: Stable Diffusion's architecture at toy size, in pixel space, trained on captioned
// renders of generic objects (toyworld.GenericScene and toyworld.Caption), never the subjects,
// so that RPO has a base model that knows "a red ball on the beach" but not "[V] ball".
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
//   - the U-Net: diffusers' UNet2DConditionModel (diffusion.UNet) on 32×32 RGB folded 2×2 into
//     12 channels at 16×16 (model_index.json's pixel_unshuffle, which diffusion.Pipeline
//     undoes), channels 32/64/64, cross-attention at 4×4;
//   - the scheduler: DDIM over DDPM's linear β schedule, v-prediction (see DefaultConfig for why).
//
// Trainer trains the text encoder and the U-Net jointly on the v- (or ε-) prediction MSE, AdamW with
// gradient clipping, captions dropped to "" 10% of the time (the unconditional embedding of
// classifier-free guidance), an exponential moving average of the weights for export, fixed
// shapes (one compiled step), every batch a function of the seed and the step alone (so a
// resumed run is the uninterrupted one), and atomic checkpoints. Model.Export writes the
// diffusers folder; Load and Dir give the shipped one (model/). examples/toypretrain is the
// command line; PLAN.md says how the shipped model was sized and made.
package basemodel
