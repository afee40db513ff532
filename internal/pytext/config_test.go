package pytext

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPySpecialTokenJSON(t *testing.T) {
	for _, tc := range []struct {
		json string
		want SpecialToken
	}{
		{`"[UNK]"`, "[UNK]"},
		{`""`, ""},
		{`{"content": "<|endoftext|>"}`, "<|endoftext|>"},
		// AddedToken as transformers writes it; the other fields are ignored.
		{`{"__type": "AddedToken", "content": "<|startoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false}`, "<|startoftext|>"},
		{`null`, "kept"}, // null leaves the value as it was
	} {
		tok := SpecialToken("kept")
		if err := json.Unmarshal([]byte(tc.json), &tok); err != nil || tok != tc.want {
			t.Errorf("Unmarshal(%s) = %q, %v; want %q", tc.json, tok, err, tc.want)
		}
	}
	for _, bad := range []string{`3`, `true`, `["a"]`, `{}`, `{"content": 3}`, `{"content": null}`} {
		tok := SpecialToken("kept")
		err := json.Unmarshal([]byte(bad), &tok)
		if err == nil || !strings.Contains(err.Error(), "want a string or") {
			t.Errorf("Unmarshal(%s): error %v, want one saying what a token may be", bad, err)
		}
	}
}

// config is shaped like the settings the tokenizers read.
type config struct {
	Unk       SpecialToken `json:"unk_token"`
	Pad       SpecialToken `json:"pad_token"`
	LowerCase *bool        `json:"do_lower_case"`
	MaxLength *json.Number `json:"model_max_length"`
	Other     any          `json:"other"`
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPyReadJSONIfPresent(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		cfg := config{Unk: "[UNK]"}
		if err := ReadJSONIfPresent(filepath.Join(t.TempDir(), "tokenizer_config.json"), &cfg); err != nil {
			t.Fatalf("ReadJSONIfPresent(missing) = %v, want nil", err)
		}
		if cfg != (config{Unk: "[UNK]"}) {
			t.Errorf("a missing file changed the value: %+v", cfg)
		}
	})
	t.Run("absent fields keep their value, later files win", func(t *testing.T) {
		cfg := config{Unk: "[UNK]", Pad: "[PAD]"}
		first := writeFile(t, "tokenizer_config.json", `{"pad_token": {"content": "<pad>"}, "do_lower_case": false,
			"model_max_length": 1000000000000000019884624838656, "other": 77, "tokenizer_class": "BertTokenizer"}`)
		second := writeFile(t, "special_tokens_map.json", `{"pad_token": "!"}`)
		for _, path := range []string{first, second} {
			if err := ReadJSONIfPresent(path, &cfg); err != nil {
				t.Fatal(err)
			}
		}
		if cfg.Unk != "[UNK]" || cfg.Pad != "!" || cfg.LowerCase == nil || *cfg.LowerCase {
			t.Errorf("got %+v, want unk [UNK] kept, pad \"!\" from the later file, do_lower_case false", cfg)
		}
		// Numbers are json.Number: the sentinel is kept digit for digit, even in an `any`.
		if cfg.MaxLength == nil || cfg.MaxLength.String() != "1000000000000000019884624838656" {
			t.Errorf("model_max_length = %v, want the sentinel as written", cfg.MaxLength)
		}
		if n, ok := cfg.Other.(json.Number); !ok || n != "77" {
			t.Errorf("other = %#v, want json.Number(\"77\")", cfg.Other)
		}
	})
	t.Run("corrupt file names the path", func(t *testing.T) {
		for _, content := range []string{`{"unk_token": `, `{"unk_token": 3}`, `{"do_lower_case": "yes"}`, `[1, 2]`} {
			path := writeFile(t, "tokenizer_config.json", content)
			var cfg config
			err := ReadJSONIfPresent(path, &cfg)
			if err == nil || !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("ReadJSONIfPresent(%s) error %v, want one beginning %q", content, err, path+": ")
			}
		}
	})
	t.Run("unreadable file names the path", func(t *testing.T) {
		path := t.TempDir() // a folder: it exists but cannot be read as a file
		var cfg config
		err := ReadJSONIfPresent(path, &cfg)
		var pathErr *fs.PathError
		if err == nil || !errors.As(err, &pathErr) || !strings.Contains(err.Error(), path) {
			t.Errorf("ReadJSONIfPresent(folder) error %v, want an fs.PathError naming %s", err, path)
		}
	})
}

func TestPyLookUpTokenIDs(t *testing.T) {
	vocab := map[string]int{"[PAD]": 0, "[UNK]": 1, "<|endoftext|>": 7}
	var pad, unk, eos int
	if err := LookUpTokenIDs(vocab,
		TokenID{Field: "pad_token", Token: "[PAD]", ID: &pad},
		TokenID{Field: "unk_token", Token: "[UNK]", ID: &unk},
		TokenID{Field: "eos_token", Token: "<|endoftext|>", ID: &eos},
	); err != nil || pad != 0 || unk != 1 || eos != 7 {
		t.Errorf("LookUpTokenIDs: pad %d unk %d eos %d, %v; want 0 1 7", pad, unk, eos, err)
	}
	cls, sep := -1, -1
	err := LookUpTokenIDs(vocab,
		TokenID{Field: "unk_token", Token: "[UNK]", ID: &unk},
		TokenID{Field: "cls_token", Token: "[CLS]", ID: &cls},
		TokenID{Field: "sep_token", Token: "[PAD]", ID: &sep},
	)
	if err == nil || err.Error() != `cls_token "[CLS]" is not in the vocabulary` {
		t.Errorf("LookUpTokenIDs(missing [CLS]) error %v, want one naming cls_token", err)
	}
	if cls != -1 || sep != -1 {
		t.Errorf("cls %d sep %d: the missing token and those after it must be left alone", cls, sep)
	}
}

func TestPyModelMaxLength(t *testing.T) {
	num := func(s string) *json.Number { n := json.Number(s); return &n }
	for _, tc := range []struct {
		n    *json.Number
		want int
	}{
		{nil, 77},
		{num("2"), 2},
		{num("64"), 64},
		{num("512.0"), 512},
		{num("1048576"), 1 << 20},
		{num("1048577"), 77}, // above 2^20: the "no limit" sentinel
		{num("1000000000000000019884624838656"), 77}, // int(1e30), as transformers writes it
		{num("1e30"), 77},
	} {
		if got, err := ModelMaxLength(tc.n, 77); got != tc.want || err != nil {
			t.Errorf("ModelMaxLength(%v) = %d, %v; want %d", tc.n, got, err, tc.want)
		}
	}
	for _, bad := range []string{"1", "0", "-5", "0.5", "64.5", "1e400", "x"} {
		_, err := ModelMaxLength(num(bad), 77)
		if want := "model_max_length " + bad + ", want an integer >= 2"; err == nil || err.Error() != want {
			t.Errorf("ModelMaxLength(%s) error %v, want %q", bad, err, want)
		}
	}
}
