package bpe

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/gorpo/gorpo/internal/modelfs"
	"github.com/gorpo/gorpo/internal/pytext"
)

// CLIP's special tokens and sequence length, used when a tokenizer folder does not name them.
const (
	defaultBOS       = "<|startoftext|>"
	defaultEOS       = "<|endoftext|>"
	defaultMaxLength = 77
)

// Tokenizer is the byte-level BPE tokenizer of CLIP's text encoder, as Stable Diffusion's
// `tokenizer/` folder ships it. It reproduces OpenAI's clip/simple_tokenizer.py, Python string
// semantics included: HTML unescaping (twice), whitespace clean-up, lower-casing, the CLIP
// pre-tokenizer regex, byte-to-unicode mapping and BPE by merge rank with "</w>" ending each word.
// ftfy's text fixing is not applied (it is the identity on well-formed text). transformers'
// CLIPTokenizer gives the same ids on ordinary text; it leaves HTML character references as
// they are.
//
// A Tokenizer is safe for concurrent use.
type Tokenizer struct {
	vocab  map[string]int
	merges *bpe

	bos, eos, pad, unk int
	maxLength          int
}

// Load reads a tokenizer folder: `vocab.json` + `merges.txt`, or else `tokenizer.json`
// (the transformers fast-tokenizer file: model.vocab and model.merges). The special tokens
// (bos_token, eos_token, pad_token, unk_token) and model_max_length come from
// `tokenizer_config.json` and `special_tokens_map.json` when present, the latter taking precedence
// as in transformers. Without them the tokens are CLIP's own: `<|startoftext|>` begins a
// sequence and `<|endoftext|>` ends, pads and replaces unknown symbols (Stable Diffusion 1.x;
// 2.x pads with "!"), and sequences are 77 tokens long.
func Load(dir string) (*Tokenizer, error) { return LoadIn(modelfs.OS, dir) }

// LoadIn is Load on the folder dir of the file system m.
func LoadIn(m modelfs.FS, dir string) (*Tokenizer, error) {
	if err := m.CheckDir("clip tokenizer", dir); err != nil {
		return nil, err
	}
	vocab, merges, err := readBPEFiles(m, dir)
	if err != nil {
		return nil, err
	}
	cfg := tokenizerConfig{
		BOS: pytext.SpecialToken(defaultBOS), EOS: pytext.SpecialToken(defaultEOS),
		Pad: pytext.SpecialToken(defaultEOS), Unk: pytext.SpecialToken(defaultEOS),
	}
	for _, name := range []string{"tokenizer_config.json", "special_tokens_map.json"} {
		if err := pytext.ReadJSONIfPresentIn(m, m.Join(dir, name), &cfg); err != nil {
			return nil, fmt.Errorf("clip tokenizer: %w", err)
		}
	}
	t := &Tokenizer{vocab: vocab, merges: newBPE(merges)}
	if err := pytext.LookUpTokenIDs(vocab,
		pytext.TokenID{Field: "bos_token", Token: cfg.BOS, ID: &t.bos},
		pytext.TokenID{Field: "eos_token", Token: cfg.EOS, ID: &t.eos},
		pytext.TokenID{Field: "pad_token", Token: cfg.Pad, ID: &t.pad},
		pytext.TokenID{Field: "unk_token", Token: cfg.Unk, ID: &t.unk},
	); err != nil {
		return nil, fmt.Errorf("clip tokenizer %s: %w", dir, err)
	}
	// transformers' "no limit" sentinel keeps CLIP's 77.
	if t.maxLength, err = pytext.ModelMaxLength(cfg.MaxLength, defaultMaxLength); err != nil {
		return nil, fmt.Errorf("clip tokenizer %s: %w", dir, err)
	}
	return t, nil
}

// readBPEFiles reads the vocabulary and the ranked merges from vocab.json + merges.txt, or from
// tokenizer.json when the folder has no vocab.json.
func readBPEFiles(m modelfs.FS, dir string) (map[string]int, []symbolPair, error) {
	vocabPath := m.Join(dir, "vocab.json")
	data, err := m.ReadFile(vocabPath)
	if errors.Is(err, fs.ErrNotExist) {
		fastPath := m.Join(dir, "tokenizer.json")
		if m.Exists(fastPath) {
			return readFastTokenizerBPE(m, fastPath)
		}
		return nil, nil, fmt.Errorf("clip tokenizer: %w (and no tokenizer.json beside it)", err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("clip tokenizer: %w", err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(data, &vocab); err != nil {
		return nil, nil, fmt.Errorf("clip tokenizer: %s: %w", vocabPath, err)
	}
	mergesPath := m.Join(dir, "merges.txt")
	f, err := m.Open(mergesPath)
	if err != nil {
		return nil, nil, fmt.Errorf("clip tokenizer: %w", err)
	}
	defer f.Close()
	var merges []symbolPair
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" || (line == 1 && strings.HasPrefix(text, "#version")) {
			continue
		}
		p, err := parseMerge(text)
		if err != nil {
			return nil, nil, fmt.Errorf("clip tokenizer: %s:%d: %w", mergesPath, line, err)
		}
		merges = append(merges, p)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("clip tokenizer: %s: %w", mergesPath, err)
	}
	return vocab, merges, nil
}

func parseMerge(s string) (symbolPair, error) {
	left, right, ok := strings.Cut(s, " ")
	if !ok || left == "" || right == "" || strings.Contains(right, " ") {
		return symbolPair{}, fmt.Errorf("merge %q, want two symbols separated by one space", s)
	}
	return symbolPair{left, right}, nil
}

// readFastTokenizerBPE reads model.vocab and model.merges of a transformers tokenizer.json.
// Merges are either "a b" strings or ["a", "b"] pairs, depending on the tokenizers version.
func readFastTokenizerBPE(m modelfs.FS, path string) (map[string]int, []symbolPair, error) {
	data, err := m.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("clip tokenizer: %w", err)
	}
	var file struct {
		Model struct {
			Type   string            `json:"type"`
			Vocab  map[string]int    `json:"vocab"`
			Merges []json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, nil, fmt.Errorf("clip tokenizer: %s: %w", path, err)
	}
	if file.Model.Type != "" && file.Model.Type != "BPE" {
		return nil, nil, fmt.Errorf("clip tokenizer: %s: model.type %q, want \"BPE\"", path, file.Model.Type)
	}
	if len(file.Model.Vocab) == 0 {
		return nil, nil, fmt.Errorf("clip tokenizer: %s: model.vocab is missing or empty", path)
	}
	merges := make([]symbolPair, 0, len(file.Model.Merges))
	for i, raw := range file.Model.Merges {
		var s string
		var pair []string
		switch {
		case json.Unmarshal(raw, &s) == nil:
			p, err := parseMerge(s)
			if err != nil {
				return nil, nil, fmt.Errorf("clip tokenizer: %s: model.merges[%d]: %w", path, i, err)
			}
			merges = append(merges, p)
		case json.Unmarshal(raw, &pair) == nil && len(pair) == 2:
			merges = append(merges, symbolPair{pair[0], pair[1]})
		default:
			return nil, nil, fmt.Errorf("clip tokenizer: %s: model.merges[%d] is %s, want \"a b\" or [\"a\", \"b\"]", path, i, raw)
		}
	}
	return file.Model.Vocab, merges, nil
}

// tokenizerConfig holds the fields of tokenizer_config.json / special_tokens_map.json that the
// tokenizer uses; fields absent from a file keep their value.
type tokenizerConfig struct {
	BOS       pytext.SpecialToken `json:"bos_token"`
	EOS       pytext.SpecialToken `json:"eos_token"`
	Pad       pytext.SpecialToken `json:"pad_token"`
	Unk       pytext.SpecialToken `json:"unk_token"`
	MaxLength *json.Number        `json:"model_max_length"`
}

// BOS returns the id that begins every padded sequence (`<|startoftext|>`, 49406 in CLIP).
func (t *Tokenizer) BOS() int { return t.bos }

// EOS returns the id that ends every padded sequence (`<|endoftext|>`, 49407 in CLIP).
func (t *Tokenizer) EOS() int { return t.eos }

// Pad returns the id that fills padded sequences: `<|endoftext|>` for Stable Diffusion 1.x,
// "!" (0) for 2.x.
func (t *Tokenizer) Pad() int { return t.pad }

// MaxLength returns the padded sequence length, model_max_length (77 for CLIP).
func (t *Tokenizer) MaxLength() int { return t.maxLength }

// VocabSize returns the number of entries in the vocabulary.
func (t *Tokenizer) VocabSize() int { return len(t.vocab) }

// Tokens returns the BPE symbols of text, without begin and end tokens: "a dog's toy" gives
// ["a</w>", "dog</w>", "'s</w>", "toy</w>"]. Non-ASCII bytes are spelled with the byte-to-unicode
// table ("café" gives "cafÃ©</w>").
func (t *Tokenizer) Tokens(text string) []string {
	var out []string
	t.walk(text, func(sym string) bool { out = append(out, sym); return true })
	return out
}

// Encode returns the token ids of text, without begin and end tokens and without truncation.
// Symbols missing from the vocabulary (only possible with an inconsistent merges file) map to
// the unknown token.
func (t *Tokenizer) Encode(text string) []int {
	return t.encode(text, -1)
}

// encode is Encode stopped after limit ids (no limit when negative): the ids kept are the same.
func (t *Tokenizer) encode(text string, limit int) []int {
	ids := []int{}
	if limit == 0 {
		return ids
	}
	t.walk(text, func(sym string) bool {
		id, ok := t.vocab[sym]
		if !ok {
			id = t.unk
		}
		ids = append(ids, id)
		return limit < 0 || len(ids) < limit
	})
	return ids
}

// EncodePadded returns the MaxLength() ids the text encoder takes: BOS, the first
// MaxLength()-2 ids of Encode(text), EOS, then Pad() up to MaxLength() (what transformers gives
// for padding="max_length", truncation=True). mask is 1 over BOS, the kept ids and EOS, 0 over
// the padding.
func (t *Tokenizer) EncodePadded(text string) (ids, mask []int) {
	body := t.encode(text, t.maxLength-2) // the words past the kept ids are never merged
	if n := t.maxLength - 2; len(body) > n {
		body = body[:n]
	}
	ids = make([]int, t.maxLength)
	mask = make([]int, t.maxLength)
	ids[0], mask[0] = t.bos, 1
	copy(ids[1:], body)
	for i := 1; i <= len(body)+1; i++ {
		mask[i] = 1
	}
	ids[len(body)+1] = t.eos
	for i := len(body) + 2; i < t.maxLength; i++ {
		ids[i] = t.pad
	}
	return ids, mask
}

// BatchEncode applies EncodePadded to each text: ids and mask are [len(texts)][MaxLength()].
func (t *Tokenizer) BatchEncode(texts []string) (ids, mask [][]int) {
	ids = make([][]int, len(texts))
	mask = make([][]int, len(texts))
	for i, text := range texts {
		ids[i], mask[i] = t.EncodePadded(text)
	}
	return ids, mask
}

// walk cleans text as simple_tokenizer does (html.unescape twice, whitespace collapsed and
// trimmed, lower-cased), splits it into words with the pre-tokenizer and calls emit with each
// BPE symbol in order, until emit returns false. The special-token strings `<|startoftext|>` and
// `<|endoftext|>` written in the text are kept whole. Everything but the merges is linear in the
// text; the merges are O(n log n) in a word's length.
func (t *Tokenizer) walk(text string, emit func(sym string) bool) {
	text = unescapeHTML(unescapeHTML(text))
	text = pytext.Lower(cleanWhitespace(text))
	var word []rune
	for _, w := range preTokenizer.FindAllString(text, -1) {
		if w == defaultBOS || w == defaultEOS {
			if _, ok := t.vocab[w]; ok {
				if !emit(w) {
					return
				}
				continue
			}
		}
		word = word[:0]
		for i := 0; i < len(w); i++ {
			word = append(word, byteEncoder[w[i]])
		}
		for _, sym := range t.merges.encode(string(word)) {
			if !emit(sym) {
				return
			}
		}
	}
}
