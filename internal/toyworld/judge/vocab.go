package judge

import (
	"fmt"
	"slices"

	"github.com/gorpo/gorpo/internal/toyworld"
)

// Head is one of the judge's classifiers.
type Head int

// The judge's heads, in the order of Prediction.Prob and Prediction.Probs.
const (
	Context   Head = iota // the context phrase, over every toy context ("on the beach")
	Class                 // the class word ("ball")
	Color                 // the object's main colour word ("red")
	Subject               // a built-in subject's name, or "" for a generic object
	Accessory             // an accessory phrase, or "" for none (live classes only wear them)
	NumHeads  = 5
)

var headNames = [NumHeads]string{"context", "class", "color", "subject", "accessory"}

// String is the head's name as judge.json spells it ("context", "class", ...).
func (h Head) String() string {
	if h < 0 || h >= NumHeads {
		return fmt.Sprintf("Head(%d)", int(h))
	}
	return headNames[h]
}

// Heads returns every head, in order.
func Heads() []Head { return []Head{Context, Class, Color, Subject, Accessory} }

// Vocabulary is the label list of each head, indexed by Head: what the network's outputs mean.
// The subject and accessory lists end with "" (a generic object, no accessory).
type Vocabulary [NumHeads][]string

// WorldVocabulary returns the labels of the toy world as it is now, in its fixed orders:
// toyworld.Contexts, Classes, Colors, Subjects (then "") and Accessories (then "").
func WorldVocabulary() Vocabulary {
	var v Vocabulary
	for _, c := range toyworld.Contexts() {
		v[Context] = append(v[Context], c.Phrase)
	}
	for _, c := range toyworld.Classes() {
		v[Class] = append(v[Class], c.Word)
	}
	v[Color] = toyworld.Colors()
	for _, s := range toyworld.Subjects() {
		v[Subject] = append(v[Subject], s.Name)
	}
	v[Subject] = append(v[Subject], "")
	for _, a := range toyworld.Accessories() {
		v[Accessory] = append(v[Accessory], a.Phrase)
	}
	v[Accessory] = append(v[Accessory], "")
	return v
}

// Equal reports whether v and o list the same labels in the same order.
func (v Vocabulary) Equal(o Vocabulary) bool {
	for h := range NumHeads {
		if !slices.Equal(v[h], o[h]) {
			return false
		}
	}
	return true
}

// Sizes returns the number of labels of each head.
func (v Vocabulary) Sizes() [NumHeads]int {
	var n [NumHeads]int
	for h := range NumHeads {
		n[h] = len(v[h])
	}
	return n
}

// index returns the position of each of the labels' fields in v, or an error naming the one
// that v does not have.
func (v Vocabulary) index(l toyworld.Labels) ([NumHeads]int32, error) {
	var out [NumHeads]int32
	for h, s := range [NumHeads]string{l.Context, l.Class, l.Color, l.Subject, l.Accessory} {
		i := slices.Index(v[h], s)
		if i < 0 {
			return out, fmt.Errorf("judge: %s %q is not in the judge's vocabulary", Head(h), s)
		}
		out[h] = int32(i)
	}
	return out, nil
}
