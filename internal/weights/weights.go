// Package weights moves model weights between safetensors files and GoMLX variable stores by
// upstream tensor names.
//
// gorpo's layers create their variables under scopes named after the upstream modules, so the
// variable "/down_blocks/0/resnets/1/conv1/weight" is the tensor
// "down_blocks.0.resnets.1.conv1.weight" of diffusers' checkpoint: binding is a walk over names,
// not a lookup table. Variables hold upstream (PyTorch) layouts, so values copy over unchanged.
//
// The usual flow: build the model's graph once on a fresh Store (which declares every variable
// with its shape, see Declare), then Bind the checkpoint, which checks names and shapes and
// reports every missing, unexpected and mis-shaped tensor at once. Save writes a scope back to a
// safetensors file atomically, under the same names.
package weights

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/safetensors"
)

// ErrMismatch is wrapped by the error Bind returns when the checkpoint and the model disagree.
var ErrMismatch = errors.New("checkpoint does not match the model")

// ErrNonFinite is wrapped by the error Bind returns when tensors it would bind hold NaN or ±Inf
// values (unless allowed, see BindOptions.AllowNonFinite): weights like that make every output
// NaN, and a fine-tune started from them would train on NaN losses.
var ErrNonFinite = errors.New("NaN or Inf values in the weights")

// UpstreamName converts a variable path under scope into the upstream tensor name:
// "/unet/down_blocks/0/conv/weight" under "/unet" is "down_blocks.0.conv.weight".
func UpstreamName(scope, path string) string {
	rel := strings.TrimPrefix(path, scope)
	rel = strings.TrimPrefix(rel, "/")
	return strings.ReplaceAll(rel, "/", ".")
}

// VariablePath is the inverse of UpstreamName.
func VariablePath(scope, name string) string {
	p := strings.TrimSuffix(scope, "/") + "/" + strings.ReplaceAll(name, ".", "/")
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// Declare builds build once on a throw-away graph, so that every variable the model uses is
// created in store with its shape (values are not initialised and nothing is compiled).
// inputs are the shapes of the graph's parameters.
func Declare(backend compute.Backend, store *model.Store, build func(scope *model.Scope, inputs []*graph.Node), inputs ...shapes.Shape) (err error) {
	g := graph.NewGraph(backend, "declare")
	defer g.Finalize()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("weights: declaring the model's variables: %v", r)
		}
	}()
	nodes := make([]*graph.Node, len(inputs))
	for i, s := range inputs {
		nodes[i] = graph.Parameter(g, fmt.Sprintf("input_%d", i), s)
	}
	build(store.RootScope(), nodes)
	return nil
}

// BindOptions adjusts Bind.
type BindOptions struct {
	// Ignore reports checkpoint tensors that the model does not use and that are not an error
	// (transformers' "position_ids" buffers, a VAE's unused quantisation layers, ...).
	Ignore func(name string) bool
	// Optional reports model variables that may be absent from the checkpoint and keep their
	// initial values.
	Optional func(name string) bool
	// AllowNonFinite binds tensors holding NaN or ±Inf values instead of refusing them. A File
	// whose AllowNonFinite field is set is bound as if this were.
	AllowNonFinite bool
}

// Bind sets the value of every variable under scope from the tensor of the same upstream name
// in f, converting F16/BF16/F64 to the variable's dtype (float32). It first checks everything
// and returns one error wrapping ErrMismatch that lists the missing, unexpected and mis-shaped
// tensors by name, or one wrapping ErrNonFinite that lists the tensors holding NaN or ±Inf
// values (see BindOptions.AllowNonFinite); on error no variable is changed.
func Bind(store *model.Store, scope string, f *safetensors.File, opts BindOptions) error {
	type job struct {
		v *model.Variable
		t *safetensors.Tensor
	}
	var jobs []job
	var missing, misShaped, unexpected []string
	used := map[string]bool{}
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), strings.TrimSuffix(scope, "/")+"/") {
			continue
		}
		name := UpstreamName(scope, v.Path())
		t, err := f.Tensor(name)
		if err != nil {
			if opts.Optional == nil || !opts.Optional(name) {
				missing = append(missing, fmt.Sprintf("%s %v", name, v.Shape().Dimensions))
			}
			continue
		}
		used[name] = true
		if !sameDims(t.Shape, v.Shape().Dimensions) {
			misShaped = append(misShaped, fmt.Sprintf("%s: checkpoint %v, model %v", name, t.Shape, v.Shape().Dimensions))
			continue
		}
		jobs = append(jobs, job{v, t})
	}
	for _, name := range f.Names() {
		if !used[name] && (opts.Ignore == nil || !opts.Ignore(name)) {
			unexpected = append(unexpected, name)
		}
	}
	if len(missing)+len(misShaped)+len(unexpected) > 0 {
		return mismatchError(f.Path, missing, unexpected, misShaped)
	}
	if !opts.AllowNonFinite && !f.AllowNonFinite {
		var bad []string
		for _, j := range jobs {
			if k := j.t.NonFinite(); k > 0 {
				bad = append(bad, fmt.Sprintf("%s (%d of %d values)", j.t.Name, k, j.t.Size()))
			}
		}
		if len(bad) > 0 {
			return nonFiniteError(f.Path, bad)
		}
	}
	for _, j := range jobs {
		value, err := toTensor(j.t, j.v.DType())
		if err != nil {
			return fmt.Errorf("weights: %s: %w", f.Path, err)
		}
		if err := j.v.SetValue(value); err != nil {
			return fmt.Errorf("weights: %s: setting %s: %w", f.Path, j.t.Name, err)
		}
	}
	return nil
}

func mismatchError(path string, missing, unexpected, misShaped []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "weights: %s: %v", path, ErrMismatch)
	WriteNameList(&b, "missing from the checkpoint", missing)
	WriteNameList(&b, "mis-shaped", misShaped)
	WriteNameList(&b, "unexpected in the checkpoint", unexpected)
	return &MismatchError{msg: b.String(), Missing: missing, Unexpected: unexpected, MisShaped: misShaped}
}

// WriteNameList appends to b, when items is not empty, a titled list of the items, sorted in
// place, one an indented line, the first 20 and a count of the rest: the body of the errors that
// name every missing, mis-shaped or unexpected tensor of a file.
func WriteNameList(b *strings.Builder, title string, items []string) {
	if len(items) == 0 {
		return
	}
	sort.Strings(items)
	fmt.Fprintf(b, "\n  %s (%d):", title, len(items))
	for i, it := range items {
		if i == 20 {
			fmt.Fprintf(b, "\n    ... and %d more", len(items)-20)
			break
		}
		fmt.Fprintf(b, "\n    %s", it)
	}
}

func nonFiniteError(path string, bad []string) error {
	sort.Strings(bad)
	shown := bad
	if len(shown) > 10 {
		shown = append(shown[:10:10], fmt.Sprintf("and %d more", len(bad)-10))
	}
	return fmt.Errorf("weights: %s: %d tensors hold NaN or Inf values: %s: %w", path, len(bad), strings.Join(shown, ", "), ErrNonFinite)
}

// NonFinite lists the float32 variables under scope holding NaN or ±Inf values, by upstream
// name with a count ("conv_in.weight (3 of 432 values)"), sorted; nil when all are finite.
func NonFinite(store *model.Store, scope string) ([]string, error) {
	var out []string
	prefix := strings.TrimSuffix(scope, "/") + "/"
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), prefix) || v.DType() != dtypes.Float32 {
			continue
		}
		value, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("weights: variable %s has no value: %w", v.Path(), err)
		}
		k, n := 0, 0
		if err := tensors.ConstFlatData(value, func(flat []float32) {
			n = len(flat)
			for _, x := range flat {
				if x-x != 0 { // NaN - NaN and Inf - Inf are NaN; finite x - x is 0
					k++
				}
			}
		}); err != nil {
			return nil, fmt.Errorf("weights: reading %s: %w", v.Path(), err)
		}
		if k > 0 {
			out = append(out, fmt.Sprintf("%s (%d of %d values)", UpstreamName(scope, v.Path()), k, n))
		}
	}
	sort.Strings(out)
	return out, nil
}

// MismatchError lists what Bind found wrong, by upstream name.
type MismatchError struct {
	msg                            string
	Missing, Unexpected, MisShaped []string
}

func (e *MismatchError) Error() string { return e.msg }
func (e *MismatchError) Unwrap() error { return ErrMismatch }

func sameDims(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func toTensor(t *safetensors.Tensor, dtype dtypes.DType) (*tensors.Tensor, error) {
	switch dtype {
	case dtypes.Float32:
		v, err := t.Float32()
		if err != nil {
			return nil, err
		}
		return tensors.FromFlatDataAndDimensions(v, t.Shape...), nil
	case dtypes.Int64:
		v, err := t.Int64()
		if err != nil {
			return nil, err
		}
		return tensors.FromFlatDataAndDimensions(v, t.Shape...), nil
	}
	return nil, fmt.Errorf("tensor %s: variable dtype %s not supported for loading", t.Name, dtype)
}

// Tensors returns the values of every variable under scope as safetensors tensors named by their
// upstream names (float32 as F32, int64 as I64), sorted by name. It copies every value into
// memory; to write a file, Sources streams the same tensors without the copy.
func Tensors(store *model.Store, scope string) ([]*safetensors.Tensor, error) {
	var out []*safetensors.Tensor
	prefix := strings.TrimSuffix(scope, "/") + "/"
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), prefix) {
			continue
		}
		name := UpstreamName(scope, v.Path())
		value, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("weights: variable %s has no value: %w", v.Path(), err)
		}
		t, err := FileTensor(name, value)
		if err != nil {
			return nil, fmt.Errorf("weights: variable %s has %w", v.Path(), err)
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// FileTensor returns value as a safetensors tensor called name: float32 as F32, int64 as I64
// (the dtypes gorpo's checkpoints hold); another dtype is an error "dtype D, only float32 and
// int64 are saved".
func FileTensor(name string, value *tensors.Tensor) (*safetensors.Tensor, error) {
	dims := value.Shape().Dimensions
	switch value.DType() {
	case dtypes.Float32:
		return safetensors.FromFloat32(name, dims, tensors.MustCopyFlatData[float32](value)), nil
	case dtypes.Int64:
		return safetensors.FromInt64(name, dims, tensors.MustCopyFlatData[int64](value)), nil
	}
	return nil, fmt.Errorf("dtype %s, only float32 and int64 are saved", value.DType())
}

// Sources describes every variable under scope as a tensor of a file to write, named by its
// upstream name (float32 as F32, int64 as I64), sorted by name. Each source writes its
// variable's bytes straight from the variable's memory when the writer reaches it (see
// TensorSource), so safetensors.WriteSources saves a model of any size with no copy of it.
func Sources(store *model.Store, scope string) ([]safetensors.Source, error) {
	var out []safetensors.Source
	prefix := strings.TrimSuffix(scope, "/") + "/"
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), prefix) {
			continue
		}
		value, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("weights: variable %s has no value: %w", v.Path(), err)
		}
		s, err := TensorSource(UpstreamName(scope, v.Path()), value)
		if err != nil {
			return nil, fmt.Errorf("weights: variable %s has %w", v.Path(), err)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// TensorSource describes value as the tensor called name of a file to write (float32 as F32,
// int64 as I64; another dtype is the error "dtype D, only float32 and int64 are saved"). Its
// bytes are read only when the writer calls WriteData, in place: on a backend that shares host
// memory (the Go backend) that is the variable's own buffer; on one that does not (XLA on an
// accelerator) GoMLX copies the tensor to the host for the call, and that copy is dropped
// afterwards, so a checkpoint never leaves a host copy of every weight behind.
func TensorSource(name string, value *tensors.Tensor) (safetensors.Source, error) {
	var dtype string
	switch value.DType() {
	case dtypes.Float32:
		dtype = "F32"
	case dtypes.Int64:
		dtype = "I64"
	default:
		return safetensors.Source{}, fmt.Errorf("dtype %s, only float32 and int64 are saved", value.DType())
	}
	es := safetensors.ElemSize(dtype)
	return safetensors.Source{Name: name, DType: dtype, Shape: value.Shape().Dimensions, WriteData: func(w io.Writer) error {
		if err := value.CheckValid(); err != nil {
			return err
		}
		if value.Size() == 0 {
			return nil
		}
		wasLocal := value.IsLocal()
		var werr error
		if err := value.ConstBytes(func(data []byte) { werr = safetensors.WriteNative(w, data, es) }); err != nil {
			return err
		}
		if !wasLocal {
			value.FinalizeLocal() // the device copy stays the variable's value
		}
		return werr
	}}, nil
}

// Save writes every variable under scope to path (atomically), under upstream names, one
// variable at a time (see Sources).
func Save(store *model.Store, scope, path string, metadata map[string]string) error {
	srcs, err := Sources(store, scope)
	if err != nil {
		return err
	}
	if len(srcs) == 0 {
		return fmt.Errorf("weights: saving %s: no variables under scope %q", path, scope)
	}
	return safetensors.WriteSources(path, srcs, metadata)
}
