package diffusion

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// diffusersWeights is the base name of a diffusers model's weights file.
const diffusersWeights = "diffusion_pytorch_model"

// openDiffusersWeights opens a diffusers model folder's weights: the full-precision
// diffusion_pytorch_model.safetensors (or its sharded index) when present, else the "fp16"
// variant. The error names every file it looked for.
func openDiffusersWeights(dir string) (*safetensors.File, error) {
	for _, variant := range []string{"", "fp16"} {
		name := diffusersWeights
		if variant != "" {
			name += "." + variant
		}
		for _, suffix := range []string{".safetensors", ".safetensors.index.json"} {
			if _, err := os.Stat(filepath.Join(dir, name+suffix)); err == nil {
				return safetensors.OpenWeights(dir, diffusersWeights, variant)
			}
		}
	}
	return safetensors.OpenWeights(dir, diffusersWeights, "fp16")
}

// saveDiffusersModel writes a diffusers model folder: the variables under scope as
// dir/diffusion_pytorch_model.safetensors (upstream names, float32) and cfg as dir/config.json,
// each atomically, the weights first.
func saveDiffusersModel(store *model.Store, scope, dir string, cfg any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, diffusersWeights+".safetensors")
	if err := weights.Save(store, scope, path, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	data, err := encodeConfig(cfg)
	if err != nil {
		return fmt.Errorf("encoding config.json: %w", err)
	}
	return safetensors.WriteAtomic(filepath.Join(dir, "config.json"), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// copyScope copies the values of every variable under from in src to the same relative path
// under to in dst (cloned, so the copies are independent), setting their Trainable flag.
func copyScope(src *model.Store, from string, dst *model.Store, to string, trainable bool) error {
	prefix := strings.TrimSuffix(from, "/") + "/"
	to = "/" + strings.Trim(to, "/")
	if to == "/" {
		return fmt.Errorf("copying %s: the destination scope must not be the root", from)
	}
	if dst == src && (to+"/" == prefix || strings.HasPrefix(to+"/", prefix) || strings.HasPrefix(prefix, to+"/")) {
		return fmt.Errorf("copying %s into %s: the scopes overlap", from, to)
	}
	n := 0
	for v := range src.IterVariables() {
		if !strings.HasPrefix(v.Path(), prefix) {
			continue
		}
		value, err := v.Value()
		if err != nil {
			return fmt.Errorf("copying %s: %w", v.Path(), err)
		}
		clone, err := value.LocalClone()
		if err != nil {
			return fmt.Errorf("copying %s: %w", v.Path(), err)
		}
		path := to + "/" + strings.TrimPrefix(v.Path(), prefix)
		if old := dst.GetVariable(path); old != nil {
			if !old.Shape().Equal(clone.Shape()) {
				return fmt.Errorf("copying %s: %s exists with shape %s, want %s", v.Path(), path, old.Shape(), clone.Shape())
			}
			if err := old.SetValue(clone); err != nil {
				return fmt.Errorf("copying %s: %w", v.Path(), err)
			}
			old.SetTrainable(trainable)
			n++
			continue
		}
		nv, err := dst.CreateVariable(path, clone)
		if err != nil {
			return fmt.Errorf("copying %s: %w", v.Path(), err)
		}
		nv.SetTrainable(trainable)
		n++
	}
	if n == 0 {
		return fmt.Errorf("copying %s: no variables under that scope", from)
	}
	return nil
}

// recoverAsError turns a panic (a GoMLX graph-building or execution exception) into *err,
// prefixed with what was being done.
func recoverAsError(err *error, what string) {
	if r := recover(); r != nil {
		if e, ok := r.(error); ok {
			*err = fmt.Errorf("%s: %w", what, e)
		} else {
			*err = fmt.Errorf("%s: %v", what, r)
		}
	}
}

// numElements is the number of elements of a shape.
func numElements(dims ...int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// checkHostShape returns an error unless every dimension is positive and data holds them exactly.
func checkHostShape(what string, n int, dims ...int) error {
	for _, d := range dims {
		if d <= 0 {
			return fmt.Errorf("%s: shape %v, want positive dimensions", what, dims)
		}
	}
	if n != numElements(dims...) {
		return fmt.Errorf("%s: %d values for shape %v, want %d", what, n, dims, numElements(dims...))
	}
	return nil
}
