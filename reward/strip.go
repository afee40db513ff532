package reward

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// StripToken removes the subject token from a prompt exactly as the official RPO code's
// utils.remove_unique_token does in Python 3:
//
//	re.sub(r'\s*\b' + re.escape(token) + r'\b\s*', ' ', prompt), then \s+ → ' ', then strip()
//
// with Python's Unicode \w (letters, numbers, underscore) and \s. For a token that begins and ends
// with a word character, such as "sks", this removes the token where it stands as a whole word
// ("a sks dog" → "a dog", while "asks" and "sks_dog" stay), together with the whitespace around
// it.
//
// The consequence for a bracketed token: \b next to '[' or ']' needs a word character on the
// other side, so "[V]" is removed only when glued between letters ("a[V]dog" → "a dog") and a
// prompt such as "a [V] dog in the snow" comes back unchanged. The official code calls
// remove_unique_token(prompt, "[V]") for validation and evaluation, so its ALIGN-T and CLIP-T
// texts in fact still contain "[V]". Use StripToken (WithStrip(StripToken)) to reproduce those
// numbers; StripWord, the default, does what the code meant.
//
// An empty token removes nothing; whitespace is still collapsed and trimmed.
func StripToken(prompt, token string) string {
	return strip(prompt, token, atBoundary, atBoundary)
}

// StripWord removes the subject token wherever it stands as a whole word, that is with no word
// character (letter, number, underscore) immediately before or after it, together with the
// whitespace around it; then, like StripToken, it collapses whitespace runs to one space and
// trims the ends. In regular-expression terms it replaces \s*(?<!\w)token(?!\w)\s* by a space.
//
// For a token that begins and ends with a word character, such as "sks", StripWord and StripToken
// agree on every prompt. For a bracketed token they differ, and StripWord does what the official
// code intends: "a [V] dog" → "a dog", "[V] dog" → "dog", "a [V], dog" → "a , dog", while
// "a [V]dog" and "a[V]dog" keep the token, since it is glued to a word there.
//
// An empty token removes nothing; whitespace is still collapsed and trimmed.
func StripWord(prompt, token string) string {
	return strip(prompt, token, notAfterWord, notBeforeWord)
}

// strip emulates Python's re.sub of \s*<before>token<after>\s* by ' ' (leftmost matches, greedy
// \s* that backtracks, no overlaps), then the whitespace collapse and strip().
func strip(s, token string, before, after func(s string, i int) bool) string {
	if token == "" {
		return collapseSpace(s)
	}
	var b strings.Builder
	last := 0 // s[last:] is not yet copied
	for p := 0; p < len(s); {
		// A match starting at p: greedy whitespace p..q, then the token at some k in [p, q],
		// trying the longest whitespace first, as the regexp engine backtracks.
		q := p
		for q < len(s) {
			r, n := utf8.DecodeRuneInString(s[q:])
			if !isSpace(r) {
				break
			}
			q += n
		}
		end := -1
		for k := q; ; {
			if strings.HasPrefix(s[k:], token) && before(s, k) && after(s, k+len(token)) {
				end = k + len(token)
				break
			}
			if k == p {
				break
			}
			_, n := utf8.DecodeLastRuneInString(s[:k])
			k -= n
		}
		if end < 0 {
			_, n := utf8.DecodeRuneInString(s[p:])
			p += n
			continue
		}
		for end < len(s) {
			r, n := utf8.DecodeRuneInString(s[end:])
			if !isSpace(r) {
				break
			}
			end += n
		}
		b.WriteString(s[last:p])
		b.WriteByte(' ')
		last, p = end, end
	}
	b.WriteString(s[last:])
	return collapseSpace(b.String())
}

// collapseSpace is re.sub(r'\s+', ' ', s).strip().
func collapseSpace(s string) string {
	return strings.Join(strings.FieldsFunc(s, isSpace), " ")
}

// isWord is Python 3's \w on str: str.isalnum() or '_'.
func isWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// isSpace is Python 3's \s on str (str.isspace()): Go's unicode.IsSpace plus the ASCII
// separators U+001C to U+001F.
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// wordBefore and wordAt report whether the rune ending, or starting, at byte i is a word
// character; the ends of the string are not.
func wordBefore(s string, i int) bool {
	if i <= 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return isWord(r)
}

func wordAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isWord(r)
}

// atBoundary is \b: a word character on exactly one side of i.
func atBoundary(s string, i int) bool { return wordBefore(s, i) != wordAt(s, i) }

// notAfterWord is (?<!\w) and notBeforeWord is (?!\w).
func notAfterWord(s string, i int) bool  { return !wordBefore(s, i) }
func notBeforeWord(s string, i int) bool { return !wordAt(s, i) }
