package basemodel

import (
	"strings"
	"testing"

	"github.com/gorpo/gorpo/diffusion"
)

// The vocabulary spells every caption and prompt of the world with one token per word, no
// unknown symbol, within MaxLength, and the symbols read back as the text.
func TestVocabTokenizesTheWorld(t *testing.T) {
	v, err := DefaultVocab()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := v.WriteTokenizer(dir); err != nil {
		t.Fatal(err)
	}
	tok, err := diffusion.LoadCLIPTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	corpus, err := Corpus()
	if err != nil {
		t.Fatal(err)
	}
	if tok.MaxLength() != MaxLength || tok.Pad() != tok.EOS() || tok.EOS() != len(v.Tokens)-1 {
		t.Fatalf("max length %d, pad %d, eos %d, vocab %d", tok.MaxLength(), tok.Pad(), tok.EOS(), len(v.Tokens))
	}
	t.Logf("%d tokens (%d merges) for %d texts", len(v.Tokens), len(v.Merges), len(corpus))
	longest := 0
	for _, text := range corpus {
		syms := tok.Tokens(text)
		words := Words(text)
		if len(syms) != len(words) {
			t.Fatalf("%q: symbols %q, want one per word %q", text, syms, words)
		}
		for i, s := range syms {
			if s != words[i]+"</w>" {
				t.Fatalf("%q: symbol %d is %q, want %q", text, i, s, words[i]+"</w>")
			}
		}
		ids := tok.Encode(text)
		for i, id := range ids {
			if id == tok.EOS() || id < 0 || id >= len(v.Tokens) || v.Tokens[id] != syms[i] {
				t.Fatalf("%q: id %d = %d, want %q's", text, i, id, syms[i])
			}
		}
		var back []string
		for _, id := range ids {
			back = append(back, strings.TrimSuffix(v.Tokens[id], "</w>"))
		}
		if got, want := strings.Join(back, " "), strings.Join(words, " "); got != want {
			t.Fatalf("round trip %q, want %q", got, want)
		}
		longest = max(longest, len(ids)+2)
	}
	if longest > MaxLength {
		t.Fatalf("longest text is %d ids, more than MaxLength %d", longest, MaxLength)
	}
	t.Logf("longest text: %d ids with BOS and EOS", longest)
	for _, s := range []string{"[", "v", "]"} {
		if got := tok.Tokens("a " + s); got[1] != s+"</w>" {
			t.Fatalf("%q: %q", s, got)
		}
	}
	if got := Words("a photo of [V] dog"); strings.Join(got, "|") != "a|photo|of|[|v|]|dog" {
		t.Fatalf("CLIP splits [V] as %q", got)
	}
	again, err := DefaultVocab()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(again.Tokens, "\n") != strings.Join(v.Tokens, "\n") {
		t.Fatal("the vocabulary is not deterministic")
	}
}
