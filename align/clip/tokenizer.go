package clip

import (
	"io/fs"

	"github.com/gorpo/gorpo/internal/bpe"
	"github.com/gorpo/gorpo/internal/modelfs"
)

// Tokenizer is the byte-level BPE tokenizer of CLIP's text encoder, as Stable Diffusion's
// `tokenizer/` folder and CLIPModel checkpoints ship it. It reproduces OpenAI's
// clip/simple_tokenizer.py, Python string semantics included: HTML unescaping (twice), whitespace
// clean-up, lower-casing, the CLIP pre-tokenizer regex, byte-to-unicode mapping and BPE by merge
// rank with "</w>" ending each word. ftfy's text fixing is not applied (it is the identity on
// well-formed text). transformers' CLIPTokenizer gives the same ids on ordinary text; it leaves
// HTML character references as they are.
//
// A Tokenizer is safe for concurrent use.
type Tokenizer struct {
	bpe *bpe.Tokenizer
}

// LoadTokenizer reads a tokenizer folder: `vocab.json` + `merges.txt`, or else `tokenizer.json`
// (the transformers fast-tokenizer file: model.vocab and model.merges). The special tokens
// (bos_token, eos_token, pad_token, unk_token) and model_max_length come from
// `tokenizer_config.json` and `special_tokens_map.json` when present, the latter taking
// precedence as in transformers. Without them the tokens are CLIP's own: `<|startoftext|>`
// begins a sequence and `<|endoftext|>` ends, pads and replaces unknown symbols (Stable
// Diffusion 1.x; 2.x pads with "!"), and sequences are 77 tokens long. Errors name the missing
// or corrupt file.
func LoadTokenizer(dir string) (*Tokenizer, error) { return loadTokenizer(modelfs.OS, dir) }

// LoadTokenizerFS is LoadTokenizer on the folder dir inside fsys (slash-separated, "." for its
// root), such as an embed.FS: the files are read from it, nothing is written to disk.
func LoadTokenizerFS(fsys fs.FS, dir string) (*Tokenizer, error) {
	return loadTokenizer(modelfs.In(fsys), dir)
}

func loadTokenizer(m modelfs.FS, dir string) (*Tokenizer, error) {
	t, err := bpe.LoadIn(m, dir)
	if err != nil {
		return nil, err
	}
	return &Tokenizer{bpe: t}, nil
}

// BOS returns the id that begins every padded sequence (`<|startoftext|>`, 49406 in CLIP).
func (t *Tokenizer) BOS() int { return t.bpe.BOS() }

// EOS returns the id that ends every padded sequence (`<|endoftext|>`, 49407 in CLIP).
func (t *Tokenizer) EOS() int { return t.bpe.EOS() }

// Pad returns the id that fills padded sequences: `<|endoftext|>` for Stable Diffusion 1.x,
// "!" (0) for 2.x.
func (t *Tokenizer) Pad() int { return t.bpe.Pad() }

// MaxLength returns the padded sequence length, model_max_length (77 for CLIP).
func (t *Tokenizer) MaxLength() int { return t.bpe.MaxLength() }

// VocabSize returns the number of entries in the vocabulary.
func (t *Tokenizer) VocabSize() int { return t.bpe.VocabSize() }

// Tokens returns the BPE symbols of text, without begin and end tokens: "a dog's toy" gives
// ["a</w>", "dog</w>", "'s</w>", "toy</w>"]. Non-ASCII bytes are spelled with the byte-to-unicode
// table ("café" gives "cafÃ©</w>").
func (t *Tokenizer) Tokens(text string) []string { return t.bpe.Tokens(text) }

// Encode returns the token ids of text, without begin and end tokens and without truncation.
// Symbols missing from the vocabulary (only possible with an inconsistent merges file) map to
// the unknown token.
func (t *Tokenizer) Encode(text string) []int { return t.bpe.Encode(text) }

// EncodePadded returns the MaxLength() ids the text encoder takes: BOS, the first
// MaxLength()-2 ids of Encode(text), EOS, then Pad() up to MaxLength() (what transformers gives
// for padding="max_length", truncation=True). mask is 1 over BOS, the kept ids and EOS, 0 over
// the padding.
func (t *Tokenizer) EncodePadded(text string) (ids, mask []int) { return t.bpe.EncodePadded(text) }

// BatchEncode applies EncodePadded to each text: ids and mask are [len(texts)][MaxLength()].
func (t *Tokenizer) BatchEncode(texts []string) (ids, mask [][]int) {
	return t.bpe.BatchEncode(texts)
}
