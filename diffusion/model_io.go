package diffusion

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/modelfs"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// LoadOption adjusts LoadPipeline, LoadUNet, LoadVAE and LoadTextEncoder (and their FS forms).
type LoadOption func(*loadOptions)

type loadOptions struct {
	variant        string
	allowNonFinite bool
	backend        compute.Backend // nil: the default backend
}

// WithBackend makes the loaders put the model on b and run it there, instead of on the default
// backend (chosen once per process by GOMLX_BACKEND; see gorpo.DefaultBackend). A program can so
// hold two models on two backends (the trained U-Net on a GPU, a judge on the CPU), and a test
// can pick one. The model keeps b (UNet.Backend and the others return it); the caller owns b
// and must not finalize it while a model on it is in use. A nil b means the default.
func WithBackend(b compute.Backend) LoadOption {
	return func(o *loadOptions) { o.backend = b }
}

// collect applies opts.
func collect(opts []LoadOption) loadOptions {
	var o loadOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// backendOr returns b, or the default backend when b is nil.
func backendOr(b compute.Backend) (compute.Backend, error) {
	if b != nil {
		return b, nil
	}
	return backend.Default()
}

// ErrNonFiniteWeights is wrapped by the error of a loader that found NaN or ±Inf values in a
// model's weights; the error lists the tensors. Such a model outputs NaN, and a fine-tune of it
// would train on NaN losses, so loading refuses it unless AllowNonFinite is given.
var ErrNonFiniteWeights = weights.ErrNonFinite

// AllowNonFinite makes the loaders accept weights that hold NaN or ±Inf values (refused by
// default with an error wrapping ErrNonFiniteWeights), to inspect or repair such a model.
func AllowNonFinite() LoadOption {
	return func(o *loadOptions) { o.allowNonFinite = true }
}

// Variant makes LoadPipeline (and LoadUNet, LoadVAE, LoadTextEncoder) read the weights files of
// a variant ("fp16": the diffusion_pytorch_model.fp16.safetensors and model.fp16.safetensors that
// Stable Diffusion repositories ship beside, or instead of, the float32 files, and their sharded
// forms), as diffusers' from_pretrained(variant=...) does. Half-precision weights are converted
// to float32 on load. A component without the variant's files is an error naming them.
func Variant(name string) LoadOption {
	return func(o *loadOptions) { o.variant = name }
}

// diffusersWeights is the base name of a diffusers model's weights file.
const diffusersWeights = "diffusion_pytorch_model"

// weightsFiles names a model folder's weights: the base name of its safetensors files and the
// variant read when the full-precision files are absent ("": none).
type weightsFiles struct{ base, fallback string }

var (
	// diffusersFiles are a diffusers model's: diffusion_pytorch_model.safetensors, else the fp16
	// variant (some folders hold only that).
	diffusersFiles = weightsFiles{base: diffusersWeights, fallback: "fp16"}
	// transformersFiles are a transformers model's: model.safetensors.
	transformersFiles = weightsFiles{base: "model"}
)

// open opens the weights in dir, single-file or sharded (*.safetensors.index.json), on the file
// system m. With a variant it reads that variant's files and no others; without one, the
// full-precision files, else the fallback variant's. The error names the files it looked for.
func (w weightsFiles) open(m modelfs.FS, dir, variant string) (*safetensors.File, error) {
	if variant != "" {
		single := m.Join(dir, w.base+"."+variant+".safetensors")
		index := single + ".index.json"
		if m.Exists(single) {
			return safetensors.OpenIn(m, single)
		}
		if m.Exists(index) {
			return safetensors.OpenShardedIn(m, index)
		}
		return nil, fmt.Errorf("variant %q: no %s nor %s: %w", variant, single, m.Base(index), fs.ErrNotExist)
	}
	if w.fallback != "" {
		for _, suffix := range []string{".safetensors", ".safetensors.index.json"} {
			if m.Exists(m.Join(dir, w.base+suffix)) {
				return safetensors.OpenWeightsIn(m, dir, w.base, "")
			}
		}
		return safetensors.OpenWeightsIn(m, dir, w.base, w.fallback)
	}
	return safetensors.OpenWeightsIn(m, dir, w.base, "")
}

// loadModel is what LoadUNet, LoadVAE and LoadTextEncoder (and their FS forms) share: it reads
// dir/config.json on m with readConfig (whose errors name the model themselves), opens the
// weights (files, in the variant opts ask for) and has build declare the model on the backend
// opts name (the default one without WithBackend) for the configuration and bind the weights to
// it. Errors past config.json are prefixed with what ("unet: ...").
func loadModel[C, M any](what string, m modelfs.FS, dir string, files weightsFiles, opts []LoadOption,
	readConfig func(m modelfs.FS, path string) (C, error), build func(b compute.Backend, cfg C, f *safetensors.File) (M, error)) (M, error) {
	o := collect(opts)
	var zero M
	if err := m.CheckDir(what, dir); err != nil {
		return zero, err
	}
	b, err := backendOr(o.backend)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	cfg, err := readConfig(m, m.Join(dir, "config.json"))
	if err != nil {
		return zero, err
	}
	f, err := files.open(m, dir, o.variant)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	// Binding copies every tensor into the model's variables: the file (memory-mapped when
	// large) is not needed afterwards.
	defer f.Close()
	f.AllowNonFinite = o.allowNonFinite
	mdl, err := build(b, cfg, f)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	return mdl, nil
}

// declareStore returns a new Store on backend b (the default backend when nil), seeded with seed
// for initialisation, holding every variable build declares (not yet valued) over inputs.
func declareStore(b compute.Backend, seed int64, build func(scope *model.Scope, in []*graph.Node), inputs ...shapes.Shape) (compute.Backend, *model.Store, error) {
	b, err := backendOr(b)
	if err != nil {
		return nil, nil, err
	}
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, seed)
	if err := weights.Declare(b, store, build, inputs...); err != nil {
		return nil, nil, err
	}
	return b, store, nil
}

// saveDiffusersModel writes a diffusers model folder: the variables under scope as
// dir/diffusion_pytorch_model.safetensors (upstream names, float32) and cfg as dir/config.json,
// each atomically, the weights first. Errors read "<what>: saving to <dir>: ...".
func saveDiffusersModel(what string, store *model.Store, scope, dir string, cfg any) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: saving to %s: %w", what, dir, err)
		}
	}()
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
//
// With dtype BFloat16 or Float16 the float32 matrices and kernels (rank ≥ 2: nearly all the
// memory) are stored rounded to it (to nearest even, as the graphs' conversion rounds), one
// variable at a time; vectors (norms' scales and shifts, biases, which some layers read in
// float32) keep float32. InvalidDType keeps every value's dtype.
func copyScope(src *model.Store, from string, dst *model.Store, to string, trainable bool, dtype dtypes.DType) error {
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
		var clone *tensors.Tensor
		if dtype == dtypes.InvalidDType || dtype == value.DType() || value.Shape().Rank() < 2 {
			clone, err = value.LocalClone()
		} else {
			clone, err = convertFloat32(value, dtype)
		}
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

// convertFloat32 returns a float32 tensor's values rounded to bfloat16 or float16.
func convertFloat32(t *tensors.Tensor, dtype dtypes.DType) (*tensors.Tensor, error) {
	if t.DType() != dtypes.Float32 {
		return nil, fmt.Errorf("value is %s, only float32 values convert", t.DType())
	}
	dims := t.Shape().Dimensions
	var out *tensors.Tensor
	err := t.ConstFlatData(func(flat any) {
		src := flat.([]float32)
		switch dtype {
		case dtypes.BFloat16:
			dst := make([]bfloat16.BFloat16, len(src))
			for i, x := range src {
				dst[i] = bfloat16.FromFloat32(x)
			}
			out = tensors.FromFlatDataAndDimensions(dst, dims...)
		case dtypes.Float16:
			dst := make([]float16.Float16, len(src))
			for i, x := range src {
				dst[i] = float16.FromFloat32(x)
			}
			out = tensors.FromFlatDataAndDimensions(dst, dims...)
		}
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("cannot store a copy in %s, want BFloat16 or Float16", dtype)
	}
	return out, nil
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
