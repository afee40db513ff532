package align

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
)

// checkWordPieceReference compares every prompt's word pieces and ids padded to 64 with Google
// BERT's FullTokenizer.
func checkWordPieceReference(t *testing.T, w *WordPiece, ref fixtures.TokenizerRef) {
	t.Helper()
	maxLength := len(ref.BERTPadded64[0])
	ref.CheckPrompts(t, func(i int, prompt string) bool {
		ok := true
		if got, want := w.Tokens(prompt), ref.BERTTokens[i]; !slices.Equal(got, want) {
			t.Errorf("prompt %d %q: Tokens\n got %q\nwant %q", i, prompt, got, want)
			ok = false
		}
		ids, mask, types := w.EncodePadded(prompt, maxLength)
		if want := ref.BERTPadded64[i]; !slices.Equal(ids, want) {
			t.Errorf("prompt %d %q: EncodePadded ids\n got %v\nwant %v", i, prompt, ids, want)
			ok = false
		}
		kept := min(len(ref.BERTTokens[i]), maxLength-2) + 2
		if want := fixtures.PaddingMask(kept, maxLength); !slices.Equal(mask, want) {
			t.Errorf("prompt %d %q: EncodePadded mask\n got %v\nwant %v", i, prompt, mask, want)
			ok = false
		}
		if want := make([]int, maxLength); !slices.Equal(types, want) {
			t.Errorf("prompt %d %q: EncodePadded token types %v, want all 0", i, prompt, types)
			ok = false
		}
		return ok
	})
}

func TestWordPieceReference(t *testing.T) {
	ref := fixtures.TokenizerReference(t)
	w, err := LoadWordPiece(fixtures.Path(t, "tokenizers", "bert_vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if w.VocabSize() != len(ref.BERTVocab) || w.CLS() != slices.Index(ref.BERTVocab, "[CLS]") ||
		w.SEP() != slices.Index(ref.BERTVocab, "[SEP]") || w.Pad() != slices.Index(ref.BERTVocab, "[PAD]") ||
		w.Unk() != slices.Index(ref.BERTVocab, "[UNK]") {
		t.Errorf("VocabSize %d CLS %d SEP %d Pad %d Unk %d, want them from bert_vocab %q",
			w.VocabSize(), w.CLS(), w.SEP(), w.Pad(), w.Unk(), ref.BERTVocab)
	}
	checkWordPieceReference(t, w, ref)
}

// TestWordPieceFolders loads the same vocabulary from folders laid out as transformers writes
// them: vocab.txt with a tokenizer_config.json, or a tokenizer.json alone.
func TestWordPieceFolders(t *testing.T) {
	ref := fixtures.TokenizerReference(t)
	vocab, err := os.ReadFile(fixtures.Path(t, "tokenizers", "bert_vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("vocab.txt", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{
			"vocab.txt": string(vocab),
			"tokenizer_config.json": `{"do_lower_case": true, "model_max_length": 64, "strip_accents": null,
				"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]",
				"tokenizer_class": "BertTokenizer"}`,
			"special_tokens_map.json": `{"cls_token": {"content": "[CLS]"}, "pad_token": "[PAD]"}`,
		})
		w, err := LoadWordPiece(dir)
		if err != nil {
			t.Fatal(err)
		}
		if w.MaxLength() != 64 || !w.LowerCase() {
			t.Errorf("MaxLength %d LowerCase %v, want 64 true", w.MaxLength(), w.LowerCase())
		}
		checkWordPieceReference(t, w, ref)
		ids, _, _ := w.EncodePadded("a photo of sks dog", 0)
		if len(ids) != 64 {
			t.Errorf("EncodePadded(..., 0) has %d ids, want MaxLength() = 64", len(ids))
		}
	})
	t.Run("tokenizer.json", func(t *testing.T) {
		vocabJSON := map[string]int{}
		for i, tok := range strings.Split(strings.TrimSuffix(string(vocab), "\n"), "\n") {
			vocabJSON[tok] = i
		}
		data, err := json.Marshal(map[string]any{
			"version":    "1.0",
			"normalizer": map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": nil, "lowercase": true},
			"model": map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
				"max_input_chars_per_word": 100, "vocab": vocabJSON},
		})
		if err != nil {
			t.Fatal(err)
		}
		w, err := LoadWordPiece(writeFiles(t, map[string]string{"tokenizer.json": string(data)}))
		if err != nil {
			t.Fatal(err)
		}
		if w.MaxLength() != 512 {
			t.Errorf("MaxLength() = %d, want the default 512", w.MaxLength())
		}
		checkWordPieceReference(t, w, ref)
	})
	t.Run("cased", func(t *testing.T) {
		w, err := LoadWordPiece(writeFiles(t, map[string]string{
			"vocab.txt":             string(vocab),
			"tokenizer_config.json": `{"do_lower_case": false}`,
		}))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := w.Tokens("A Dog café"), []string{"[UNK]", "[UNK]", "[UNK]"}; !slices.Equal(got, want) {
			t.Errorf("cased Tokens = %q, want %q", got, want)
		}
		if got, want := w.Tokens("a dog"), []string{"a", "dog"}; !slices.Equal(got, want) {
			t.Errorf("cased Tokens = %q, want %q", got, want)
		}
	})
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestWordPieceLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		path  string // relative to the folder; "" is the folder
		want  string
	}{
		{"missing file", nil, "vocab.txt", "vocab.txt"},
		{"empty folder", nil, "", "vocab.txt"},
		{"empty vocab", map[string]string{"vocab.txt": ""}, "", "vocab.txt"},
		{"no [CLS]", map[string]string{"vocab.txt": "[PAD]\n[UNK]\n[SEP]\n"}, "", "cls_token"},
		{"wrong model", map[string]string{"tokenizer.json": `{"model": {"type": "BPE", "vocab": {"a": 0}}}`}, "", "tokenizer.json"},
		{"bad config", map[string]string{
			"vocab.txt": "[PAD]\n[UNK]\n[CLS]\n[SEP]\n", "tokenizer_config.json": `{"do_lower_case": "yes"}`,
		}, "", "tokenizer_config.json"},
		{"bad max length", map[string]string{
			"vocab.txt": "[PAD]\n[UNK]\n[CLS]\n[SEP]\n", "tokenizer_config.json": `{"model_max_length": 0.5}`,
		}, "", "model_max_length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			_, err := LoadWordPiece(filepath.Join(dir, tc.path))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadWordPiece error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestWordPieceEdgeCases(t *testing.T) {
	w, err := LoadWordPiece(writeFiles(t, map[string]string{"vocab.txt": strings.Join([]string{
		"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "ab", "##b", "##c", "cafe", "creme", "σοφος", "i", "##stanbul",
		"狗", "猫", "!", "?", ".", "$", "^", "`", "¿", "«", "»", "x", "##x", "un", "##aff", "##able", "unaff",
	}, "\n")}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		why  string
		text string
		want []string
	}{
		{"empty", "", nil},
		{"blank", " \t\n\r\u00a0\u3000 ", nil},
		{"lower-casing and accent stripping", "Café CRÈME", []string{"cafe", "creme"}},
		{"final sigma, then stripping leaves ς", "ΣΟΦΟΣ", []string{"σοφος"}},
		{"İ lowers to i + U+0307, whose mark is stripped", "\u0130stanbul", []string{"i", "##stanbul"}},
		{"a lone combining mark vanishes", "a\u0301 \u0301 b", []string{"a", "b"}},
		{"CJK ideographs stand alone", "狗猫a狗", []string{"狗", "猫", "a", "狗"}},
		{"punctuation splits off", "ab!?", []string{"ab", "!", "?"}},
		{"ASCII symbols count as punctuation", "$a^b`", []string{"$", "a", "^", "b", "`"}},
		{"Unicode P categories too", "¿«a»", []string{"¿", "«", "a", "»"}},
		{"controls, U+FFFD and format characters vanish", "a\x00b\ufffdc\u200b ab\x7f", []string{"ab", "##c", "ab"}},
		{"greedy longest match first", "abc", []string{"ab", "##c"}},
		{"the longest prefix wins over un", "unaffable", []string{"unaff", "##able"}},
		{"a word that cannot be spelled is one [UNK]", "abd a", []string{"[UNK]", "a"}},
		{"Python's split() sees U+2028 as a space", "a\u2028b", []string{"a", "b"}},
		{"100 characters: still spelled", strings.Repeat("x", 100), append([]string{"x"}, slices.Repeat([]string{"##x"}, 99)...)},
	} {
		if got := w.Tokens(tc.text); !slices.Equal(got, tc.want) || got == nil {
			t.Errorf("%s: Tokens(%q) = %#v, want %q", tc.why, tc.text, got, tc.want)
		}
	}
	if got := w.Tokens(strings.Repeat("x", 101)); !slices.Equal(got, []string{"[UNK]"}) {
		t.Errorf("a 101-character word gives %q, want [UNK]", got)
	}

	// Long texts: [CLS] + the first maxLen-2 ids + [SEP], nothing dropped from Encode.
	long := strings.Repeat("a b ", 50)
	if n := len(w.Encode(long)); n != 100 {
		t.Errorf("Encode(long) has %d ids, want 100", n)
	}
	ids, mask, types := w.EncodePadded(long, 16)
	wantIDs := append([]int{w.CLS()}, slices.Repeat([]int{4, 5}, 7)...)
	wantIDs = append(wantIDs, w.SEP())
	if !slices.Equal(ids, wantIDs) || slices.Contains(mask, 0) || slices.Contains(types, 1) || len(types) != 16 {
		t.Errorf("EncodePadded(long, 16) = %v %v %v, want %v", ids, mask, types, wantIDs)
	}
	ids, mask, _ = w.EncodePadded("", 4)
	if !slices.Equal(ids, []int{w.CLS(), w.SEP(), w.Pad(), w.Pad()}) || !slices.Equal(mask, []int{1, 1, 0, 0}) {
		t.Errorf("EncodePadded(\"\", 4) = %v %v", ids, mask)
	}
	if ids, _, _ := w.EncodePadded("a", 1); !slices.Equal(ids, []int{w.CLS(), w.SEP()}) {
		t.Errorf("EncodePadded(\"a\", 1) = %v, want [CLS] [SEP]", ids)
	}

	batchIDs, batchMask, batchTypes := w.BatchEncode([]string{"a b", long}, 8)
	for i, text := range []string{"a b", long} {
		ids, mask, types := w.EncodePadded(text, 8)
		if !slices.Equal(batchIDs[i], ids) || !slices.Equal(batchMask[i], mask) || !slices.Equal(batchTypes[i], types) {
			t.Errorf("BatchEncode[%d] differs from EncodePadded", i)
		}
	}
}

func ExampleWordPiece() {
	w, err := LoadWordPiece("../testdata/fixtures/tokenizers/bert_vocab.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(w.Tokens("A cube shaped sks teapot, on the Moon!"))
	ids, mask, _ := w.EncodePadded("a sks backpack", 8)
	fmt.Println(ids, mask)
	// Output:
	// [a cube shaped sks tea ##pot , on the moon !]
	// [2 28 32 33 26 3 0 0] [1 1 1 1 1 1 0 0]
}
