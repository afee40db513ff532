package bpe

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// referenceMerge is simple_tokenizer.py's bpe() loop as written (O(n²) in the word's length):
// the specification merge must match.
func referenceMerge(ranks map[symbolPair]int, word string) []string {
	syms := make([]string, 0, utf8.RuneCountInString(word))
	for i, r := range word {
		if i+utf8.RuneLen(r) == len(word) {
			syms = append(syms, string(r)+endOfWord)
		} else {
			syms = append(syms, string(r))
		}
	}
	for len(syms) > 1 {
		best, bestRank := symbolPair{}, -1
		for i := 0; i+1 < len(syms); i++ {
			p := symbolPair{syms[i], syms[i+1]}
			if r, ok := ranks[p]; ok && (bestRank < 0 || r < bestRank) {
				best, bestRank = p, r
			}
		}
		if bestRank < 0 {
			break
		}
		var merged []string
		for i := 0; i < len(syms); i++ {
			if i+1 < len(syms) && syms[i] == best.left && syms[i+1] == best.right {
				merged = append(merged, best.left+best.right)
				i++
			} else {
				merged = append(merged, syms[i])
			}
		}
		syms = merged
	}
	return syms
}

// ranksOf rebuilds the reference's rank table from a bpe.
func ranksOf(b *bpe) map[symbolPair]int {
	ranks := make(map[symbolPair]int, len(b.rules))
	for key, r := range b.rules {
		ranks[symbolPair{b.syms[int32(key>>32)], b.syms[int32(uint32(key))]}] = int(r.rank)
	}
	return ranks
}

// The heap-based merge gives the reference loop's symbols, with the real CLIP merges, on words
// built to exercise it: repeats (overlapping pairs such as "aaaa"), long real words glued
// together, random letters and random bytes.
func TestMergeMatchesReference(t *testing.T) {
	tok := fixtureTokenizer(t)
	ranks := ranksOf(tok.merges)
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"a", "aa", "aaa", "aaaaaaa", "ababababa", "lllllllllllll", "photograph", "mississippi",
		"supercalifragilisticexpialidocious", strings.Repeat("the", 40), strings.Repeat("xo", 33) + "x"}
	letters := "abcdefghijklmnopqrstuvwxyzéàü"
	for range 300 {
		var b strings.Builder
		n := 1 + rng.IntN(60)
		for range n {
			if rng.IntN(4) == 0 {
				b.WriteByte(byte(rng.IntN(256)))
			} else {
				r := []rune(letters)
				b.WriteRune(r[rng.IntN(len(r))])
			}
		}
		words = append(words, b.String())
	}
	for _, w := range words {
		var enc []rune
		for i := 0; i < len(w); i++ {
			enc = append(enc, byteEncoder[w[i]])
		}
		word := string(enc)
		if got, want := tok.merges.merge(word), referenceMerge(ranks, word); !slices.Equal(got, want) {
			t.Fatalf("merge(%q) = %q, reference %q", w, got, want)
		}
	}
}

// A 1 MB prompt tokenizes in linear time (issue 12: one 100 KB word took 21.8 s with the real
// CLIP merges, a 1 MB one about 35 minutes; the test binary's timeout fails that), whether it is
// one word or many, and EncodePadded keeps exactly Encode's first MaxLength()-2 ids.
func TestMegabytePrompt(t *testing.T) {
	if testing.Short() {
		t.Skip("-short (CI's race run): megabyte prompts")
	}
	tok := fixtureTokenizer(t)
	for name, text := range map[string]string{
		"one word":   strings.Repeat("abcdefghij", 100_000),
		"many words": strings.Repeat("a photo of a dog on the moon ", 36_000),
		"one letter": strings.Repeat("l", 1_000_000),
	} {
		start := time.Now()
		ids := tok.Encode(text)
		took := time.Since(start)
		start = time.Now()
		padded, _ := tok.EncodePadded(text)
		t.Logf("%s: Encode %d bytes → %d ids in %s; EncodePadded in %s", name, len(text), len(ids), took, time.Since(start))
		if want := append(append([]int{tok.BOS()}, ids[:tok.MaxLength()-2]...), tok.EOS()); !slices.Equal(padded, want) {
			t.Errorf("%s: EncodePadded = %v, want Encode's first %d ids between BOS and EOS", name, padded, tok.MaxLength()-2)
		}
	}
}

// Encode is safe for concurrent use (the word cache is shared): four goroutines get the
// sequential results; run under -race in CI.
func TestConcurrentEncode(t *testing.T) {
	tok := fixtureTokenizer(t)
	texts := []string{"a photo of a sks dog", "a teapot on the moon", "photograph photograph", "aaaaaaaaaaaa"}
	want := make([][]int, len(texts))
	for i, s := range texts {
		want[i] = tok.Encode(s)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4*len(texts)*50)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 50 {
				i := (g + r) % len(texts)
				if got := tok.Encode(texts[i] + " " + strings.Repeat("x", r)); !slices.Equal(got[:len(want[i])], want[i]) {
					errs <- texts[i]
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Errorf("concurrent Encode(%q) differs from the sequential one", s)
	}
}

// FuzzBPE: any text tokenizes without panicking; every word's merge matches the reference loop,
// and EncodePadded is Encode truncated.
func FuzzBPE(f *testing.F) {
	for _, s := range []string{"a photo of a [V] dog", "aaaaaaaa", "café &amp; crème", "<|startoftext|>hi<|endoftext|>", "  \t\n", "ﬁ 𝔘 1234"} {
		f.Add(s)
	}
	var ranks map[symbolPair]int
	f.Fuzz(func(t *testing.T, text string) {
		tok := fixtureTokenizer(t)
		if ranks == nil {
			ranks = ranksOf(tok.merges)
		}
		ids := tok.Encode(text)
		padded, mask := tok.EncodePadded(text)
		if len(padded) != tok.MaxLength() || len(mask) != tok.MaxLength() {
			t.Fatalf("EncodePadded: %d ids, %d mask, want %d", len(padded), len(mask), tok.MaxLength())
		}
		kept := min(len(ids), tok.MaxLength()-2)
		if !slices.Equal(padded[1:1+kept], ids[:kept]) {
			t.Fatalf("EncodePadded keeps %v, Encode starts %v", padded[1:1+kept], ids[:kept])
		}
		if len(text) > 200 {
			return
		}
		for _, w := range strings.Fields(text) {
			var enc []rune
			for i := 0; i < len(w); i++ {
				enc = append(enc, byteEncoder[w[i]])
			}
			if got, want := tok.merges.merge(string(enc)), referenceMerge(ranks, string(enc)); !slices.Equal(got, want) {
				t.Fatalf("merge(%q) = %q, reference %q", w, got, want)
			}
		}
	})
}
