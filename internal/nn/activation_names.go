package nn

import (
	"fmt"
	"sort"

	. "github.com/gomlx/gomlx/core/graph"
)

// activationsByName are the entries of transformers' ACT2FN (and diffusers' get_activation) that
// gorpo's models use, by the names configs give in hidden_act / act_fn.
var activationsByName = map[string]func(*Node) *Node{
	"gelu":              GELU,
	"gelu_new":          GELUTanh,
	"gelu_pytorch_tanh": GELUTanh,
	"gelu_fast":         GELUTanh,
	"quick_gelu":        QuickGELU,
	"relu":              func(x *Node) *Node { return Max(x, ZerosLike(x)) },
	"silu":              SiLU,
	"swish":             SiLU,
	"tanh":              Tanh,
}

// ActivationByName returns the activation a config's hidden_act (or act_fn) names, or an error
// listing the supported names.
func ActivationByName(name string) (func(*Node) *Node, error) {
	if f, ok := activationsByName[name]; ok {
		return f, nil
	}
	return nil, fmt.Errorf("activation %q not supported, want one of %q", name, ActivationNames())
}

// ActivationNames lists the names ActivationByName knows, sorted.
func ActivationNames() []string {
	names := make([]string, 0, len(activationsByName))
	for n := range activationsByName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
