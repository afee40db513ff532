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

// LoadVAE reads a diffusers VAE folder (Stable Diffusion's vae/): config.json and
// diffusion_pytorch_model.safetensors, its sharded form, or the .fp16 variant; Variant chooses a
// variant's files instead. Checkpoints saved before diffusers 0.14, whose mid-block attention is
// named query/key/value/proj_attn, load too (and Save keeps those names, which diffusers still
// reads). Errors name the file, the config field or every mismatched tensor.
func LoadVAE(dir string, opts ...LoadOption) (*AutoencoderKL, error) {
	return loadVAE(modelfs.OS, dir, opts)
}

// LoadVAEFS is LoadVAE on the folder dir inside fsys (see LoadUNetFS).
func LoadVAEFS(fsys fs.FS, dir string, opts ...LoadOption) (*AutoencoderKL, error) {
	return loadVAE(modelfs.In(fsys), dir, opts)
}

func loadVAE(m modelfs.FS, dir string, opts []LoadOption) (*AutoencoderKL, error) {
	return loadModel("vae", m, dir, diffusersFiles, opts, loadVAEConfig,
		func(b compute.Backend, cfg VAEConfig, f *safetensors.File) (*AutoencoderKL, error) {
			legacy := f.Has("encoder.mid_block.attentions.0.query.weight") || f.Has("decoder.mid_block.attentions.0.query.weight")
			v, err := declareVAE(b, cfg, 0, legacy)
			if err != nil {
				return nil, err
			}
			return v, weights.Bind(v.store, VAEScope, f, weights.BindOptions{})
		})
}

// Backend returns the backend the VAE's weights live on and its graphs run on (see
// UNet.Backend).
func (v *AutoencoderKL) Backend() compute.Backend { return v.backend }

// NewVAE creates a VAE for cfg with PyTorch's default random initialisation, drawn
// deterministically from seed.
func NewVAE(cfg VAEConfig, seed int64) (*AutoencoderKL, error) {
	v, err := declareVAE(nil, cfg, seed, false)
	if err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	if err := nn.InitializeVariables(v.backend, v.store); err != nil {
		return nil, fmt.Errorf("vae: initialising the variables: %w", err)
	}
	return v, nil
}

// declareVAE creates the VAE and its Store on backend b (nil: the default) with every variable
// declared under VAEScope. It refuses an invalid cfg, naming the field.
func declareVAE(b compute.Backend, cfg VAEConfig, seed int64, legacy bool) (*AutoencoderKL, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &AutoencoderKL{cfg: cfg, legacyAttention: legacy}
	side := 1 << (len(cfg.BlockOutChannels) - 1)
	var err error
	v.backend, v.store, err = declareStore(b, seed, func(scope *model.Scope, in []*graph.Node) {
		vae := scope.In("%s", VAEScope[1:])
		v.ForwardEncode(vae, in[0])
		v.ForwardDecode(vae, in[1])
	},
		shapes.Make(dtypes.Float32, 1, side, side, cfg.InChannels),
		shapes.Make(dtypes.Float32, 1, 1, 1, cfg.LatentChannels))
	if err != nil {
		return nil, err
	}
	v.encode = hostexec.New(v.backend, v.store, "vae: encode", v.encodeGraph)
	v.decode = hostexec.New(v.backend, v.store, "vae: decode", v.decodeGraph)
	return v, nil
}

// Save writes the VAE as a diffusers folder (config.json and
// diffusion_pytorch_model.safetensors, float32, upstream names), each file atomically.
func (v *AutoencoderKL) Save(dir string) error {
	cfg := v.cfg
	cfg.ClassName = vaeClassName
	return saveDiffusersModel("vae", v.store, VAEScope, dir, cfg)
}
