package judge

import (
	"fmt"

	"github.com/gorpo/gorpo/internal/toyworld"
)

// SubjectFidelity is the share of predictions that name subject: how often the judge recognises
// the built-in subject in generated pictures (0 for no predictions).
func SubjectFidelity(preds []Prediction, subject string) float64 {
	if len(preds) == 0 {
		return 0
	}
	n := 0
	for _, p := range preds {
		if p.Subject == subject {
			n++
		}
	}
	return float64(n) / float64(len(preds))
}

// MatchesPrompt reports whether p shows what intent asks for, as far as the judge can tell: the
// context when the intent names one, the colour when it names one, and the accessory when it
// names one. The class, the subject and the "a photo of" form are not checked (SubjectFidelity
// grades the subject); an intent that names none of the three always matches.
func MatchesPrompt(p Prediction, intent toyworld.Intent) bool {
	return (intent.Context == "" || p.Context == intent.Context) &&
		(intent.Color == "" || p.Color == intent.Color) &&
		(intent.Accessory == "" || p.Accessory == intent.Accessory)
}

// PromptFidelity is the share of predictions that match their prompt's intent (MatchesPrompt):
// preds[i] judges a picture generated for intents[i] (toyworld.ParsePrompt, or Prompt.Intent of
// toyworld's prompt lists). It is 0 for no predictions and panics when the two lists differ in
// length, as an index out of range would.
func PromptFidelity(preds []Prediction, intents []toyworld.Intent) float64 {
	if len(preds) != len(intents) {
		panic(fmt.Sprintf("judge: PromptFidelity: %d predictions for %d intents", len(preds), len(intents)))
	}
	if len(preds) == 0 {
		return 0
	}
	n := 0
	for i, p := range preds {
		if MatchesPrompt(p, intents[i]) {
			n++
		}
	}
	return float64(n) / float64(len(preds))
}
