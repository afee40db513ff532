package bpe

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
)

// The shared tokenizer of the fixture folder: loading parses ~1.5 MB, so do it once.
var (
	fixtureTokOnce sync.Once
	fixtureTok     *Tokenizer
	fixtureTokErr  error
)

func fixtureTokenizer(t *testing.T) *Tokenizer {
	t.Helper()
	dir := fixtures.Path(t, "tokenizers", "clip")
	fixtureTokOnce.Do(func() { fixtureTok, fixtureTokErr = Load(dir) })
	if fixtureTokErr != nil {
		t.Fatal(fixtureTokErr)
	}
	return fixtureTok
}

// checkAgainstReference compares every prompt's tokens, ids and SD-1.x padded ids.
func checkAgainstReference(t *testing.T, tok *Tokenizer, ref fixtures.TokenizerRef) {
	t.Helper()
	ref.CheckPrompts(t, func(i int, prompt string) bool {
		ok := true
		if got, want := tok.Tokens(prompt), ref.CLIPTokens[i]; !slices.Equal(got, want) {
			t.Errorf("prompt %d %q: Tokens\n got %q\nwant %q", i, prompt, got, want)
			ok = false
		}
		if got, want := tok.Encode(prompt), ref.CLIPIDs[i]; !slices.Equal(got, want) {
			t.Errorf("prompt %d %q: Encode\n got %v\nwant %v", i, prompt, got, want)
			ok = false
		}
		ids, mask := tok.EncodePadded(prompt)
		if want := ref.CLIPPaddedSD1[i]; !slices.Equal(ids, want) {
			t.Errorf("prompt %d %q: EncodePadded\n got %v\nwant %v", i, prompt, ids, want)
			ok = false
		}
		kept := min(len(ref.CLIPIDs[i]), tok.MaxLength()-2) + 2
		if want := fixtures.PaddingMask(kept, tok.MaxLength()); !slices.Equal(mask, want) {
			t.Errorf("prompt %d %q: EncodePadded mask\n got %v\nwant %v", i, prompt, mask, want)
			ok = false
		}
		return ok
	})
}

func TestCLIPTokenizerReference(t *testing.T) {
	tok := fixtureTokenizer(t)
	ref := fixtures.TokenizerReference(t)
	if tok.MaxLength() != len(ref.CLIPPaddedSD1[0]) {
		t.Fatalf("MaxLength() = %d, reference pads to %d", tok.MaxLength(), len(ref.CLIPPaddedSD1[0]))
	}
	if tok.BOS() != ref.CLIPPaddedSD1[0][0] || tok.EOS() != tok.Pad() {
		t.Errorf("BOS %d EOS %d Pad %d: want BOS %d and Pad = EOS (SD 1.x)", tok.BOS(), tok.EOS(), tok.Pad(), ref.CLIPPaddedSD1[0][0])
	}
	checkAgainstReference(t, tok, ref)
}

// copyTokenizerFiles lays out a Stable Diffusion `tokenizer/` folder in a temporary directory:
// the fixture's vocab.json and merges.txt plus the given extra files.
func copyTokenizerFiles(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"vocab.json", "merges.txt"} {
		data, err := os.ReadFile(fixtures.Path(t, "tokenizers", "clip", name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), string(data))
	}
	for name, content := range extra {
		writeFile(t, filepath.Join(dir, name), content)
	}
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tokenizer_config.json and special_tokens_map.json as Stable Diffusion 1.x ships them.
const (
	sd1TokenizerConfig = `{
  "add_prefix_space": false,
  "bos_token": {"__type": "AddedToken", "content": "<|startoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
  "do_lower_case": true,
  "eos_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
  "errors": "replace",
  "model_max_length": 77,
  "name_or_path": "openai/clip-vit-large-patch14",
  "pad_token": "<|endoftext|>",
  "special_tokens_map_file": "./special_tokens_map.json",
  "tokenizer_class": "CLIPTokenizer",
  "unk_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false}
}`
	sd1SpecialTokensMap = `{
  "bos_token": {"content": "<|startoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
  "eos_token": {"content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
  "pad_token": "<|endoftext|>",
  "unk_token": {"content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false}
}`
)

// Stable Diffusion 2.x's files differ from 1.x's only in name_or_path, the absence of
// special_tokens_map_file and, what matters, special_tokens_map.json's pad_token: "!".
var (
	sd2TokenizerConfig = strings.NewReplacer(
		`"openai/clip-vit-large-patch14"`, `"hf-models/clip-vit-large-patch14"`,
		`  "special_tokens_map_file": "./special_tokens_map.json",`+"\n", "",
	).Replace(sd1TokenizerConfig)
	sd2SpecialTokensMap = strings.Replace(sd1SpecialTokensMap, `"pad_token": "<|endoftext|>"`, `"pad_token": "!"`, 1)
)

func TestCLIPTokenizerStableDiffusionFolders(t *testing.T) {
	ref := fixtures.TokenizerReference(t)
	t.Run("sd1", func(t *testing.T) {
		tok, err := Load(copyTokenizerFiles(t, map[string]string{
			"tokenizer_config.json": sd1TokenizerConfig, "special_tokens_map.json": sd1SpecialTokensMap,
		}))
		if err != nil {
			t.Fatal(err)
		}
		if tok.Pad() != tok.EOS() || tok.MaxLength() != 77 || tok.VocabSize() != 49408 {
			t.Errorf("Pad %d EOS %d MaxLength %d VocabSize %d: want Pad = EOS, 77, 49408", tok.Pad(), tok.EOS(), tok.MaxLength(), tok.VocabSize())
		}
		checkAgainstReference(t, tok, ref)
	})
	t.Run("sd2", func(t *testing.T) {
		// special_tokens_map.json's pad_token ("!") wins over tokenizer_config.json's.
		tok, err := Load(copyTokenizerFiles(t, map[string]string{
			"tokenizer_config.json": sd2TokenizerConfig, "special_tokens_map.json": sd2SpecialTokensMap,
		}))
		if err != nil {
			t.Fatal(err)
		}
		if tok.Pad() != 0 {
			t.Fatalf("Pad() = %d, want 0 (\"!\")", tok.Pad())
		}
		for i, prompt := range ref.Prompts {
			want := slices.Clone(ref.CLIPPaddedSD1[i])
			n := min(len(ref.CLIPIDs[i]), 75) + 2
			for j := n; j < len(want); j++ {
				want[j] = 0
			}
			if got, _ := tok.EncodePadded(prompt); !slices.Equal(got, want) {
				t.Errorf("prompt %d %q:\n got %v\nwant %v", i, prompt, got, want)
			}
		}
	})
	t.Run("max_length", func(t *testing.T) {
		tok, err := Load(copyTokenizerFiles(t, map[string]string{
			"tokenizer_config.json": `{"model_max_length": 8, "pad_token": "!"}`,
		}))
		if err != nil {
			t.Fatal(err)
		}
		ids, mask := tok.EncodePadded("a photo of a dog on the moon")
		want := []int{49406, 320, 1125, 539, 320, 1929, 525, 49407}
		if !slices.Equal(ids, want) || !slices.Equal(mask, []int{1, 1, 1, 1, 1, 1, 1, 1}) {
			t.Errorf("EncodePadded = %v %v, want %v all ones", ids, mask, want)
		}
		ids, mask = tok.EncodePadded("a dog")
		if want := []int{49406, 320, 1929, 49407, 0, 0, 0, 0}; !slices.Equal(ids, want) ||
			!slices.Equal(mask, []int{1, 1, 1, 1, 0, 0, 0, 0}) {
			t.Errorf("EncodePadded = %v %v, want %v", ids, mask, want)
		}
	})
	t.Run("no_limit_sentinel", func(t *testing.T) {
		tok, err := Load(copyTokenizerFiles(t, map[string]string{
			"tokenizer_config.json": `{"model_max_length": 1000000000000000019884624838656}`,
		}))
		if err != nil {
			t.Fatal(err)
		}
		if tok.MaxLength() != 77 {
			t.Errorf("MaxLength() = %d, want 77", tok.MaxLength())
		}
	})
}

// TestCLIPTokenizerFastJSON loads the same vocabulary from a tokenizer.json, with merges in both
// the older "a b" and the newer ["a", "b"] spelling.
func TestCLIPTokenizerFastJSON(t *testing.T) {
	ref := fixtures.TokenizerReference(t)
	vocabData, err := os.ReadFile(fixtures.Path(t, "tokenizers", "clip", "vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	mergesData, err := os.ReadFile(fixtures.Path(t, "tokenizers", "clip", "merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var asStrings []string
	var asPairs [][2]string
	for i, line := range strings.Split(strings.TrimSpace(string(mergesData)), "\n") {
		if i == 0 && strings.HasPrefix(line, "#version") {
			continue
		}
		l, r, _ := strings.Cut(line, " ")
		asStrings = append(asStrings, line)
		asPairs = append(asPairs, [2]string{l, r})
	}
	for name, merges := range map[string]any{"strings": asStrings, "pairs": asPairs} {
		t.Run(name, func(t *testing.T) {
			mergesJSON, err := json.Marshal(merges)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "tokenizer.json"), fmt.Sprintf(
				`{"version": "1.0", "model": {"type": "BPE", "end_of_word_suffix": "</w>", "vocab": %s, "merges": %s}}`,
				vocabData, mergesJSON))
			tok, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			checkAgainstReference(t, tok, ref)
		})
	}
}

func TestCLIPTokenizerLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"empty folder", map[string]string{}, "vocab.json"},
		{"no merges", map[string]string{"vocab.json": `{"a</w>": 0}`}, "merges.txt"},
		{"bad vocab", map[string]string{"vocab.json": `[1, 2]`, "merges.txt": ""}, "vocab.json"},
		{"bad merge", map[string]string{"vocab.json": `{"a": 0}`, "merges.txt": "#version: 0.2\na b c\n"}, "merges.txt:2"},
		{"bad tokenizer.json", map[string]string{"tokenizer.json": `{"model": {"type": "WordPiece", "vocab": {"a": 0}}}`}, "tokenizer.json"},
		{"special token not in vocab", map[string]string{
			"vocab.json": `{"<|startoftext|>": 0, "<|endoftext|>": 1}`, "merges.txt": "",
			"special_tokens_map.json": `{"pad_token": "!"}`,
		}, "pad_token"},
		{"bad config", map[string]string{
			"vocab.json": `{"<|startoftext|>": 0, "<|endoftext|>": 1}`, "merges.txt": "",
			"tokenizer_config.json": `{"bos_token": 3}`,
		}, "tokenizer_config.json"},
		{"bad max length", map[string]string{
			"vocab.json": `{"<|startoftext|>": 0, "<|endoftext|>": 1}`, "merges.txt": "",
			"tokenizer_config.json": `{"model_max_length": 1}`,
		}, "model_max_length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				writeFile(t, filepath.Join(dir, name), content)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestCLIPTokenizerEdgeCases(t *testing.T) {
	tok := fixtureTokenizer(t)
	enc := func(s string) []int { return tok.Encode(s) }
	for _, tc := range []struct {
		name string
		text string
		same string // text that must tokenize identically
	}{
		{"html entities are unescaped twice", "salt &amp;amp; pepper &lt;3", "salt & pepper <3"},
		{"whitespace is collapsed", "\ta  red\u00a0\u2003dog\n\x1c", "a red dog"},
		{"case is folded", "A RED Dog", "a red dog"},
		{"dotted capital I lowers to i + U+0307", "\u0130stanbul", "i\u0307stanbul"},
		{"final sigma", "ΟΔΟΣ ΣΑ", "οδος σα"},
		{"U+0345 is dropped", "a\u0345b", "a b"},
	} {
		if got, want := enc(tc.text), enc(tc.same); !slices.Equal(got, want) {
			t.Errorf("%s: Encode(%q) = %v, want Encode(%q) = %v", tc.name, tc.text, got, tc.same, want)
		}
	}

	// Values from OpenAI's simple_tokenizer (with ftfy.fix_text as the identity).
	for _, tc := range []struct {
		text string
		want []string
	}{
		// "'s" matches "'ſ" case-insensitively, but the bytes differ.
		{"it'ſ", []string{"it</w>", "'", "Å", "¿</w>"}},
		// U+001C is trimmed at the ends (str.strip) but is not \s inside the text.
		{"\x1ca\x1cb\x1c", []string{"a</w>", "Ĝ</w>", "b</w>"}},
		// Python's html.unescape, twice: invalid code points vanish, others become U+FFFD,
		// names match their longest prefix, 128 is Windows-1252's euro.
		{"&#1;a&#38;amp;amp;&#x110000;&notit;&#128;",
			[]string{"a</w>", "&</w>", "amp</w>", ";", "ï¿½", "Â", "¬</w>", "it</w>", ";", "âĤ¬</w>"}},
	} {
		if got := tok.Tokens(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}

	if got := tok.Encode(""); got == nil || len(got) != 0 {
		t.Errorf("Encode(\"\") = %#v, want an empty slice", got)
	}
	ids, mask := tok.EncodePadded("  ")
	if ids[0] != tok.BOS() || ids[1] != tok.EOS() || mask[1] != 1 || mask[2] != 0 || ids[76] != tok.Pad() {
		t.Errorf("EncodePadded(blank) = %v %v", ids, mask)
	}

	// Special-token strings in the text stay whole, in any case.
	if got, want := tok.Encode("<|startoftext|>a dog<|ENDOFTEXT|>"), []int{49406, 320, 1929, 49407}; !slices.Equal(got, want) {
		t.Errorf("special tokens: %v, want %v", got, want)
	}

	// Long prompts: BOS + the first 75 ids + EOS, nothing dropped from Encode.
	long := strings.Repeat("a dog ", 100)
	if n := len(tok.Encode(long)); n != 200 {
		t.Errorf("Encode(long) has %d ids, want 200", n)
	}
	ids, mask = tok.EncodePadded(long)
	if len(ids) != 77 || ids[0] != tok.BOS() || ids[75] != 320 || ids[76] != tok.EOS() || slices.Contains(mask, 0) {
		t.Errorf("EncodePadded(long) = %v %v", ids, mask)
	}

	// BatchEncode is EncodePadded per text, and safe to call from several goroutines.
	texts := []string{"a photo of sks dog", "", long, "emoji 🐶 and CJK 狗 text"}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			batchIDs, batchMask := tok.BatchEncode(texts)
			for i, text := range texts {
				ids, mask := tok.EncodePadded(text)
				if !slices.Equal(batchIDs[i], ids) || !slices.Equal(batchMask[i], mask) {
					t.Errorf("BatchEncode[%d] differs from EncodePadded(%q)", i, text)
				}
			}
		})
	}
	wg.Wait()
}

func TestByteEncoder(t *testing.T) {
	seen := map[rune]bool{}
	for b, r := range byteEncoder {
		if seen[r] {
			t.Fatalf("byte %d maps to %q, already taken", b, r)
		}
		seen[r] = true
	}
	for b, want := range map[byte]rune{'!': '!', ' ': 'Ġ', 0: 'Ā', 0xAD: 'Ń', 0xFF: 'ÿ'} {
		if got := byteEncoder[b]; got != want {
			t.Errorf("byteEncoder[%#x] = %q, want %q", b, got, want)
		}
	}
}

func ExampleTokenizer() {
	tok, err := Load("../../testdata/fixtures/tokenizers/clip")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.Tokens("A photo of sks dog's toy!"))
	fmt.Println(tok.Encode("a photo of sks dog"))
	ids, mask := tok.EncodePadded("a photo of sks dog")
	fmt.Println(len(ids), ids[:8], mask[:8])
	// Output:
	// [a</w> photo</w> of</w> sks</w> dog</w> 's</w> toy</w> !</w>]
	// [320 1125 539 48136 1929]
	// 77 [49406 320 1125 539 48136 1929 49407 49407] [1 1 1 1 1 1 1 0]
}
