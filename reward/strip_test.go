package reward

import "testing"

// stripCases were produced by Python 3.11's re module running the official code's
// remove_unique_token (official) and the \s*(?<!\w)token(?!\w)\s* rule (word).
var stripCases = []struct{ prompt, token, official, word string }{
	{"a [V] dog in the snow", "[V]", "a [V] dog in the snow", "a dog in the snow"},
	{"a[V]dog", "[V]", "a dog", "a[V]dog"},
	{"[V] dog", "[V]", "[V] dog", "dog"},
	{"a [V]dog", "[V]", "a [V]dog", "a [V]dog"},
	{"a[V] dog", "[V]", "a[V] dog", "a[V] dog"},
	{"a b[V]c d", "[V]", "a b c d", "a b[V]c d"},
	{"a [V], dog", "[V]", "a [V], dog", "a , dog"},
	{"(a [V]) dog", "[V]", "(a [V]) dog", "(a ) dog"},
	{"a [V] [V] dog", "[V]", "a [V] [V] dog", "a dog"},
	{"x [V]", "[V]", "x [V]", "x"},
	{"[V]", "[V]", "[V]", ""},
	{"a [v] dog", "[V]", "a [v] dog", "a [v] dog"},
	{"a sks dog", "sks", "a dog", "a dog"},
	{"sks dog asks sks", "sks", "dog asks", "dog asks"},
	{"a sks-dog", "sks", "a -dog", "a -dog"},
	{"a  sks  dog\tnow", "sks", "a dog now", "a dog now"},
	{"sks", "sks", "", ""},
	{"a sks_dog", "sks", "a sks_dog", "a sks_dog"},
	{"a sks sks dog", "sks", "a dog", "a dog"},
	{"a sksdog", "sks", "a sksdog", "a sksdog"},
	{"a sks, dog", "sks", "a , dog", "a , dog"},
	{"a SKS dog", "sks", "a SKS dog", "a SKS dog"},
	{"a sks1 dog", "sks", "a sks1 dog", "a sks1 dog"},
	{"\u00e9 sks", "sks", "\u00e9", "\u00e9"},
	{"\u00e9sks dog", "sks", "\u00e9sks dog", "\u00e9sks dog"},
	{"a sks\u00bd dog", "sks", "a sks\u00bd dog", "a sks\u00bd dog"},
	{"a sks\u00a0dog", "sks", "a dog", "a dog"},
	{"a\u001csks\u001fdog", "sks", "a dog", "a dog"},
	{"a sks\u3000dog", "sks", "a dog", "a dog"},
	{"", "sks", "", ""},
	{"sks sks", "sks", "", ""},
	{"a ssks sks dog", "sks", "a ssks dog", "a ssks dog"},
	{"a sks\u0301 dog", "sks", "a \u0301 dog", "a \u0301 dog"},
	{"sks\u2028dog", "sks", "dog", "dog"},
	{"a.sks.b", "sks", "a. .b", "a. .b"},
	{"  a   b  ", "zz", "a b", "a b"},
	{"\u65e5sks \u65e5 sks", "sks", "\u65e5sks \u65e5", "\u65e5sks \u65e5"},
	{"a\u200bsks dog", "sks", "a\u200b dog", "a\u200b dog"},
	{"a sks dog", "s", "a sks dog", "a sks dog"},
	{"a photo of sks dog", "a", "photo of sks dog", "photo of sks dog"},
	{"a b  c", "b  c", "a", "a"},
	{"x a b y", " a ", "x b y", "x a b y"},
	{"a+ b", "a+", "a+ b", "b"},
	{"c++ code", "c++", "c++ code", "code"},
}

func TestStripTokenMatchesOfficialRegex(t *testing.T) {
	for _, c := range stripCases {
		if got := StripToken(c.prompt, c.token); got != c.official {
			t.Errorf("StripToken(%q, %q) = %q, want %q (Python)", c.prompt, c.token, got, c.official)
		}
	}
}

func TestStripWord(t *testing.T) {
	for _, c := range stripCases {
		if got := StripWord(c.prompt, c.token); got != c.word {
			t.Errorf("StripWord(%q, %q) = %q, want %q (Python)", c.prompt, c.token, got, c.word)
		}
	}
}

// For a token that begins and ends with a word character the two rules are the same rule.
func TestStripWordEqualsStripTokenForWordTokens(t *testing.T) {
	for _, token := range []string{"sks", "a", "s", "V"} {
		for _, c := range stripCases {
			if w, o := StripWord(c.prompt, token), StripToken(c.prompt, token); w != o {
				t.Errorf("token %q, prompt %q: StripWord %q, StripToken %q", token, c.prompt, w, o)
			}
		}
	}
}

// The consequence documented on StripToken: the official call remove_unique_token(p, "[V]")
// leaves RPO's own prompts unchanged.
func TestStripTokenKeepsBracketedTokenBetweenSpaces(t *testing.T) {
	p := "a [V] dog with a volcano in the background"
	if got := StripToken(p, "[V]"); got != p {
		t.Errorf("StripToken = %q, want the prompt unchanged", got)
	}
	if got, want := StripWord(p, "[V]"), "a dog with a volcano in the background"; got != want {
		t.Errorf("StripWord = %q, want %q", got, want)
	}
}

func TestStripEmptyTokenOnlyCollapsesSpace(t *testing.T) {
	for _, f := range []func(string, string) string{StripToken, StripWord} {
		if got := f("  a\t [V]   dog ", ""); got != "a [V] dog" {
			t.Errorf("empty token: got %q, want %q", got, "a [V] dog")
		}
	}
}

func TestStripKeepsInvalidUTF8(t *testing.T) {
	p := "a \xff sks dog"
	if got := StripToken(p, "sks"); got != "a \xff dog" {
		t.Errorf("StripToken(%q) = %q", p, got)
	}
}
