package rewardmodel

import (
	"sort"
	"strings"
	"unicode"

	"github.com/gorpo/gorpo/internal/toyworld"
)

// specialTokens open the vocabulary, BERT's special tokens in BERT's order of use.
var specialTokens = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}

// punctuation is kept in the vocabulary so that a prompt ending in a full stop, or written with a
// comma, does not fall on [UNK].
var punctuation = []string{".", ",", "!", "?", "'", "-", ":", ";", "(", ")", "\"", "&", "/"}

// Vocabulary returns the WordPiece vocabulary of the toy world's language, one token per id: the
// special tokens, the punctuation, then every word (lower-cased, as BERT's basic tokenizer splits
// them) of the world's generic captions (articles, "photo of", colours, classes, contexts,
// accessories) and of every subject prompt RPO scores (training, validation, evaluation and
// subject prompts, with the subject token removed), sorted. It is deterministic: the same toy
// world gives the same list.
func Vocabulary() []string {
	words := map[string]bool{}
	add := func(text string) {
		for _, w := range basicWords(text) {
			words[w] = true
		}
	}
	add("a an photo of")
	for _, c := range toyworld.Colors() {
		add(c)
	}
	for _, c := range toyworld.Classes() {
		add(c.Word)
	}
	for _, c := range toyworld.Contexts() {
		add(c.Phrase)
	}
	for _, a := range toyworld.Accessories() {
		add(a.Phrase)
	}
	const token = "[V]"
	for _, s := range toyworld.Subjects() {
		var ps []toyworld.Prompt
		for _, f := range []func(string, string) ([]toyworld.Prompt, error){
			toyworld.TrainingPrompts, toyworld.EvaluationPrompts, toyworld.ValidationPrompts,
		} {
			p, err := f(s.Name, token)
			if err != nil {
				panic("rewardmodel: " + err.Error()) // the world's own tables: cannot happen
			}
			ps = append(ps, p...)
		}
		if p, err := toyworld.SubjectPrompt(s.Name, token); err == nil {
			ps = append(ps, p)
		}
		for _, p := range ps {
			add(strings.ReplaceAll(p.Text, token, " "))
		}
	}
	for _, p := range punctuation {
		delete(words, p)
	}
	sorted := make([]string, 0, len(words))
	for w := range words {
		sorted = append(sorted, w)
	}
	sort.Strings(sorted)
	out := append(append(append([]string{}, specialTokens...), punctuation...), sorted...)
	return out
}

// basicWords splits text as BERT's basic tokenizer does for this world's ASCII text:
// lower-cased, split on white space and around punctuation.
func basicWords(text string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsSpace(r):
			flush()
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			flush()
			out = append(out, string(r))
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}
