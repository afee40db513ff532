package diffusion

import (
	"io/fs"

	"github.com/gorpo/gorpo/align/clip"
	"github.com/gorpo/gorpo/internal/modelfs"
)

// CLIPTokenizer is the byte-level BPE tokenizer of Stable Diffusion's `tokenizer/` folder
// (vocab.json + merges.txt, or tokenizer.json), with its padding token and length from
// tokenizer_config.json / special_tokens_map.json: SD 1.x pads with <|endoftext|>, SD 2.x with "!".
// It reproduces OpenAI's CLIP tokenizer exactly: it is package align/clip's Tokenizer, which
// package align's CLIP judge uses too.
type CLIPTokenizer = clip.Tokenizer

// LoadCLIPTokenizer reads a tokenizer folder; errors name the missing or corrupt file.
func LoadCLIPTokenizer(dir string) (*CLIPTokenizer, error) { return clip.LoadTokenizer(dir) }

// LoadCLIPTokenizerFS reads a tokenizer folder inside fsys (see LoadUNetFS).
func LoadCLIPTokenizerFS(fsys fs.FS, dir string) (*CLIPTokenizer, error) {
	return clip.LoadTokenizerFS(fsys, dir)
}

// loadCLIPTokenizer reads a tokenizer folder on the file system m.
func loadCLIPTokenizer(m modelfs.FS, dir string) (*CLIPTokenizer, error) {
	if m.IsOS() {
		return clip.LoadTokenizer(dir)
	}
	return clip.LoadTokenizerFS(m.FS(), dir)
}
