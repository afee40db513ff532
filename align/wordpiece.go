package align

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/gorpo/gorpo/internal/modelfs"
	"github.com/gorpo/gorpo/internal/pytext"
)

// WordPiece is BERT's tokenizer, the one ALIGN's text tower reads: Google BERT's
// tokenization.FullTokenizer (the reference behind transformers' BertTokenizer), that is a
// BasicTokenizer (text clean-up, CJK characters split off, lower-casing and accent stripping,
// punctuation split off) followed by greedy longest-match-first WordPiece with "##" continuations.
//
// A WordPiece is safe for concurrent use.
type WordPiece struct {
	vocab map[string]int

	lowerCase    bool
	stripAccents bool
	prefix       string // continuing_subword_prefix, "##"
	maxChars     int    // longer words become the unknown token
	maxPiece     int    // the longest vocabulary entry, in characters: no longer piece can match
	maxLength    int

	unkToken           string
	unk, cls, sep, pad int
}

// Defaults of transformers' BertTokenizer, used where a folder does not say otherwise.
const (
	defaultMaxChars  = 100
	defaultMaxLength = 512
)

// LoadWordPiece reads a WordPiece tokenizer from path: a folder holding `vocab.txt` (one token per
// line, the id being the line number) or else `tokenizer.json` (transformers' fast-tokenizer file,
// model.type "WordPiece"), or one such file itself. In a folder, `tokenizer_config.json` and
// `special_tokens_map.json` (the latter taking precedence, as in transformers) set do_lower_case
// (default true), strip_accents (default: follows do_lower_case), model_max_length (default 512)
// and the names of unk_token, cls_token, sep_token and pad_token (default "[UNK]", "[CLS]",
// "[SEP]", "[PAD]"), whose ids are looked up in the vocabulary. A tokenizer.json's BertNormalizer
// and model settings are read too, the config files overriding them. Words longer than
// max_input_chars_per_word characters (tokenizer.json's, else 100 as in transformers; Google's
// FullTokenizer uses 200) become the unknown token.
func LoadWordPiece(path string) (*WordPiece, error) { return loadWordPiece(modelfs.OS, path) }

// LoadWordPieceFS is LoadWordPiece on path inside fsys (slash-separated), such as an embed.FS.
func LoadWordPieceFS(fsys fs.FS, path string) (*WordPiece, error) {
	if err := modelfs.In(fsys).CheckDir("align: wordpiece", path); err != nil {
		return nil, err
	}
	return loadWordPiece(modelfs.In(fsys), path)
}

func loadWordPiece(fsys modelfs.FS, path string) (*WordPiece, error) {
	info, err := fsys.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("align: wordpiece: %w", err)
	}
	dir, file := path, ""
	if info.IsDir() {
		file = fsys.Join(dir, "vocab.txt")
		if _, err := fsys.Stat(file); errors.Is(err, fs.ErrNotExist) {
			fast := fsys.Join(dir, "tokenizer.json")
			if _, err := fsys.Stat(fast); err != nil {
				return nil, fmt.Errorf("align: wordpiece: %s: no vocab.txt or tokenizer.json", dir)
			}
			file = fast
		}
	} else {
		dir, file = fsys.Dir(path), path
	}

	cfg := wordPieceConfig{
		Unk: "[UNK]", CLS: "[CLS]", Sep: "[SEP]", Pad: "[PAD]",
		MaxChars: defaultMaxChars, Prefix: "##",
	}
	var vocab map[string]int
	if strings.HasSuffix(file, ".json") {
		vocab, err = readFastTokenizerWordPiece(fsys, file, &cfg)
	} else {
		vocab, err = readVocabTxt(fsys, file)
	}
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		for _, name := range []string{"tokenizer_config.json", "special_tokens_map.json"} {
			if err := pytext.ReadJSONIfPresentIn(fsys, fsys.Join(dir, name), &cfg); err != nil {
				return nil, fmt.Errorf("align: wordpiece: %w", err)
			}
		}
	}

	w := &WordPiece{
		vocab:     vocab,
		lowerCase: cfg.LowerCase == nil || *cfg.LowerCase,
		prefix:    cfg.Prefix,
		maxChars:  cfg.MaxChars,
		unkToken:  string(cfg.Unk),
	}
	for tok := range vocab {
		w.maxPiece = max(w.maxPiece, utf8.RuneCountInString(tok))
	}
	w.stripAccents = w.lowerCase
	if cfg.StripAccents != nil {
		w.stripAccents = *cfg.StripAccents
	}
	if err := pytext.LookUpTokenIDs(vocab,
		pytext.TokenID{Field: "unk_token", Token: cfg.Unk, ID: &w.unk},
		pytext.TokenID{Field: "cls_token", Token: cfg.CLS, ID: &w.cls},
		pytext.TokenID{Field: "sep_token", Token: cfg.Sep, ID: &w.sep},
		pytext.TokenID{Field: "pad_token", Token: cfg.Pad, ID: &w.pad},
	); err != nil {
		return nil, fmt.Errorf("align: wordpiece: %s: %w", file, err)
	}
	// transformers' "no limit" sentinel keeps BERT's 512.
	if w.maxLength, err = pytext.ModelMaxLength(cfg.MaxLength, defaultMaxLength); err != nil {
		return nil, fmt.Errorf("align: wordpiece: %s: %w", dir, err)
	}
	return w, nil
}

// readVocabTxt reads BERT's vocab.txt: token i is line i, surrounding whitespace stripped; a
// token listed twice keeps its last line.
func readVocabTxt(fsys modelfs.FS, path string) (map[string]int, error) {
	data, err := fsys.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("align: wordpiece: %w", err)
	}
	lines := strings.Split(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("align: wordpiece: %s: empty vocabulary", path)
	}
	vocab := make(map[string]int, len(lines))
	for i, line := range lines {
		vocab[strings.TrimFunc(line, pytext.IsSpace)] = i
	}
	return vocab, nil
}

// readFastTokenizerWordPiece reads model.vocab of a transformers tokenizer.json, with the model's
// unk_token, continuing_subword_prefix and max_input_chars_per_word and the BertNormalizer's
// lowercase and strip_accents as defaults for cfg.
func readFastTokenizerWordPiece(fsys modelfs.FS, path string, cfg *wordPieceConfig) (map[string]int, error) {
	data, err := fsys.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("align: wordpiece: %w", err)
	}
	var file struct {
		Normalizer *struct {
			Type         string `json:"type"`
			Lowercase    *bool  `json:"lowercase"`
			StripAccents *bool  `json:"strip_accents"`
		} `json:"normalizer"`
		Model struct {
			Type     string         `json:"type"`
			Vocab    map[string]int `json:"vocab"`
			Unk      *string        `json:"unk_token"`
			Prefix   *string        `json:"continuing_subword_prefix"`
			MaxChars *int           `json:"max_input_chars_per_word"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("align: wordpiece: %s: %w", path, err)
	}
	m := file.Model
	if m.Type != "WordPiece" {
		return nil, fmt.Errorf("align: wordpiece: %s: model.type %q, want \"WordPiece\"", path, m.Type)
	}
	if len(m.Vocab) == 0 {
		return nil, fmt.Errorf("align: wordpiece: %s: model.vocab is missing or empty", path)
	}
	if m.Unk != nil {
		cfg.Unk = pytext.SpecialToken(*m.Unk)
	}
	if m.Prefix != nil {
		cfg.Prefix = *m.Prefix
	}
	if m.MaxChars != nil {
		cfg.MaxChars = *m.MaxChars
	}
	if n := file.Normalizer; n != nil && n.Type == "BertNormalizer" {
		cfg.LowerCase, cfg.StripAccents = n.Lowercase, n.StripAccents
	}
	return m.Vocab, nil
}

// wordPieceConfig gathers the settings read from tokenizer.json, tokenizer_config.json and
// special_tokens_map.json; a field absent from a file keeps its value.
type wordPieceConfig struct {
	LowerCase    *bool               `json:"do_lower_case"`
	StripAccents *bool               `json:"strip_accents"`
	MaxLength    *json.Number        `json:"model_max_length"`
	Unk          pytext.SpecialToken `json:"unk_token"`
	CLS          pytext.SpecialToken `json:"cls_token"`
	Sep          pytext.SpecialToken `json:"sep_token"`
	Pad          pytext.SpecialToken `json:"pad_token"`

	Prefix   string `json:"-"`
	MaxChars int    `json:"-"`
}

// CLS returns the id of "[CLS]", which begins every padded sequence.
func (w *WordPiece) CLS() int { return w.cls }

// SEP returns the id of "[SEP]", which ends every padded sequence.
func (w *WordPiece) SEP() int { return w.sep }

// Pad returns the id of "[PAD]" (0 in BERT's vocabulary), which fills padded sequences.
func (w *WordPiece) Pad() int { return w.pad }

// Unk returns the id of "[UNK]", given to words the vocabulary cannot spell.
func (w *WordPiece) Unk() int { return w.unk }

// MaxLength returns model_max_length (512 unless the tokenizer folder says otherwise; ALIGN
// pads its prompts to 64).
func (w *WordPiece) MaxLength() int { return w.maxLength }

// LowerCase reports whether text is lower-cased (do_lower_case).
func (w *WordPiece) LowerCase() bool { return w.lowerCase }

// VocabSize returns the number of entries in the vocabulary.
func (w *WordPiece) VocabSize() int { return len(w.vocab) }

// Tokens returns the word pieces of text, without [CLS] and [SEP]: "a teapot!" gives
// ["a", "tea", "##pot", "!"] when the vocabulary has those pieces.
func (w *WordPiece) Tokens(text string) []string {
	out := []string{}
	for _, word := range w.basicTokens(text) {
		out = w.appendWordPieces(out, word)
	}
	return out
}

// Encode returns the ids of Tokens(text), without [CLS] and [SEP] and without truncation.
func (w *WordPiece) Encode(text string) []int {
	toks := w.Tokens(text)
	ids := make([]int, len(toks))
	for i, tok := range toks {
		id, ok := w.vocab[tok]
		if !ok {
			id = w.unk
		}
		ids[i] = id
	}
	return ids
}

// EncodePadded returns the three maxLen-long inputs of BERT for one text: ids is [CLS], the first
// maxLen-2 ids of Encode(text), [SEP], then [PAD] up to maxLen (what transformers gives for
// padding="max_length", truncation=True); attentionMask is 1 over [CLS], the kept ids and [SEP],
// 0 over the padding; tokenTypeIDs is all 0 (one segment). maxLen <= 0 means MaxLength(); a
// maxLen of 1 is raised to 2, the room [CLS] and [SEP] need.
func (w *WordPiece) EncodePadded(text string, maxLen int) (ids, attentionMask, tokenTypeIDs []int) {
	if maxLen <= 0 {
		maxLen = w.maxLength
	}
	maxLen = max(maxLen, 2)
	body := w.Encode(text)
	if len(body) > maxLen-2 {
		body = body[:maxLen-2]
	}
	ids = make([]int, maxLen)
	attentionMask = make([]int, maxLen)
	tokenTypeIDs = make([]int, maxLen)
	ids[0] = w.cls
	copy(ids[1:], body)
	ids[len(body)+1] = w.sep
	for i := range ids {
		if i < len(body)+2 {
			attentionMask[i] = 1
		} else {
			ids[i] = w.pad
		}
	}
	return ids, attentionMask, tokenTypeIDs
}

// BatchEncode applies EncodePadded to each text: every result is [len(texts)][maxLen].
func (w *WordPiece) BatchEncode(texts []string, maxLen int) (ids, attentionMask, tokenTypeIDs [][]int) {
	ids = make([][]int, len(texts))
	attentionMask = make([][]int, len(texts))
	tokenTypeIDs = make([][]int, len(texts))
	for i, text := range texts {
		ids[i], attentionMask[i], tokenTypeIDs[i] = w.EncodePadded(text, maxLen)
	}
	return ids, attentionMask, tokenTypeIDs
}

// basicTokens is BERT's BasicTokenizer: clean the text, put spaces around CJK ideographs, split on
// whitespace, lower-case and strip accents each word, split punctuation off, and split on
// whitespace again.
func (w *WordPiece) basicTokens(text string) []string {
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range text {
		switch {
		case r == 0 || r == utf8.RuneError || isControl(r):
		case isWhitespace(r):
			b.WriteByte(' ')
		case isCJK(r):
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	var pieces []string
	for _, word := range strings.FieldsFunc(b.String(), pytext.IsSpace) {
		if w.lowerCase {
			word = pytext.Lower(word)
		}
		if w.stripAccents {
			word = stripAccents(word)
		}
		pieces = splitPunctuation(pieces, word)
	}
	// Joining and splitting again drops words that stripping accents emptied.
	return strings.FieldsFunc(strings.Join(pieces, " "), pytext.IsSpace)
}

// appendWordPieces appends the greedy longest-match-first WordPiece spelling of word to out: the
// longest vocabulary entry that prefixes the word, then the longest "##"-prefixed entry that
// prefixes the rest, and so on; a word that cannot be spelled this way, or is longer than
// max_input_chars_per_word characters, becomes the unknown token as a whole.
func (w *WordPiece) appendWordPieces(out []string, word string) []string {
	chars := []rune(word)
	if len(chars) > w.maxChars {
		return append(out, w.unkToken)
	}
	n := len(out)
	for start := 0; start < len(chars); {
		// Only candidates no longer than the longest vocabulary entry can match: this keeps a word
		// linear in its length whatever max_input_chars_per_word allows.
		end := min(len(chars), start+w.maxPiece)
		piece := ""
		for ; end > start; end-- {
			candidate := string(chars[start:end])
			if start > 0 {
				candidate = w.prefix + candidate
			}
			if _, ok := w.vocab[candidate]; ok {
				piece = candidate
				break
			}
		}
		if end == start {
			return append(out[:n], w.unkToken)
		}
		out = append(out, piece)
		start = end
	}
	return out
}

// isWhitespace is BERT's _is_whitespace: space, tab, newline, carriage return and category Zs.
func isWhitespace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || unicode.Is(unicode.Zs, r)
}

// isControl is BERT's _is_control: categories Cc and Cf, except tab, newline and carriage
// return. (transformers drops every C category, so private-use and unassigned characters too.)
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf)
}

// isPunctuation is BERT's _is_punctuation: every non-alphanumeric printable ASCII character
// ("$", "^", "`" included) and category P.
func isPunctuation(r rune) bool {
	if (33 <= r && r <= 47) || (58 <= r && r <= 64) || (91 <= r && r <= 96) || (123 <= r && r <= 126) {
		return true
	}
	return unicode.IsPunct(r)
}

// isCJK reports whether r is in a CJK Unified Ideographs block (or its extensions and the
// compatibility ideographs): BERT's _is_chinese_char. Hangul, Hiragana and Katakana are not.
func isCJK(r rune) bool {
	return (0x4E00 <= r && r <= 0x9FFF) ||
		(0x3400 <= r && r <= 0x4DBF) ||
		(0x20000 <= r && r <= 0x2A6DF) ||
		(0x2A700 <= r && r <= 0x2B73F) ||
		(0x2B740 <= r && r <= 0x2B81F) ||
		(0x2B820 <= r && r <= 0x2CEAF) ||
		(0xF900 <= r && r <= 0xFAFF) ||
		(0x2F800 <= r && r <= 0x2FA1F)
}

// stripAccents decomposes s (NFD) and drops the non-spacing marks (category Mn).
func stripAccents(s string) string {
	s = norm.NFD.String(s)
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, s)
}

// splitPunctuation appends the pieces of word to out, each punctuation character standing alone.
func splitPunctuation(out []string, word string) []string {
	start := 0
	for i, r := range word {
		if isPunctuation(r) {
			if start < i {
				out = append(out, word[start:i])
			}
			out = append(out, string(r))
			start = i + utf8.RuneLen(r)
		}
	}
	if start < len(word) {
		out = append(out, word[start:])
	}
	return out
}
