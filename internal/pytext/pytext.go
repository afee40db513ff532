// Package pytext holds what gorpo's tokenizers share to behave as their Python references do:
// Python's str semantics where Go's differ (str.isspace, str.lower), and the reading of the
// configuration files transformers writes beside a vocabulary (tokenizer_config.json,
// special_tokens_map.json), with their special tokens spelled as strings or AddedToken objects.
package pytext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// IsSpace is Python's str.isspace for one character: Unicode White_Space (Go's unicode.IsSpace)
// plus the information separators U+001C..U+001F, whose bidirectional class is B or S. Python's
// str.split() and str.strip() with no argument split and trim on exactly these characters.
func IsSpace(r rune) bool {
	return unicode.IsSpace(r) || (0x1C <= r && r <= 0x1F)
}

// Lower is Python's str.lower: the simple lower-case mapping of each character, except U+0130
// (İ, LATIN CAPITAL LETTER I WITH DOT ABOVE), which becomes "i" + U+0307 (its full mapping), and
// capital sigma, which becomes final sigma (ς) at the end of a word (the Final_Sigma context)
// and σ elsewhere. Go's strings.ToLower does neither.
func Lower(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch r {
		case 0x130:
			b.WriteString("i\u0307")
		case 0x3A3:
			if finalSigma(s, i) {
				b.WriteRune(0x3C2)
			} else {
				b.WriteRune(0x3C3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether the capital sigma at byte offset i of s is in the Final_Sigma
// context: a cased letter before it and none after it, skipping case-ignorable characters.
func finalSigma(s string, i int) bool {
	before := s[:i]
	for len(before) > 0 {
		r, n := utf8.DecodeLastRuneInString(before)
		before = before[:len(before)-n]
		if !isCaseIgnorable(r) {
			if !isCased(r) {
				return false
			}
			after := s[i+utf8.RuneLen(0x3A3):]
			for _, r := range after {
				if !isCaseIgnorable(r) {
					return !isCased(r)
				}
			}
			return true
		}
	}
	return false
}

// isCased is Unicode's Cased property.
func isCased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// isCaseIgnorable is Unicode's Case_Ignorable property: categories Mn, Me, Cf, Lm, Sk and the
// characters whose Word_Break is MidLetter, MidNumLet or Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xB7, 0x387, 0x55F, 0x5F4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
