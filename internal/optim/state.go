package optim

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// SaveState writes every variable under the optimiser's state scope (AdamW.StateScope;
// "" means DefaultScope) to a safetensors file at path, atomically. Each tensor is named by its variable path relative to
// the scope ("step", "exp_avg/unet/conv_in/weight", …), so loading needs no model. The moments
// are streamed one variable at a time (weights.TensorSource): for a full-size U-Net they are
// twice the weights, ≈7 GB, and are never copied whole.
func SaveState(store *model.Store, scope, path string) error {
	scope = cleanScope(scope)
	var srcs []safetensors.Source
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), scope+"/") {
			continue
		}
		name := strings.TrimPrefix(v.Path(), scope+"/")
		value, err := v.Value()
		if err != nil {
			return fmt.Errorf("optim: optimizer state %s: variable %s has no value: %w", path, v.Path(), err)
		}
		s, err := weights.TensorSource(name, value)
		if err != nil {
			return fmt.Errorf("optim: optimizer state %s: variable %s has %w", path, v.Path(), err)
		}
		srcs = append(srcs, s)
	}
	if len(srcs) == 0 {
		return fmt.Errorf("optim: optimizer state %s: no variables under %q (no step taken yet?)", path, scope)
	}
	if err := safetensors.WriteSources(path, srcs, map[string]string{"format": "gorpo-adamw", "scope": scope}); err != nil {
		return fmt.Errorf("optim: optimizer state: %w", err)
	}
	return nil
}

// LoadState reads a file written by SaveState into non-trainable variables under
// scope, creating them or replacing the values of existing ones (which must have the same
// shapes). Nothing is changed unless the whole file is valid.
func LoadState(store *model.Store, scope, path string) error {
	scope = cleanScope(scope)
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("optim: optimizer state: %w", err)
	}
	defer f.Close() // every value is converted (copied) before LoadState returns
	type job struct {
		path  string
		value *tensors.Tensor
	}
	var jobs []job
	names := f.Names()
	sort.Strings(names)
	for _, name := range names {
		t, err := f.Tensor(name)
		if err != nil {
			return fmt.Errorf("optim: optimizer state %s: %w", path, err)
		}
		var value *tensors.Tensor
		switch t.DType {
		case "F32":
			v, err := t.Float32()
			if err != nil {
				return fmt.Errorf("optim: optimizer state %s: %w", path, err)
			}
			value = tensors.FromFlatDataAndDimensions(v, t.Shape...)
		case "I64":
			v, err := t.Int64()
			if err != nil {
				return fmt.Errorf("optim: optimizer state %s: %w", path, err)
			}
			value = tensors.FromFlatDataAndDimensions(v, t.Shape...)
		default:
			return fmt.Errorf("optim: optimizer state %s: tensor %q has dtype %s, want F32 or I64", path, name, t.DType)
		}
		vp := scope + "/" + name
		if old := store.GetVariable(vp); old != nil && !old.Shape().Equal(value.Shape()) {
			return fmt.Errorf("optim: optimizer state %s: tensor %q is %s, but variable %s is %s",
				path, name, value.Shape(), vp, old.Shape())
		}
		jobs = append(jobs, job{vp, value})
	}
	for _, j := range jobs {
		v := store.GetVariable(j.path)
		if v == nil {
			if v, err = store.CreateVariable(j.path, j.value); err != nil {
				return fmt.Errorf("optim: optimizer state %s: %w", path, err)
			}
		} else if err := v.SetValue(j.value); err != nil {
			return fmt.Errorf("optim: optimizer state %s: setting %s: %w", path, j.path, err)
		}
		v.SetTrainable(false)
	}
	return nil
}

func cleanScope(scope string) string {
	if strings.Trim(scope, "/") == "" {
		return DefaultScope
	}
	if !strings.HasPrefix(scope, "/") {
		scope = "/" + scope
	}
	return strings.TrimSuffix(scope, "/")
}
