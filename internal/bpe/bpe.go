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
//
// Symbols are interned as int32 ids (every merge's two sides and result), so a merge rule is one
// map lookup of an id pair. merge runs in O(n log n) for a word of n characters, where the
// reference's loop (find the lowest-ranked pair, merge its occurrences, repeat) is O(n²): a 100 KB
// word took 22 s that way.
type bpe struct {
	ids   map[string]int32     // symbol → id
	syms  []string             // id → symbol
	rules map[uint64]mergeRule // (left id, right id) → rule

	mu    sync.Mutex
	cache map[string][]string
}

// mergeRule is one line of merges.txt: its rank (line order) and the id of the joined symbol.
type mergeRule struct{ rank, result int32 }

func pairKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

func newBPE(merges []symbolPair) *bpe {
	b := &bpe{ids: map[string]int32{}, rules: make(map[uint64]mergeRule, len(merges)), cache: make(map[string][]string)}
	for i, m := range merges {
		key := pairKey(b.intern(m.left), b.intern(m.right))
		if _, dup := b.rules[key]; !dup {
			b.rules[key] = mergeRule{rank: int32(i), result: b.intern(m.left + m.right)}
		}
	}
	return b
}

func (b *bpe) intern(sym string) int32 {
	if id, ok := b.ids[sym]; ok {
		return id
	}
	id := int32(len(b.syms))
	b.ids[sym] = id
	b.syms = append(b.syms, sym)
	return id
}

// maxCachedWord is the longest word (in bytes) the cache keeps, as Hugging Face's tokenizers
// does (its BPE caches words under 256 characters): longer ones are rare and would only fill
// memory.
const maxCachedWord = 256

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
	if len(word) > maxCachedWord {
		return syms
	}
	b.mu.Lock()
	if len(b.cache) >= maxCacheEntries {
		clear(b.cache)
	}
	b.cache[word] = syms
	b.mu.Unlock()
	return syms
}

// consumed marks the right symbol of a merged pair: no candidate matches it.
const consumed = -1 << 30

// merge gives the reference's result: starting from one symbol per character, "</w>" glued to
// the last, it repeatedly takes the adjacent pair with the lowest merge rank and joins every
// occurrence of it, left to right without overlap, until no adjacent pair has a rank.
//
// Here the symbols form a linked list and the candidate pairs a heap ordered by (rank,
// position). A round pops every candidate of the lowest rank and merges them in position order,
// skipping those a merge of the round consumed; the pairs the merges create join the heap only
// after the round, as the reference finds them only on its next scan. (A round cannot create a
// pair of its own rank: a rank names one pair of symbols, and a joined symbol is longer than
// either of its halves.)
func (b *bpe) merge(word string) []string {
	n := utf8.RuneCountInString(word)
	sym := make([]int32, 0, n)
	var extra []string // symbols no merge mentions, as ids -1, -2, ...
	for i, r := range word {
		s := string(r)
		if i+utf8.RuneLen(r) == len(word) {
			s += endOfWord
		}
		id, ok := b.ids[s]
		if !ok {
			extra = append(extra, s)
			id = -int32(len(extra))
		}
		sym = append(sym, id)
	}
	if n > 1 {
		sym = b.mergeIDs(sym)
	}
	res := make([]string, len(sym))
	for i, id := range sym {
		if id < 0 {
			res[i] = extra[-id-1]
		} else {
			res[i] = b.syms[id]
		}
	}
	return res
}

// mergeIDs applies the merges to a word of n ≥ 2 symbol ids (see merge).
func (b *bpe) mergeIDs(sym []int32) []int32 {
	n := len(sym)
	prev := make([]int32, n)
	next := make([]int32, n)
	for i := range n {
		prev[i], next[i] = int32(i-1), int32(i+1)
	}
	next[n-1] = -1
	h := &pairHeap{}
	push := func(left int32) {
		right := next[left]
		if right < 0 {
			return
		}
		if r, ok := b.rules[pairKey(sym[left], sym[right])]; ok {
			h.push(candidate{rank: r.rank, pos: left, left: sym[left], right: sym[right]})
		}
	}
	for i := range int32(n - 1) {
		push(i)
	}
	var round []candidate
	var touched []int32
	for h.len() > 0 {
		rank := h.min().rank
		round = round[:0]
		for h.len() > 0 && h.min().rank == rank {
			round = append(round, h.pop())
		}
		touched = touched[:0]
		for _, c := range round { // in position order: the heap breaks ties by position
			right := next[c.pos]
			if sym[c.pos] != c.left || right < 0 || sym[right] != c.right {
				continue // a merge of this round consumed it
			}
			sym[c.pos] = b.rules[pairKey(c.left, c.right)].result
			sym[right] = consumed
			next[c.pos] = next[right]
			if next[right] >= 0 {
				prev[next[right]] = c.pos
			}
			touched = append(touched, c.pos)
		}
		for _, pos := range touched {
			if p := prev[pos]; p >= 0 {
				push(p)
			}
			push(pos)
		}
	}
	out := make([]int32, 0, n)
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, sym[i])
	}
	return out
}

// candidate is an adjacent pair with a merge rule: the position of its left symbol and the ids it
// had when pushed (a later merge may have changed them).
type candidate struct {
	rank, pos   int32
	left, right int32
}

// pairHeap is a binary min-heap of candidates by (rank, pos).
type pairHeap struct{ items []candidate }

func (h *pairHeap) len() int       { return len(h.items) }
func (h *pairHeap) min() candidate { return h.items[0] }

func (h *pairHeap) less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos)
}

func (h *pairHeap) push(c candidate) {
	h.items = append(h.items, c)
	for i := len(h.items) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *pairHeap) pop() candidate {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.less(l, m) {
			m = l
		}
		if r < last && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return top
}
