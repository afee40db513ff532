package toyworld

import (
	"errors"
	"fmt"
	"strings"
)

// Intent is what a prompt or caption asks for. Text builds the words from an Intent and
// ParsePrompt reads them back, both from the same tables (Contexts, Classes, Colors,
// Accessories), so every prompt the world writes parses to the Intent it was written from.
//
// The grammar, DreamBench's: ["a photo of"] ["a" | "an"] [colour] [token] class [accessory]
// [context], e.g. "a red sks ball on the beach", "a photo of sks dog", "a sks cat wearing a red
// hat".
type Intent struct {
	Class string
	// Color, Context and Accessory are empty when the prompt does not name one.
	Color     string
	Context   string
	Accessory string
	// Token is the subject's unique token ("sks", "[V]"), empty in a generic caption.
	Token string
	// Photo is set for the "a photo of ..." form.
	Photo bool
}

// Text writes the intent as a prompt. The article is left out in "a photo of {V} {class}" (the
// RPO code's subject prompt) and is "an" before a vowel ("an orange ball").
func (in Intent) Text() string {
	var w []string
	if in.Photo {
		w = append(w, "a photo of")
	}
	if !in.Photo || in.Token == "" || in.Color != "" {
		first := in.Color
		if first == "" && in.Token == "" {
			first = in.Class
		}
		if strings.ContainsAny(first[:min(1, len(first))], "aeiou") {
			w = append(w, "an")
		} else {
			w = append(w, "a")
		}
	}
	for _, s := range []string{in.Color, in.Token, in.Class, in.Accessory, in.Context} {
		if s != "" {
			w = append(w, s)
		}
	}
	return strings.Join(w, " ")
}

// ErrPrompt is wrapped by every error of ParsePrompt.
var ErrPrompt = errors.New("toyworld: cannot read prompt")

// ParsePrompt reads a prompt back into its Intent (see Intent for the grammar). Case, extra
// spaces and a final full stop are ignored, except in the token, which is kept as written.
func ParsePrompt(prompt string) (Intent, error) {
	var in Intent
	words := strings.Fields(strings.TrimSuffix(strings.TrimSpace(prompt), "."))
	lower := make([]string, len(words))
	for i, w := range words {
		lower[i] = strings.ToLower(w)
	}
	i := 0
	if len(lower) >= 3 && lower[0] == "a" && lower[1] == "photo" && lower[2] == "of" {
		in.Photo = true
		i = 3
	}
	if i < len(lower) && (lower[i] == "a" || lower[i] == "an") {
		i++
	}
	k := i
	for k < len(lower) && classIndex(lower[k]) < 0 {
		k++
	}
	if k == len(lower) {
		return Intent{}, fmt.Errorf("%w %q: no class word (one of %s)", ErrPrompt, prompt, strings.Join(classWords(), ", "))
	}
	in.Class = lower[k]
	pre := words[i:k]
	if len(pre) > 0 {
		if _, ok := colorOf(lower[i]); ok {
			in.Color = lower[i]
			pre = pre[1:]
		}
	}
	in.Token = strings.Join(pre, " ")
	rest := strings.Join(lower[k+1:], " ")
	for _, a := range accessoryTable {
		p := strings.ToLower(a.Phrase)
		if rest == p || strings.HasPrefix(rest, p+" ") {
			in.Accessory = a.Phrase
			rest = strings.TrimSpace(rest[len(p):])
			break
		}
	}
	if rest != "" {
		for _, c := range contextTable {
			if rest == strings.ToLower(c.Phrase) {
				in.Context = c.Phrase
				rest = ""
				break
			}
		}
	}
	if rest != "" {
		return Intent{}, fmt.Errorf("%w %q: %q after the class word is no accessory or context of the world", ErrPrompt, prompt, rest)
	}
	return in, nil
}

func classWords() []string {
	out := make([]string, len(classTable))
	for i, c := range classTable {
		out[i] = c.Word
	}
	return out
}

// Caption describes a generic scene in DreamBench's style, for pretraining the text-to-image and
// reward models: usually everything ("a red ball on the beach"), sometimes in the "a photo of"
// form, sometimes leaving the colour, the context or the accessory out ("a photo of a cup"), as
// chosen by the scene's Seed. A scene with a Subject is refused: subjects only ever appear
// through their token, in RPO's prompts.
func Caption(s Scene) (string, error) {
	rs, err := s.resolve()
	if err != nil {
		return "", err
	}
	if rs.subject >= 0 {
		return "", fmt.Errorf("%w: generic captions never describe a subject (%q)", ErrBadScene, s.Subject)
	}
	r := newRNG(s.Seed, streamCaption)
	in := Intent{Class: rs.Class, Color: rs.Color, Context: rs.Context, Accessory: rs.Accessory, Photo: r.chance(0.25)}
	switch v := r.float(); {
	case v < 0.1:
		in.Color = ""
	case v < 0.2:
		in.Context = ""
	case v < 0.25:
		in.Color, in.Context = "", ""
	}
	if in.Accessory != "" && r.chance(0.1) {
		in.Accessory = ""
	}
	return in.Text(), nil
}

// GenericScene draws a scene of a generic object from seed: a class, a context (pools only for
// live classes), a colour and, for a third of the live ones, an accessory, all uniformly. Scenes
// of consecutive seeds are independent.
func GenericScene(seed uint64) Scene {
	r := newRNG(seed, streamScene)
	cl := classTable[r.intn(len(classTable))]
	var ctx Context
	for {
		ctx = contextTable[r.intn(len(contextTable))].Context
		if cl.Live || !ctx.LiveOnly {
			break
		}
	}
	s := Scene{Context: ctx.Phrase, Class: cl.Word, Color: colorTable[r.intn(len(colorTable))].word, Seed: hash2(seed, streamRender)}
	if cl.Live && r.chance(1.0/3) {
		s.Accessory = accessoryTable[r.intn(len(accessoryTable))].Phrase
	}
	return s
}

// PromptKind is what a subject prompt varies.
type PromptKind string

const (
	Recontextualization PromptKind = "recontextualization" // a new context
	PropertyChange      PromptKind = "property"            // a new colour
	Accessorization     PromptKind = "accessorization"     // something to wear
	SubjectOnly         PromptKind = "subject"             // "a photo of {V} {class}"
)

// Prompt is one subject prompt with the intent it was written from.
type Prompt struct {
	Text   string
	Kind   PromptKind
	Intent Intent
}

func checkToken(token string) error {
	switch {
	case token == "":
		return fmt.Errorf("%w: empty subject token", ErrPrompt)
	case len(strings.Fields(token)) != 1 || strings.TrimSpace(token) != token:
		return fmt.Errorf("%w: subject token %q must be one word", ErrPrompt, token)
	}
	l := strings.ToLower(token)
	if _, ok := colorOf(l); ok || classIndex(l) >= 0 || l == "a" || l == "an" {
		return fmt.Errorf("%w: subject token %q is a word of the world's vocabulary", ErrPrompt, token)
	}
	return nil
}

func subjectFor(subject, token string) (Subject, error) {
	s, err := SubjectByName(subject)
	if err != nil {
		return s, err
	}
	return s, checkToken(token)
}

func prompt(s Subject, token string, kind PromptKind, in Intent) Prompt {
	in.Class, in.Token = s.Class, token
	return Prompt{Text: in.Text(), Kind: kind, Intent: in}
}

// TrainingPrompts returns the subject's 8 training prompts: the official RPO code's lists for
// objects and for live subjects, in its order (a colour prompt that would not change the subject's
// colour uses blue instead of green).
func TrainingPrompts(subject, token string) ([]Prompt, error) {
	s, err := subjectFor(subject, token)
	if err != nil {
		return nil, err
	}
	green := "green"
	if s.Color == green {
		green = "blue"
	}
	ctx := func(c string) Prompt { return prompt(s, token, Recontextualization, Intent{Context: c}) }
	col := prompt(s, token, PropertyChange, Intent{Color: green})
	if s.Live {
		return []Prompt{
			prompt(s, token, Accessorization, Intent{Accessory: "wearing a green outfit"}),
			ctx("in Vincent Van Gogh rendition"), ctx("with a China Great Wall in the background"),
			ctx("is swimming in a pool"), ctx("on a subway platform"),
			ctx("with the Statue of Liberty in the background"), ctx("on the Moon"), col,
		}, nil
	}
	return []Prompt{
		ctx("in Vincent Van Gogh rendition"), ctx("on the Moon"), col,
		ctx("with a China Great Wall in the background"), ctx("on top of wooden roof"),
		ctx("with the Statue of Liberty in the background"), ctx("with a volcano in the background"),
		ctx("on a subway platform"),
	}, nil
}

// evalColors are the colours of the property prompts, in order of preference: DreamBench's "red"
// and "purple", then colours standing in for its "shiny", "wet" and "cube shaped", which the
// world cannot draw. A subject's own colour and the training colour are skipped.
var evalColors = []string{"red", "purple", "blue", "yellow", "black", "orange", "pink", "white", "brown"}

// EvaluationPrompts returns the subject's 25 evaluation prompts, DreamBench's lists as the world
// can draw them: for objects its 20 re-contextualisations and 5 colours; for live subjects its
// 10 live re-contextualisations, its 10 accessorisations and 5 colours. None is a training prompt.
func EvaluationPrompts(subject, token string) ([]Prompt, error) {
	s, err := subjectFor(subject, token)
	if err != nil {
		return nil, err
	}
	var out []Prompt
	for _, c := range contextTable {
		if c.Use == Evaluation && (!s.Live || c.Live) {
			out = append(out, prompt(s, token, Recontextualization, Intent{Context: c.Phrase}))
		}
	}
	if s.Live {
		for _, a := range accessoryTable {
			if !a.Training {
				out = append(out, prompt(s, token, Accessorization, Intent{Accessory: a.Phrase}))
			}
		}
	}
	for _, c := range evalColors {
		if len(out) == 25 {
			break
		}
		if c != s.Color && c != "green" {
			out = append(out, prompt(s, token, PropertyChange, Intent{Color: c}))
		}
	}
	return out, nil
}

// ValidationPrompts returns the official RPO code's two validation prompts for the subject ("in a
// beautiful garden", "at the beach during sunset"), used to pick the best checkpoint.
func ValidationPrompts(subject, token string) ([]Prompt, error) {
	s, err := subjectFor(subject, token)
	if err != nil {
		return nil, err
	}
	var out []Prompt
	for _, c := range contextTable {
		if c.Use == Validation {
			out = append(out, prompt(s, token, Recontextualization, Intent{Context: c.Phrase}))
		}
	}
	return out, nil
}

// SubjectPrompt returns "a photo of {token} {class}", the prompt the references are paired with.
func SubjectPrompt(subject, token string) (Prompt, error) {
	s, err := subjectFor(subject, token)
	if err != nil {
		return Prompt{}, err
	}
	return prompt(s, token, SubjectOnly, Intent{Photo: true}), nil
}

// Scene returns the scene the intent asks for, of the given subject (or, with subject empty, of
// a generic object of the intent's class), with seed; a context the intent leaves open is filled
// with fallback.
func (in Intent) Scene(subject, fallback string, seed uint64) Scene {
	s := Scene{Context: in.Context, Class: in.Class, Color: in.Color, Subject: subject, Accessory: in.Accessory, Seed: seed}
	if s.Context == "" {
		s.Context = fallback
	}
	return s
}

// SubjectScene draws a scene of the subject from seed, as GenericScene does for generic objects:
// any context the subject's class may be in (the reference ones included), in a fifth of the
// scenes another colour, and for a third of the live subjects an accessory. It is meant for
// training judges that must recognise the subject anywhere; RPO itself never sees such scenes.
func SubjectScene(subject string, seed uint64) (Scene, error) {
	k := subjectIndex(subject)
	if k < 0 {
		return Scene{}, fmt.Errorf("%w %q", ErrUnknownSubject, subject)
	}
	sub := subjectTable[k].Subject
	r := newRNG(seed, streamScene^0x5b)
	var ctx Context
	for {
		ctx = contextTable[r.intn(len(contextTable))].Context
		if sub.Live || !ctx.LiveOnly {
			break
		}
	}
	s := Scene{Context: ctx.Phrase, Subject: sub.Name, Seed: hash2(seed, streamRender^0x5b)}
	if r.chance(0.2) {
		s.Color = colorTable[r.intn(len(colorTable))].word
	}
	if sub.Live && r.chance(1.0/3) {
		s.Accessory = accessoryTable[r.intn(len(accessoryTable))].Phrase
	}
	return s, nil
}
