// Package bpe is the CLIP byte-level BPE tokenizer, shared by the Stable Diffusion text encoder
// (package diffusion re-exports it as CLIPTokenizer) and the CLIP judge of package align.
package bpe

import (
	"cmp"
	"html"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/gorpo/gorpo/internal/pytext"
)

// This file holds the text-level pieces of the CLIP tokenizer, each mirroring a step of OpenAI's
// clip/simple_tokenizer.py: the pre-tokenizer regex, the byte-to-unicode table and byte-pair
// encoding by merge rank. The Python string semantics it relies on (str.isspace, str.lower) are
// package pytext's.

// endOfWord marks the last symbol of a word in CLIP's vocabulary ("dog</w>").
const endOfWord = "</w>"

// preTokenizer splits cleaned, lower-cased text into words as simple_tokenizer's pattern does:
//
//	<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// compiled there with the `regex` module and IGNORECASE. Go's regexp is leftmost-first like
// Python's, so alternation order is kept. Case folding is applied only to the literal
// alternatives: under IGNORECASE `regex` still tests \p{L} and \p{N} on the character itself,
// whereas Go would widen the classes with their case variants. The one visible effect of
// `regex`'s folding on the classes is that U+0345 (COMBINING GREEK YPOGEGRAMMENI, whose fold is
// a letter) is matched by no alternative, so it is dropped; the negated class excludes it for
// the same result. \s is Python's Unicode whitespace: \t-\r, U+0085 and the Z categories.
var preTokenizer = regexp.MustCompile(
	`(?i:<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d)` +
		`|\p{L}+|\p{N}|[^\t-\r\x{85}\p{Z}\p{L}\p{N}\x{345}]+`)

// byteEncoder maps each byte to a printable rune (OpenAI's bytes_to_unicode): printable Latin-1
// bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves, the other 68 bytes to U+0100 onwards in
// byte order, so every UTF-8 string has a whitespace-free spelling in vocabulary symbols.
var byteEncoder = func() [256]rune {
	var t [256]rune
	printable := func(b int) bool {
		return ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF)
	}
	next := rune(256)
	for b := range 256 {
		if printable(b) {
			t[b] = rune(b)
		} else {
			t[b] = next
			next++
		}
	}
	return t
}()

// charRef matches one HTML character reference as Python's html.unescape does: decimal or
// hexadecimal, or up to 32 characters of a name, each with an optional ";".
var charRef = regexp.MustCompile(`&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`)

// unescapeHTML is Python's html.unescape. Named references go to html.UnescapeString, which
// follows the same HTML5 table and longest-prefix rule; numeric ones are decoded here, because
// Python drops references to non-characters and most C0/C1 controls (Go keeps them) and reads
// arbitrarily long numbers (Go's would wrap).
func unescapeHTML(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return charRef.ReplaceAllStringFunc(s, func(ref string) string {
		if ref[1] != '#' {
			return html.UnescapeString(ref)
		}
		digits, base := strings.TrimSuffix(ref[2:], ";"), 10
		if digits[0] == 'x' || digits[0] == 'X' {
			digits, base = digits[1:], 16
		}
		digits = strings.TrimLeft(digits, "0")
		n, err := strconv.ParseInt(cmp.Or(digits, "0"), base, 64)
		if err != nil || n > unicode.MaxRune {
			return "\uFFFD"
		}
		switch r := rune(n); {
		case r == 0:
			return "\uFFFD"
		case r == '\r':
			return "\r"
		case 0x80 <= r && r <= 0x9F: // Windows-1252, as Go's table does
			return html.UnescapeString(ref)
		case 0xD800 <= r && r <= 0xDFFF:
			return "\uFFFD"
		case r <= 0x08, r == 0x0B, 0x0E <= r && r <= 0x1F, r == 0x7F,
			0xFDD0 <= r && r <= 0xFDEF, r&0xFFFE == 0xFFFE:
			return ""
		default:
			return string(r)
		}
	})
}

// cleanWhitespace is simple_tokenizer's strip() then whitespace_clean: the ends are trimmed of
// Python whitespace (str.isspace), then every run of Unicode White_Space (the `regex` module's
// \s) becomes one space. The two differ on U+001C..U+001F, which only strip() removes.
func cleanWhitespace(s string) string {
	s = strings.TrimFunc(s, pytext.IsSpace)
	var b strings.Builder
	b.Grow(len(s))
	inSpace := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !inSpace {
				b.WriteByte(' ')
			}
			inSpace = true
			continue
		}
		inSpace = false
		b.WriteRune(r)
	}
	return b.String()
}

// symbolPair is two adjacent symbols of a word, the key of a merge rule.
type symbolPair struct{ left, right string }

// maxCacheEntries bounds the word cache; when full it is cleared and refilled.
const maxCacheEntries = 1 << 16

// bpe applies byte-pair merges by rank (lowest first) to words, remembering results.
type bpe struct {
	ranks map[symbolPair]int

	mu    sync.Mutex
	cache map[string][]string
}

func newBPE(merges []symbolPair) *bpe {
	ranks := make(map[symbolPair]int, len(merges))
	for i, m := range merges {
		if _, dup := ranks[m]; !dup {
			ranks[m] = i
		}
	}
	return &bpe{ranks: ranks, cache: make(map[string][]string)}
}

// encode splits a byte-encoded word into vocabulary symbols, the last one ending in "</w>".
// The returned slice is shared with the cache: callers must not modify it.
func (b *bpe) encode(word string) []string {
	b.mu.Lock()
	if syms, ok := b.cache[word]; ok {
		b.mu.Unlock()
		return syms
	}
	b.mu.Unlock()

	syms := b.merge(word)

	b.mu.Lock()
	if len(b.cache) >= maxCacheEntries {
		clear(b.cache)
	}
	b.cache[word] = syms
	b.mu.Unlock()
	return syms
}

// merge starts from one symbol per character, "</w>" glued to the last, and repeatedly joins
// every occurrence (left to right) of the adjacent pair with the lowest merge rank, until no
// adjacent pair has a rank.
func (b *bpe) merge(word string) []string {
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
			if r, ok := b.ranks[p]; ok && (bestRank < 0 || r < bestRank) {
				best, bestRank = p, r
			}
		}
		if bestRank < 0 {
			break
		}
		merged := syms[:0:0]
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
