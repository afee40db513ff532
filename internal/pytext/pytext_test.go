package pytext

import (
	"slices"
	"strings"
	"testing"
	"unicode"
)

// pythonSpaces is every character for which CPython's str.isspace is true:
// [c for c in range(0x110000) if chr(c).isspace()].
var pythonSpaces = []rune{
	0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
	0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
	0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
}

func TestPyIsSpace(t *testing.T) {
	var got []rune
	for r := range rune(unicode.MaxRune + 1) {
		if IsSpace(r) {
			got = append(got, r)
		}
	}
	if !slices.Equal(got, pythonSpaces) {
		t.Errorf("IsSpace is true for %U,\nPython's str.isspace for %U", got, pythonSpaces)
	}
	// The information separators are what Go's unicode.IsSpace lacks.
	for r := rune(0x1C); r <= 0x1F; r++ {
		if unicode.IsSpace(r) || !IsSpace(r) {
			t.Errorf("%U: unicode.IsSpace %v, IsSpace %v, want false and true", r, unicode.IsSpace(r), IsSpace(r))
		}
	}
	if got := strings.FieldsFunc("\x1ca\x1db\u2028c\u200bd", IsSpace); !slices.Equal(got, []string{"a", "b", "c\u200bd"}) {
		t.Errorf("FieldsFunc(..., IsSpace) = %q, want Python's split()", got)
	}
}

func TestPyLower(t *testing.T) {
	// Wants from CPython's str.lower.
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"A RED Dog", "a red dog"},
		{"Café CRÈME", "café crème"},
		{"\u01c5", "\u01c6"}, // titlecase Dž
		{"\u0130stanbul", "i\u0307stanbul"},
		{"ΟΔΟΣ ΣΑ", "οδος σα"},
		{"ΣΟΦΟΣ", "σοφος"},
		{"Σ", "σ"},                 // nothing cased before: not final
		{" Σ ", " σ "},             // likewise
		{"1Σ", "1σ"},               // a digit is not cased
		{"ΑΣ", "ας"},               // word end
		{"ΑΣ!", "ας!"},             // punctuation after is not cased
		{"σΣ", "σς"},               // a lower-case letter before counts
		{"ΑΣΣ", "ασς"},             // only the last of two is final
		{"Α'Σ", "α'ς"},             // case-ignorable before is skipped
		{"ΑΣ'Σ", "ασ'ς"},           // and after
		{"ΑΣ.Α", "ασ.α"},           // a cased letter after, past "."
		{"ΑΣ\u0301", "ας\u0301"},   // combining mark after (Mn) is skipped
		{"ΑΣ\u0301Α", "ασ\u0301α"}, // but the letter past it counts
		{"ΑΣ\u200d", "ας\u200d"},   // format character (Cf) is skipped
	} {
		if got := Lower(tc.in); got != tc.want {
			t.Errorf("Lower(%+q) = %+q, want %+q", tc.in, got, tc.want)
		}
	}
}

func TestPyCaseProperties(t *testing.T) {
	for r, want := range map[rune]bool{'A': true, 'a': true, 'ǅ': true, 'ª': true, 'Ⓐ': true, '1': false, '\'': false, 'ʰ': true} {
		if got := isCased(r); got != want {
			t.Errorf("isCased(%U) = %v, want %v", r, got, want)
		}
	}
	for r, want := range map[rune]bool{'\'': true, '.': true, ':': true, 0x2019: true, 0x301: true, 0x200D: true, 'ʰ': true, '^': true, 'A': false, ',': false, ' ': false} {
		if got := isCaseIgnorable(r); got != want {
			t.Errorf("isCaseIgnorable(%U) = %v, want %v", r, got, want)
		}
	}
}
