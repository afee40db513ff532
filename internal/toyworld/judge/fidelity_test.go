package judge

import (
	"testing"

	"github.com/gorpo/gorpo/internal/toyworld"
)

func TestSubjectFidelity(t *testing.T) {
	preds := []Prediction{{Subject: "stripy_ball"}, {Subject: ""}, {Subject: "stripy_ball"}, {Subject: "spotted_cup"}}
	for _, c := range []struct {
		subject string
		want    float64
	}{{"stripy_ball", 0.5}, {"spotted_cup", 0.25}, {"tabby_cat", 0}, {"", 0.25}} {
		if got := SubjectFidelity(preds, c.subject); got != c.want {
			t.Errorf("SubjectFidelity(%q) = %v, want %v", c.subject, got, c.want)
		}
	}
	if got := SubjectFidelity(nil, "stripy_ball"); got != 0 {
		t.Errorf("no predictions: %v, want 0", got)
	}
}

func TestPromptFidelity(t *testing.T) {
	parse := func(s string) toyworld.Intent {
		in, err := toyworld.ParsePrompt(s)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	beach := parse("a sks ball on the beach")
	red := parse("a red sks ball")
	hat := parse("a sks dog wearing a red hat")
	plain := parse("a photo of sks ball")
	both := parse("a purple sks cup on the Moon")
	cases := []struct {
		p    Prediction
		in   toyworld.Intent
		want bool
	}{
		{Prediction{Context: "on the beach", Color: "blue"}, beach, true}, // the colour is not asked for
		{Prediction{Context: "in the snow"}, beach, false},
		{Prediction{Context: "in the snow", Color: "red"}, red, true}, // the context is not asked for
		{Prediction{Color: "pink"}, red, false},
		{Prediction{Accessory: "wearing a red hat"}, hat, true},
		{Prediction{Accessory: ""}, hat, false},
		{Prediction{Context: "on a sofa", Color: "black"}, plain, true}, // nothing to check
		{Prediction{Context: "on the Moon", Color: "purple"}, both, true},
		{Prediction{Context: "on the Moon", Color: "blue"}, both, false},
		{Prediction{Context: "on the beach", Color: "purple"}, both, false},
	}
	var preds []Prediction
	var intents []toyworld.Intent
	hits := 0
	for i, c := range cases {
		if got := MatchesPrompt(c.p, c.in); got != c.want {
			t.Errorf("case %d: MatchesPrompt(%+v, %q) = %v, want %v", i, c.p, c.in.Text(), got, c.want)
		}
		preds = append(preds, c.p)
		intents = append(intents, c.in)
		if c.want {
			hits++
		}
	}
	if got, want := PromptFidelity(preds, intents), float64(hits)/float64(len(cases)); got != want {
		t.Errorf("PromptFidelity = %v, want %v", got, want)
	}
	if got := PromptFidelity(nil, nil); got != 0 {
		t.Errorf("no predictions: %v, want 0", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("PromptFidelity with 2 predictions and 1 intent did not panic")
		}
	}()
	PromptFidelity(preds[:2], intents[:1])
}
