package diffusion

import "github.com/gorpo/gorpo/align/clip"

// CLIPTokenizer is the byte-level BPE tokenizer of Stable Diffusion's `tokenizer/` folder
// (vocab.json + merges.txt, or tokenizer.json), with its padding token and length from
// tokenizer_config.json / special_tokens_map.json: SD 1.x pads with <|endoftext|>, SD 2.x with "!".
// It reproduces OpenAI's CLIP tokenizer exactly: it is package align/clip's Tokenizer, which
// package align's CLIP judge uses too.
type CLIPTokenizer = clip.Tokenizer

// LoadCLIPTokenizer reads a tokenizer folder; errors name the missing or corrupt file.
func LoadCLIPTokenizer(dir string) (*CLIPTokenizer, error) { return clip.LoadTokenizer(dir) }
