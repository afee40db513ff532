package diffusion

import (
	"fmt"
	"io/fs"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/hostexec"
	"github.com/gorpo/gorpo/internal/modelfs"
	"github.com/gorpo/gorpo/internal/nn"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// LoadUNet reads a diffusers U-Net folder (Stable Diffusion's unet/): config.json and
// diffusion_pytorch_model.safetensors, its sharded form, or the .fp16 variant (converted to
// float32); Variant chooses a variant's files instead. Unsupported configurations are refused
// naming the field (ErrUnsupportedConfig); a checkpoint that does not match the configuration
// is refused listing every missing, unexpected and mis-shaped tensor by name.
func LoadUNet(dir string, opts ...LoadOption) (*UNet, error) {
	return loadUNet(modelfs.OS, dir, opts)
}

// LoadUNetFS is LoadUNet on the folder dir inside fsys (slash-separated, "." for its root): an
// embed.FS compiled into the program, a zip.Reader, a fstest.MapFS. The files are read into
// memory; nothing is written to disk.
func LoadUNetFS(fsys fs.FS, dir string, opts ...LoadOption) (*UNet, error) {
	return loadUNet(modelfs.In(fsys), dir, opts)
}

func loadUNet(m modelfs.FS, dir string, opts []LoadOption) (*UNet, error) {
	return loadModel("unet", m, dir, diffusersFiles, opts, loadUNetConfig,
		func(b compute.Backend, cfg UNetConfig, f *safetensors.File) (*UNet, error) {
			u, err := declareUNet(b, cfg, 0)
			if err != nil {
				return nil, err
			}
			return u, weights.Bind(u.store, UNetScope, f, weights.BindOptions{})
		})
}

// NewUNet creates a U-Net for cfg with PyTorch's default random initialisation (Linear and
// convolutions U(-1/√fanIn, 1/√fanIn), norms ones and zeros), drawn deterministically from seed:
// for training small models from scratch. It lives on the default backend.
func NewUNet(cfg UNetConfig, seed int64) (*UNet, error) {
	u, err := declareUNet(nil, cfg, seed)
	if err != nil {
		return nil, fmt.Errorf("unet: %w", err)
	}
	if err := nn.InitializeVariables(u.backend, u.store); err != nil {
		return nil, fmt.Errorf("unet: initialising the variables: %w", err)
	}
	return u, nil
}

// Backend returns the backend the U-Net's weights live on and its graphs run on: the one
// WithBackend gave the loader, else the default.
func (u *UNet) Backend() compute.Backend { return u.backend }

// declareUNet creates the UNet and its Store on backend b (nil: the default), with every
// variable declared (not yet valued) under UNetScope. It refuses an invalid cfg, naming the field.
func declareUNet(b compute.Backend, cfg UNetConfig, seed int64) (*UNet, error) {
	plan, err := cfg.plan()
	if err != nil {
		return nil, err
	}
	u := &UNet{cfg: cfg, plan: plan}
	// The smallest input every down block can halve.
	side := 1 << (len(plan.down) - 1)
	u.backend, u.store, err = declareStore(b, seed, func(scope *model.Scope, in []*graph.Node) {
		u.Forward(scope.In("%s", UNetScope[1:]), in[0], in[1], in[2])
	},
		shapes.Make(dtypes.Float32, 1, side, side, cfg.InChannels),
		shapes.Make(dtypes.Float32, 1),
		shapes.Make(dtypes.Float32, 1, 1, plan.crossDim))
	if err != nil {
		return nil, err
	}
	u.predict = hostexec.New(u.backend, u.store, "unet: predict", u.predictGraph)
	return u, nil
}

// Save writes the U-Net as a diffusers folder: config.json and
// diffusion_pytorch_model.safetensors (float32, upstream tensor names), each written to a
// temporary file and renamed into place, so diffusers' from_pretrained (and LoadUNet) read it.
func (u *UNet) Save(dir string) error {
	cfg := u.cfg
	cfg.ClassName = unetClassName
	return saveDiffusersModel("unet", u.store, UNetScope, dir, cfg)
}

// CopyTo copies the U-Net's weights into store under scope (for example "/base": a frozen copy
// beside the trained one, for Forward(store.Scope("/base"), ...)), cloning their values and
// setting their Trainable flag. The store may be the U-Net's own.
func (u *UNet) CopyTo(store *model.Store, scope string, trainable bool) error {
	if err := copyScope(u.store, UNetScope, store, scope, trainable, dtypes.InvalidDType); err != nil {
		return fmt.Errorf("unet: %w", err)
	}
	return nil
}

// CopyFrozenAs copies the U-Net's weights into store under scope as CopyTo does, not trainable,
// with its matrices and kernels stored in dtype: dtypes.BFloat16 or Float16 halve a frozen
// copy's memory (1.7 GB for Stable Diffusion 1.5's U-Net); vectors (norms, biases) stay float32.
// The layers convert the matrices they read to the dtype they compute in, so a copy stored in the
// compute dtype gives the same results as a float32 copy would; in a float32 computation it gives
// the half-precision weights. Float32 (or InvalidDType) is CopyTo.
func (u *UNet) CopyFrozenAs(store *model.Store, scope string, dtype dtypes.DType) error {
	switch dtype {
	case dtypes.InvalidDType, dtypes.Float32:
		return u.CopyTo(store, scope, false)
	case dtypes.BFloat16, dtypes.Float16:
	default:
		return fmt.Errorf("unet: a frozen copy in %s, want Float32, BFloat16 or Float16", dtype)
	}
	if err := copyScope(u.store, UNetScope, store, scope, false, dtype); err != nil {
		return fmt.Errorf("unet: %w", err)
	}
	return nil
}
