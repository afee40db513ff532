package diffusion

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// IntOrList is a config.json value that diffusers accepts either as one int shared by every block
// or as a list with one int per block (attention_head_dim, layers_per_block, cross_attention_dim,
// sample_size). It marshals back in the form it was read.
type IntOrList struct {
	Value int   // the shared value, used when List is nil
	List  []int // one value per block, or nil
}

// Int is an IntOrList holding one shared value.
func Int(v int) IntOrList { return IntOrList{Value: v} }

// Ints is an IntOrList holding one value per block.
func Ints(v ...int) IntOrList { return IntOrList{List: append([]int{}, v...)} }

// At is the value for block i: List[i], or Value when there is no list.
func (x IntOrList) At(i int) int {
	if x.List != nil {
		return x.List[i]
	}
	return x.Value
}

// IsList reports whether x holds a per-block list.
func (x IntOrList) IsList() bool { return x.List != nil }

// MarshalJSON writes an int or a list.
func (x IntOrList) MarshalJSON() ([]byte, error) {
	if x.List != nil {
		return json.Marshal(x.List)
	}
	return json.Marshal(x.Value)
}

// UnmarshalJSON reads an int or a list of ints (null leaves x unchanged).
func (x *IntOrList) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		return nil
	case len(data) > 0 && data[0] == '[':
		var l []int
		if err := json.Unmarshal(data, &l); err != nil {
			return fmt.Errorf("want an int or a list of ints, got %s", data)
		}
		*x = IntOrList{List: l}
	default:
		var v int
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("want an int or a list of ints, got %s", data)
		}
		*x = IntOrList{Value: v}
	}
	return nil
}

func (x IntOrList) String() string {
	if x.List != nil {
		return fmt.Sprint(x.List)
	}
	return fmt.Sprint(x.Value)
}

// BoolOrList is a config.json bool shared by every block or given per block
// (only_cross_attention).
type BoolOrList struct {
	Value bool
	List  []bool
}

// At is the value for block i.
func (x BoolOrList) At(i int) bool {
	if x.List != nil {
		return x.List[i]
	}
	return x.Value
}

// MarshalJSON writes a bool or a list.
func (x BoolOrList) MarshalJSON() ([]byte, error) {
	if x.List != nil {
		return json.Marshal(x.List)
	}
	return json.Marshal(x.Value)
}

// UnmarshalJSON reads a bool or a list of bools (null leaves x unchanged).
func (x *BoolOrList) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		return nil
	case len(data) > 0 && data[0] == '[':
		var l []bool
		if err := json.Unmarshal(data, &l); err != nil {
			return fmt.Errorf("want a bool or a list of bools, got %s", data)
		}
		*x = BoolOrList{List: l}
	default:
		var v bool
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("want a bool or a list of bools, got %s", data)
		}
		*x = BoolOrList{Value: v}
	}
	return nil
}

// NestedInts is transformer_layers_per_block: one int for every block, or a list with, per block,
// either one int for all its layers or a list with one int per layer (SDXL-style asymmetric
// U-Nets).
type NestedInts struct {
	Value int
	List  []IntOrList
}

// At is the value for layer j of block i.
func (x NestedInts) At(i, j int) int {
	if x.List != nil {
		return x.List[i].At(j)
	}
	return x.Value
}

// MarshalJSON writes an int or a (nested) list.
func (x NestedInts) MarshalJSON() ([]byte, error) {
	if x.List != nil {
		return json.Marshal(x.List)
	}
	return json.Marshal(x.Value)
}

// UnmarshalJSON reads an int or a list of ints or lists of ints (null leaves x unchanged).
func (x *NestedInts) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		return nil
	case len(data) > 0 && data[0] == '[':
		var l []IntOrList
		if err := json.Unmarshal(data, &l); err != nil {
			return fmt.Errorf("want an int or a list of ints or lists, got %s", data)
		}
		*x = NestedInts{List: l}
	default:
		var v int
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("want an int or a list of ints or lists, got %s", data)
		}
		*x = NestedInts{Value: v}
	}
	return nil
}

// decodeConfig fills cfg (already holding the defaults) from a config.json, refusing keys that
// cfg has no field for (keys starting with "_", such as "_name_or_path", are metadata and
// skipped). Errors name the file and the field.
func decodeConfig(data []byte, path string, cfg any) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("%s: corrupt JSON: %w", path, err)
	}
	known := map[string]bool{}
	t := reflect.TypeOf(cfg).Elem()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		known[name] = true
	}
	var unknown []string
	for k := range raw {
		if !known[k] && !strings.HasPrefix(k, "_") {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%s: unknown field(s) %s: %w", path, strings.Join(unknown, ", "), ErrUnsupportedConfig)
	}
	v := reflect.ValueOf(cfg).Elem()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		msg, ok := raw[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(msg, v.Field(i).Addr().Interface()); err != nil {
			return fmt.Errorf("%s: field %s: %v", path, name, err)
		}
	}
	return nil
}

// encodeConfig writes cfg as diffusers' save_pretrained does: one key per field, sorted, indented.
func encodeConfig(cfg any) ([]byte, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
