package align

import (
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorpo/gorpo/internal/fixtures"
)

// referenceWordPieces is BERT's greedy longest-match-first loop as written (every end from the
// word's end down): the specification appendWordPieces must match.
func referenceWordPieces(w *WordPiece, word string) []string {
	chars := []rune(word)
	if len(chars) > w.maxChars {
		return []string{w.unkToken}
	}
	var out []string
	for start := 0; start < len(chars); {
		end := len(chars)
		piece := ""
		for ; end > start; end-- {
			c := string(chars[start:end])
			if start > 0 {
				c = w.prefix + c
			}
			if _, ok := w.vocab[c]; ok {
				piece = c
				break
			}
		}
		if end == start {
			return []string{w.unkToken}
		}
		out = append(out, piece)
		start = end
	}
	return out
}

var (
	bigWordPieceOnce sync.Once
	bigWordPiece     *WordPiece
	bigWordPieceErr  error
)

// wordPieceNoCap is the fixture BERT vocabulary with max_input_chars_per_word 10^9, the crafted
// setting of issue 12 that made a long word quadratic.
func wordPieceNoCap(t *testing.T) *WordPiece {
	t.Helper()
	bigWordPieceOnce.Do(func() {
		vocab, err := os.ReadFile(fixtures.Path(t, "tokenizers", "bert_vocab.txt"))
		if err != nil {
			bigWordPieceErr = err
			return
		}
		dir := writeFiles(t, map[string]string{
			"vocab.txt":             string(vocab),
			"tokenizer_config.json": `{"do_lower_case": true, "model_max_length": 64, "max_input_chars_per_word": 1000000000}`,
		})
		bigWordPiece, bigWordPieceErr = LoadWordPiece(dir)
	})
	if bigWordPieceErr != nil {
		t.Fatal(bigWordPieceErr)
	}
	w := *bigWordPiece
	w.maxChars = 1_000_000_000 // whether or not tokenizer_config.json's value reached it
	return &w
}

// The spelling of words matches the reference loop, and a 1 MB word takes linear time (it was
// quadratic: about 5·10^11 candidate strings; the test binary's timeout fails that).
func TestWordPieceLinear(t *testing.T) {
	w := wordPieceNoCap(t)
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"unaffable", "photograph", "teapotpotpot", "backpacked", "shapedly", "backgroundpot", "xyzzyq", strings.Repeat("ab", 50)}
	for range 300 {
		var b strings.Builder
		for range 1 + rng.IntN(40) {
			// Pieces of the fixture vocabulary, and letters that spell nothing.
			b.WriteString([]string{"tea", "pot", "pack", "s", "ed", "ing", "e", "er", "y", "ly", "ck", "back", "x", "a", "background"}[rng.IntN(15)])
		}
		words = append(words, b.String())
	}
	for _, word := range words {
		if got, want := w.appendWordPieces(nil, word), referenceWordPieces(w, word); !slices.Equal(got, want) {
			t.Fatalf("%q: %q, reference %q", word, got, want)
		}
	}
	// Greedy matching looks at most maxPiece characters ahead, so a periodic word is spelled
	// periodically: the 1 MB word starts as the reference spells a 100-character one.
	short := referenceWordPieces(w, "tea"+strings.Repeat("pot", 30))
	long := w.appendWordPieces(nil, "tea"+strings.Repeat("pot", 333_333))
	if k := len(short) - 5; k < 10 || len(long) < 100_000 || !slices.Equal(long[:k], short[:k]) {
		t.Errorf("a 1 MB word: %d pieces starting %q; the reference spells 100 characters %q", len(long), long[:min(10, len(long))], short)
	}
}

// FuzzWordPiece: any text tokenizes without panicking, into ids within the vocabulary, and each
// word's spelling matches the reference loop.
func FuzzWordPiece(f *testing.F) {
	for _, s := range []string{"a photo of a sks dog", "UNAFFABLE", "Héllo, wörld!", "日本語のテキスト", "\x00\t\n ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		w := wordPieceNoCap(t)
		for _, id := range w.Encode(text) {
			if id < 0 || id >= w.VocabSize() {
				t.Fatalf("id %d outside the vocabulary", id)
			}
		}
		if len(text) > 300 {
			return
		}
		for _, word := range w.basicTokens(text) {
			if got, want := w.appendWordPieces(nil, word), referenceWordPieces(w, word); !slices.Equal(got, want) {
				t.Fatalf("%q: %q, reference %q", word, got, want)
			}
		}
	})
}
