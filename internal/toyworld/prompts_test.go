package toyworld

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// officialPrompts is testdata/prompts.json: the RPO code's and DreamBench's prompt lists.
type officialPrompts struct {
	Training      map[string][]string `json:"training_prompts"`
	Validation    []string            `json:"validation_prompts"`
	DreamBench    map[string][]string `json:"dreambench_eval_prompts"`
	SubjectPrompt string              `json:"subject_prompt"`
}

func loadOfficial(t *testing.T) officialPrompts {
	t.Helper()
	b, err := os.ReadFile("testdata/prompts.json")
	if err != nil {
		t.Fatal(err)
	}
	var p officialPrompts
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func fill(tmpl, token, class string) string {
	return strings.NewReplacer("{V}", token, "{class}", class).Replace(tmpl)
}

func TestSubjectPrompts(t *testing.T) {
	off := loadOfficial(t)
	for _, s := range Subjects() {
		for _, token := range []string{"sks", "[V]"} {
			train, err := TrainingPrompts(s.Name, token)
			if err != nil {
				t.Fatal(err)
			}
			eval, err := EvaluationPrompts(s.Name, token)
			if err != nil {
				t.Fatal(err)
			}
			val, err := ValidationPrompts(s.Name, token)
			if err != nil {
				t.Fatal(err)
			}
			sp, err := SubjectPrompt(s.Name, token)
			if err != nil {
				t.Fatal(err)
			}
			if len(train) != 8 || len(eval) != 25 || len(val) != 2 {
				t.Fatalf("%s: %d training, %d evaluation, %d validation prompts", s.Name, len(train), len(eval), len(val))
			}
			// The training and validation lists are the RPO code's, word for word.
			kind := "object"
			if s.Live {
				kind = "live"
			}
			for i, tmpl := range off.Training[kind] {
				if want := fill(tmpl, token, s.Class); train[i].Text != want {
					t.Errorf("%s: training prompt %d %q, want %q", s.Name, i, train[i].Text, want)
				}
			}
			for i, tmpl := range off.Validation {
				if want := fill(tmpl, token, s.Class); val[i].Text != want {
					t.Errorf("%s: validation prompt %d %q, want %q", s.Name, i, val[i].Text, want)
				}
			}
			if want := fill(off.SubjectPrompt, token, s.Class); sp.Text != want {
				t.Errorf("%s: subject prompt %q, want %q", s.Name, sp.Text, want)
			}
			// The evaluation list is DreamBench's, its first 20 prompts word for word (its last five,
			// property changes, become colours the world can draw).
			for i, tmpl := range off.DreamBench[kind][:20] {
				if want := fill(tmpl, token, s.Class); eval[i].Text != want {
					t.Errorf("%s: evaluation prompt %d %q, want %q", s.Name, i, eval[i].Text, want)
				}
			}
			trainSet := map[string]bool{}
			for _, p := range append(append(train, val...), sp) {
				trainSet[p.Text] = true
			}
			seen := map[string]bool{}
			for _, p := range eval {
				if trainSet[p.Text] {
					t.Errorf("%s: %q is both a training and an evaluation prompt", s.Name, p.Text)
				}
				if seen[p.Text] {
					t.Errorf("%s: evaluation prompt %q twice", s.Name, p.Text)
				}
				seen[p.Text] = true
			}
			// Evaluation never re-uses a training context, colour or accessory.
			used := map[string]bool{}
			for _, p := range train {
				used[p.Intent.Context+"|"+p.Intent.Color+"|"+p.Intent.Accessory] = true
				for _, v := range []string{p.Intent.Context, p.Intent.Color, p.Intent.Accessory} {
					if v != "" {
						used[v] = true
					}
				}
			}
			kinds := map[PromptKind]int{}
			for _, p := range eval {
				kinds[p.Kind]++
				for _, v := range []string{p.Intent.Context, p.Intent.Color, p.Intent.Accessory} {
					if v != "" && used[v] {
						t.Errorf("%s: evaluation prompt %q re-uses %q from training", s.Name, p.Text, v)
					}
				}
				if p.Intent.Color == s.Color {
					t.Errorf("%s: evaluation prompt %q asks for the subject's own colour", s.Name, p.Text)
				}
			}
			if s.Live && (kinds[Recontextualization] != 10 || kinds[Accessorization] != 10 || kinds[PropertyChange] != 5) ||
				!s.Live && (kinds[Recontextualization] != 20 || kinds[PropertyChange] != 5) {
				t.Errorf("%s: evaluation kinds %v", s.Name, kinds)
			}
			// Every prompt parses back to the intent it was written from, and renders.
			for _, p := range append(append(append(train, eval...), val...), sp) {
				in, err := ParsePrompt(p.Text)
				if err != nil {
					t.Fatalf("%s: %v", s.Name, err)
				}
				if in != p.Intent || in.Token != token || in.Class != s.Class {
					t.Errorf("%s: %q parses to %+v, written from %+v", s.Name, p.Text, in, p.Intent)
				}
				sc := in.Scene(s.Name, s.ReferenceContexts()[0], 7)
				if _, l, err := Render(sc); err != nil {
					t.Errorf("%s: %q: %v", s.Name, p.Text, err)
				} else if in.Color != "" && l.Color != in.Color || in.Context != "" && l.Context != in.Context {
					t.Errorf("%s: %q renders with labels %+v", s.Name, p.Text, l)
				}
			}
		}
	}
}

func TestParsePrompt(t *testing.T) {
	for text, want := range map[string]Intent{
		"a red sks ball on the beach":                              {Class: "ball", Color: "red", Token: "sks", Context: "on the beach"},
		"A photo of sks dog.":                                      {Class: "dog", Token: "sks", Photo: true},
		"a photo of a cup":                                         {Class: "cup", Photo: true},
		"an orange star":                                           {Class: "star", Color: "orange"},
		"a [V] cat wearing a red hat":                              {Class: "cat", Token: "[V]", Accessory: "wearing a red hat"},
		"a brown dog wearing pink glasses on the moon":             {Class: "dog", Color: "brown", Accessory: "wearing pink glasses", Context: "on the Moon"},
		"a  green   toy with a volcano in the background":          {Class: "toy", Color: "green", Context: "with a volcano in the background"},
		"a purple sks backpack on top of a purple rug in a forest": {Class: "backpack", Color: "purple", Token: "sks", Context: "on top of a purple rug in a forest"},
		"a sks dog wearing a red hat is swimming in a pool":        {Class: "dog", Token: "sks", Accessory: "wearing a red hat", Context: "is swimming in a pool"},
	} {
		got, err := ParsePrompt(text)
		if err != nil || got != want {
			t.Errorf("ParsePrompt(%q) = %+v, %v; want %+v", text, got, err, want)
		}
		if err == nil && !strings.EqualFold(strings.Join(strings.Fields(strings.TrimSuffix(text, ".")), " "), got.Text()) {
			t.Errorf("%q written back as %q", text, got.Text())
		}
	}
	for _, text := range []string{"", "a photo", "a sks teapot on the beach", "a sks dog on Mars", "a sks dog shiny",
		"a sks dog on the beach wearing a red hat"} {
		if _, err := ParsePrompt(text); !errors.Is(err, ErrPrompt) {
			t.Errorf("ParsePrompt(%q): error %v, want ErrPrompt", text, err)
		}
	}
	for _, token := range []string{"", "two words", " sks", "red", "dog", "a"} {
		if _, err := TrainingPrompts("stripy_ball", token); !errors.Is(err, ErrPrompt) {
			t.Errorf("token %q: error %v, want ErrPrompt", token, err)
		}
	}
	if _, err := EvaluationPrompts("nobody", "sks"); !errors.Is(err, ErrUnknownSubject) {
		t.Errorf("unknown subject: %v", err)
	}
}

func TestCaptions(t *testing.T) {
	var names []string
	for _, s := range Subjects() {
		names = append(names, s.Name, strings.ReplaceAll(s.Name, "_", " "))
	}
	forms := map[string]int{}
	for seed := range uint64(2000) {
		s := GenericScene(seed)
		c, err := Caption(s)
		if err != nil {
			t.Fatal(err)
		}
		if c2, _ := Caption(s); c2 != c {
			t.Fatalf("Caption(%+v) not deterministic", s)
		}
		for _, n := range append(names, "[V]", "sks") {
			if strings.Contains(c, n) {
				t.Fatalf("caption %q mentions %q", c, n)
			}
		}
		in, err := ParsePrompt(c)
		if err != nil {
			t.Fatalf("caption %q: %v", c, err)
		}
		if in.Token != "" || in.Class != s.Class || (in.Color != "" && in.Color != s.Color) ||
			(in.Context != "" && in.Context != s.Context) || (in.Accessory != "" && in.Accessory != s.Accessory) {
			t.Fatalf("caption %q of %+v parses to %+v", c, s, in)
		}
		switch {
		case in.Color != "" && in.Context != "":
			forms["full"]++
		case in.Color == "" && in.Context == "":
			forms["class only"]++
		default:
			forms["partial"]++
		}
		if in.Photo {
			forms["photo"]++
		}
		if in.Accessory != "" {
			forms["accessory"]++
		}
	}
	for _, f := range []string{"full", "class only", "partial", "photo", "accessory"} {
		if forms[f] == 0 {
			t.Errorf("no %s captions in 2000: %v", f, forms)
		}
	}
	if forms["full"] < 1200 {
		t.Errorf("only %d of 2000 captions say everything", forms["full"])
	}
	if _, err := Caption(Scene{Context: "on the beach", Subject: "stripy_ball"}); !errors.Is(err, ErrBadScene) {
		t.Errorf("caption of a subject scene: %v", err)
	}
	// Every context, class, colour and accessory appears in the generic data.
	seen := map[string]bool{}
	for seed := range uint64(3000) {
		s := GenericScene(seed)
		seen[s.Context], seen[s.Class], seen[s.Color], seen[s.Accessory] = true, true, true, true
		if s.Context == "is swimming in a pool" && !classTable[classIndex(s.Class)].Live {
			t.Fatalf("generic scene %+v puts an object in a pool", s)
		}
	}
	var missing []string
	for _, c := range Contexts() {
		missing = appendIfMissing(missing, seen, c.Phrase)
	}
	for _, c := range Classes() {
		missing = appendIfMissing(missing, seen, c.Word)
	}
	for _, c := range Colors() {
		missing = appendIfMissing(missing, seen, c)
	}
	for _, a := range Accessories() {
		missing = appendIfMissing(missing, seen, a.Phrase)
	}
	if len(missing) > 0 {
		t.Errorf("never drawn by GenericScene: %v", missing)
	}
}

func appendIfMissing(out []string, seen map[string]bool, w string) []string {
	if !seen[w] {
		out = append(out, w)
	}
	return out
}
