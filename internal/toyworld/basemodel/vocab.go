package basemodel

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/toyworld"
)

// SubjectTokens are the subject tokens the vocabulary is built to spell: the paper's "[V]" (which
// CLIP's pre-tokenizer splits into "[", "v", "]", three one-character words already among the
// 512 base symbols) and DreamBooth's "sks".
var SubjectTokens = []string{"[V]", "sks"}

// Special tokens, as CLIP names them.
const (
	bos = "<|startoftext|>"
	eos = "<|endoftext|>"
	eow = "</w>"
)

// MaxLength is the tokenizer's model_max_length and the text encoder's max_position_embeddings:
// the longest text of the world ("a photo of a purple dog wearing a black top hat and a monocle
// on top of green grass with sunflowers around it") is 23 words, 25 ids with BOS and EOS.
const MaxLength = 32

// captionSeeds is how many GenericScene captions weigh the word counts the merges are learned
// from (the prompts are added once each).
const captionSeeds = 20000

// Corpus returns every text the toy world writes, in a fixed order: the captions of
// GenericScene(0 … captionSeeds-1) and, for each subject and each of SubjectTokens, its training,
// evaluation and validation prompts and its subject prompt, then every context, class, colour
// and accessory phrase on its own (so that words a caption sample might miss are counted).
func Corpus() ([]string, error) {
	var out []string
	for i := range uint64(captionSeeds) {
		c, err := toyworld.Caption(toyworld.GenericScene(i))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	for _, s := range toyworld.Subjects() {
		for _, tok := range SubjectTokens {
			for _, f := range []func(string, string) ([]toyworld.Prompt, error){
				toyworld.TrainingPrompts, toyworld.EvaluationPrompts, toyworld.ValidationPrompts} {
				ps, err := f(s.Name, tok)
				if err != nil {
					return nil, err
				}
				for _, p := range ps {
					out = append(out, p.Text)
				}
			}
			p, err := toyworld.SubjectPrompt(s.Name, tok)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Text)
		}
	}
	for _, c := range toyworld.Contexts() {
		out = append(out, c.Phrase)
	}
	for _, c := range toyworld.Classes() {
		out = append(out, c.Word)
	}
	out = append(out, toyworld.Colors()...)
	for _, a := range toyworld.Accessories() {
		out = append(out, a.Phrase)
	}
	return out, nil
}

// preTokenizer is CLIP's (see internal/bpe), for the ASCII lower-case texts of the world.
var preTokenizer = regexp.MustCompile(`'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`)

// Words splits text as CLIP's tokenizer does before byte-pair encoding: lower-cased, then
// letters runs, single digits and runs of other characters ("a [V] dog" → "a", "[", "v", "]",
// "dog").
func Words(text string) []string {
	return preTokenizer.FindAllString(strings.ToLower(strings.Join(strings.Fields(text), " ")), -1)
}

// Vocab is a CLIP byte-level BPE vocabulary: tokens by id and the merges by rank.
type Vocab struct {
	Tokens []string    // id → symbol
	Merges [][2]string // rank → pair
}

// byteSymbols is OpenAI's bytes_to_unicode in CLIP's vocabulary order: the printable Latin-1
// bytes as themselves, then the other 68 bytes as U+0100 onwards.
func byteSymbols() []string {
	var out []string
	printable := func(b int) bool {
		return ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF)
	}
	for b := range 256 {
		if printable(b) {
			out = append(out, string(rune(b)))
		}
	}
	next := 256
	for b := range 256 {
		if !printable(b) {
			out = append(out, string(rune(next)))
			next++
		}
	}
	return out
}

// BuildVocab learns byte-pair merges from corpus until every word of it is one symbol, as
// OpenAI's CLIP vocabulary was learned (most frequent adjacent pair first, ties broken by the
// pair's text), and returns CLIP's layout: the 256 byte symbols, the same with "</w>", one
// entry per merge in rank order, then <|startoftext|> and <|endoftext|>. The texts must be
// ASCII (every symbol is then its own byte).
func BuildVocab(corpus []string) (Vocab, error) {
	counts := map[string]int{}
	for _, text := range corpus {
		for _, w := range Words(text) {
			for _, r := range w {
				if r < '!' || r > '~' {
					return Vocab{}, fmt.Errorf("basemodel: vocabulary: %q: only printable ASCII is supported", text)
				}
			}
			counts[w]++
		}
	}
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	sort.Strings(words)
	segs := make([][]string, len(words))
	for i, w := range words {
		for j, r := range w {
			s := string(r)
			if j == len(w)-1 {
				s += eow
			}
			segs[i] = append(segs[i], s)
		}
	}
	var v Vocab
	base := byteSymbols()
	v.Tokens = append(v.Tokens, base...)
	for _, s := range base {
		v.Tokens = append(v.Tokens, s+eow)
	}
	for {
		pairs := map[[2]string]int{}
		for i, seg := range segs {
			for j := 0; j+1 < len(seg); j++ {
				pairs[[2]string{seg[j], seg[j+1]}] += counts[words[i]]
			}
		}
		if len(pairs) == 0 {
			break
		}
		var best [2]string
		bestN := -1
		for p, n := range pairs {
			if n > bestN || (n == bestN && p[0]+" "+p[1] < best[0]+" "+best[1]) {
				best, bestN = p, n
			}
		}
		v.Merges = append(v.Merges, best)
		v.Tokens = append(v.Tokens, best[0]+best[1])
		for i, seg := range segs {
			var out []string
			for j := 0; j < len(seg); j++ {
				if j+1 < len(seg) && seg[j] == best[0] && seg[j+1] == best[1] {
					out = append(out, best[0]+best[1])
					j++
				} else {
					out = append(out, seg[j])
				}
			}
			segs[i] = out
		}
	}
	v.Tokens = append(v.Tokens, bos, eos)
	return v, nil
}

// DefaultVocab is BuildVocab(Corpus()).
func DefaultVocab() (Vocab, error) {
	corpus, err := Corpus()
	if err != nil {
		return Vocab{}, err
	}
	return BuildVocab(corpus)
}

// tokenizerConfig is the tokenizer_config.json written beside the vocabulary: SD 1.x's
// CLIPTokenizer settings (pad with <|endoftext|>) with the toy world's MaxLength.
func tokenizerConfig() map[string]any {
	return map[string]any{
		"tokenizer_class": "CLIPTokenizer", "bos_token": bos, "eos_token": eos, "pad_token": eos,
		"unk_token": eos, "model_max_length": MaxLength, "do_lower_case": true, "errors": "replace",
		"add_prefix_space": false, "clean_up_tokenization_spaces": true,
	}
}

// WriteTokenizer writes v as a transformers CLIPTokenizer folder: vocab.json, merges.txt
// (with its "#version: 0.2" line) and tokenizer_config.json, each atomically.
func (v Vocab) WriteTokenizer(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("basemodel: tokenizer: %w", err)
	}
	ids := make(map[string]int, len(v.Tokens))
	for i, t := range v.Tokens {
		ids[t] = i
	}
	if err := writeJSON(filepath.Join(dir, "vocab.json"), ids); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("#version: 0.2\n")
	for _, m := range v.Merges {
		b.WriteString(m[0] + " " + m[1] + "\n")
	}
	if err := writeFile(filepath.Join(dir, "merges.txt"), []byte(b.String())); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "tokenizer_config.json"), tokenizerConfig())
}

// writeJSON writes v as indented JSON, atomically.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("basemodel: %s: %w", path, err)
	}
	return writeFile(path, append(data, '\n'))
}

// writeFile writes data to path atomically.
func writeFile(path string, data []byte) error {
	if err := safetensors.WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}); err != nil {
		return fmt.Errorf("basemodel: %w", err)
	}
	return nil
}
