package pytext

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"

	"github.com/gorpo/gorpo/internal/modelfs"
)

// SpecialToken is a token named in tokenizer_config.json or special_tokens_map.json (unk_token,
// pad_token, ...), which transformers writes either as a string or as an AddedToken object
// {"content": ..., "lstrip": ..., ...}; only the content is kept.
type SpecialToken string

// UnmarshalJSON accepts a string, an object with a string "content" field (its other fields are
// ignored) or null, which leaves s as it was.
func (s *SpecialToken) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	var str string
	if err := json.Unmarshal(data, &str); err == nil {
		*s = SpecialToken(str)
		return nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(data, &obj); err != nil || obj.Content == nil {
		return fmt.Errorf("token %s, want a string or {\"content\": string}", data)
	}
	*s = SpecialToken(*obj.Content)
	return nil
}

// ReadJSONIfPresent decodes the JSON file at path into v, numbers as json.Number (so that a
// json.Number field keeps transformers' 1e30 "no limit" sentinel exactly). Fields the file does
// not name keep their value in v, so reading several files in turn lets the later ones take
// precedence. A file that does not exist is not an error: v is left as it was and the result is
// nil. Any other failure is an error naming path.
func ReadJSONIfPresent(path string, v any) error { return ReadJSONIfPresentIn(modelfs.OS, path, v) }

// ReadJSONIfPresentIn is ReadJSONIfPresent on the file system m.
func ReadJSONIfPresentIn(m modelfs.FS, path string, v any) error {
	data, err := m.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err // an *fs.PathError, which names path
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// A TokenID is one special token for LookUpTokenIDs to find in a vocabulary.
type TokenID struct {
	Field string       // its configuration key, such as "pad_token", for the error message
	Token SpecialToken // its text
	ID    *int         // receives its id
}

// LookUpTokenIDs sets *t.ID to vocab[t.Token] for each of tokens, in order. A token missing from
// vocab is an error naming its field and text; the tokens after it are not looked up.
func LookUpTokenIDs(vocab map[string]int, tokens ...TokenID) error {
	for _, t := range tokens {
		id, ok := vocab[string(t.Token)]
		if !ok {
			return fmt.Errorf("%s %q is not in the vocabulary", t.Field, string(t.Token))
		}
		*t.ID = id
	}
	return nil
}

// noLimit is the largest model_max_length taken at its word. transformers writes a huge sentinel
// (int(1e30)) for a tokenizer with no limit of its own; ModelMaxLength reads anything above this
// as that sentinel.
const noLimit = 1 << 20

// ModelMaxLength interprets model_max_length, the padded sequence length of
// tokenizer_config.json, as read into a json.Number (see ReadJSONIfPresent): n, when it is an
// integer of at least 2; def when n is nil (the files do not say) or above 2^20 (transformers'
// "no limit" sentinel). Anything else (a fraction, a number below 2) is an error.
func ModelMaxLength(n *json.Number, def int) (int, error) {
	if n == nil {
		return def, nil
	}
	switch f, err := n.Float64(); {
	case err != nil || f < 2 || f != math.Trunc(f):
		return 0, fmt.Errorf("model_max_length %s, want an integer >= 2", n.String())
	case f <= noLimit:
		return int(f), nil
	}
	return def, nil
}
