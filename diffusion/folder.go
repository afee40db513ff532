package diffusion

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/gorpo/gorpo/internal/modelfs"
	"github.com/gorpo/gorpo/schedule"
)

// ModelIndex is a diffusers folder's model_index.json: the pipeline class and, for each
// component sub-folder, the library and class that saved it
// ("unet": ["diffusers", "UNet2DConditionModel"]). A component saved as [null, null] (SD 2.x's
// safety_checker, a pixel-space model's vae) is absent and not listed in Components.
type ModelIndex struct {
	ClassName        string               // "_class_name", e.g. "StableDiffusionPipeline"
	DiffusersVersion string               // "_diffusers_version"
	Components       map[string]Component // by sub-folder name
	// Null lists the components written as [null, null], sorted.
	Null []string
}

// Component is one model_index.json entry: ["diffusers", "UNet2DConditionModel"].
type Component struct {
	Library string // "diffusers", "transformers", "stable_diffusion", ...
	Class   string
}

func (c Component) String() string { return c.Library + "." + c.Class }

// ReadModelIndex reads a model_index.json. Keys starting with "_" are metadata; keys whose value
// is not a [library, class] pair (requires_safety_checker, ...) are pipeline arguments and
// skipped. Errors name the file and the key.
func ReadModelIndex(path string) (ModelIndex, error) { return readModelIndex(modelfs.OS, path) }

func readModelIndex(m modelfs.FS, path string) (ModelIndex, error) {
	data, err := m.ReadFile(path)
	if err != nil {
		return ModelIndex{}, fmt.Errorf("pipeline: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return ModelIndex{}, fmt.Errorf("pipeline: %s: corrupt JSON: %w", path, err)
	}
	idx := ModelIndex{Components: map[string]Component{}}
	for key, value := range raw {
		switch {
		case key == "_class_name":
			if err := json.Unmarshal(value, &idx.ClassName); err != nil {
				return ModelIndex{}, fmt.Errorf("pipeline: %s: _class_name %s, want a string", path, value)
			}
		case key == "_diffusers_version":
			_ = json.Unmarshal(value, &idx.DiffusersVersion)
		case strings.HasPrefix(key, "_"):
		case bytes.HasPrefix(bytes.TrimSpace(value), []byte("[")):
			var pair []*string
			if err := json.Unmarshal(value, &pair); err != nil || len(pair) != 2 {
				return ModelIndex{}, fmt.Errorf("pipeline: %s: %q is %s, want [library, class]", path, key, value)
			}
			if pair[0] == nil || pair[1] == nil {
				idx.Null = append(idx.Null, key)
				continue
			}
			idx.Components[key] = Component{Library: *pair[0], Class: *pair[1]}
		}
	}
	sort.Strings(idx.Null)
	return idx, nil
}

// The pipeline classes whose folders LoadPipeline reads: Stable Diffusion 1.x and 2.x
// text-to-image (and image-to-image, which saves the same components).
var pipelineClasses = []string{"StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline"}

// componentClasses are the classes LoadPipeline loads, per component.
var componentClasses = map[string][]string{
	"unet":         {"UNet2DConditionModel"},
	"vae":          {"AutoencoderKL"},
	"text_encoder": {"CLIPTextModel"},
	"tokenizer":    {"CLIPTokenizer", "CLIPTokenizerFast"},
	"scheduler": {schedule.ClassDDPM, schedule.ClassDDIM, schedule.ClassPNDM, schedule.ClassEuler,
		schedule.ClassDPMSolver},
}

// ignoredComponents are loaded by diffusers but not needed to generate: their entries are
// skipped with a note.
var ignoredComponents = map[string]string{
	"safety_checker":    "not run: gorpo has no NSFW safety checker",
	"feature_extractor": "not needed: it only prepares the safety checker's input",
	"image_encoder":     "not needed: it only serves IP-Adapters",
}

// LoadPipeline reads a diffusers pipeline folder, such as a snapshot of
// stable-diffusion-v1-5/stable-diffusion-v1-5 or stabilityai/stable-diffusion-2-1:
//
//	model_index.json        "_class_name": "StableDiffusionPipeline" and the components
//	unet/                   UNet2DConditionModel: config.json, diffusion_pytorch_model.safetensors
//	vae/                    AutoencoderKL (absent or null: a pixel-space model, see below)
//	text_encoder/           CLIPTextModel: config.json, model.safetensors
//	tokenizer/              CLIPTokenizer: vocab.json, merges.txt, tokenizer_config.json
//	scheduler/              scheduler_config.json (a class package schedule implements)
//
// Weights are single files or sharded (*.safetensors.index.json); with Variant("fp16") the
// *.fp16.safetensors files are read instead. safety_checker, feature_extractor and image_encoder
// are skipped, each with a line in Pipeline.Notes; any other component, or a component class
// this package does not implement, is refused naming it (ErrUnsupportedConfig).
//
// Without a VAE the pipeline works in pixel space: the U-Net denoises images directly (its
// in_channels and out_channels are the image's channels, 3), as the toy-world models do.
//
// The components are checked against each other (the U-Net's cross_attention_dim against the
// text encoder's hidden_size, its in_channels against the VAE's latent_channels). Errors name
// the missing file or folder, the component, or the config field.
//
// Every model lands on the default backend unless WithBackend names another; LoadPipelineFS
// reads the same folder from an fs.FS (a model compiled into the program with go:embed).
func LoadPipeline(dir string, opts ...LoadOption) (*Pipeline, error) {
	return loadPipeline(modelfs.OS, dir, opts)
}

// LoadPipelineFS is LoadPipeline on the folder dir inside fsys (slash-separated, "." for its
// root): an embed.FS compiled into the program, a zip.Reader over a downloaded archive, a
// fstest.MapFS in a test. Every file is read from fsys into memory and nothing is written to
// disk, so a program can ship its model inside its binary:
//
//	//go:embed model
//	var modelFS embed.FS
//
//	pipe, err := diffusion.LoadPipelineFS(modelFS, "model")
func LoadPipelineFS(fsys fs.FS, dir string, opts ...LoadOption) (*Pipeline, error) {
	return loadPipeline(modelfs.In(fsys), dir, opts)
}

func loadPipeline(m modelfs.FS, dir string, opts []LoadOption) (*Pipeline, error) {
	if err := m.CheckDir("pipeline", dir); err != nil {
		return nil, err
	}
	idx, err := readModelIndex(m, m.Join(dir, "model_index.json"))
	if err != nil {
		return nil, err
	}
	if !slices.Contains(pipelineClasses, idx.ClassName) {
		return nil, fmt.Errorf("pipeline: %s: _class_name %q: not a pipeline this package runs (want %s): %w",
			m.Join(dir, "model_index.json"), idx.ClassName, strings.Join(pipelineClasses, " or "), ErrUnsupportedConfig)
	}
	p := &Pipeline{}
	for _, name := range idx.Null {
		if why, ok := ignoredComponents[name]; ok {
			p.Notes = append(p.Notes, fmt.Sprintf("%s: absent (null in model_index.json); %s", name, why))
		}
	}
	var names []string
	for name := range idx.Components {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := idx.Components[name]
		if why, ok := ignoredComponents[name]; ok {
			p.Notes = append(p.Notes, fmt.Sprintf("%s (%s): skipped; %s", name, c, why))
			continue
		}
		classes, ok := componentClasses[name]
		if !ok {
			return nil, fmt.Errorf("pipeline: %s: component %q (%s) is not one this package loads (unet, vae, text_encoder, tokenizer, scheduler): %w",
				dir, name, c, ErrUnsupportedConfig)
		}
		if !slices.Contains(classes, c.Class) {
			return nil, fmt.Errorf("pipeline: %s: component %s is %s, want %s: %w",
				dir, name, c, strings.Join(classes, " or "), ErrUnsupportedConfig)
		}
	}
	for _, name := range []string{"unet", "text_encoder", "tokenizer", "scheduler"} {
		if _, ok := idx.Components[name]; !ok {
			return nil, fmt.Errorf("pipeline: %s: model_index.json has no %q component", dir, name)
		}
	}

	sub := func(name string) (string, error) {
		path := m.Join(dir, name)
		st, err := m.Stat(path)
		if err != nil {
			return "", fmt.Errorf("pipeline: component %s: %w", name, err)
		}
		if !st.IsDir() {
			return "", fmt.Errorf("pipeline: component %s: %s is not a folder", name, path)
		}
		return path, nil
	}
	path, err := sub("unet")
	if err != nil {
		return nil, err
	}
	if p.UNet, err = loadUNet(m, path, opts); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if _, ok := idx.Components["vae"]; ok {
		if path, err = sub("vae"); err != nil {
			return nil, err
		}
		if p.VAE, err = loadVAE(m, path, opts); err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
	}
	if path, err = sub("text_encoder"); err != nil {
		return nil, err
	}
	if p.TextEncoder, err = loadTextEncoder(m, path, opts); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if path, err = sub("tokenizer"); err != nil {
		return nil, err
	}
	if p.Tokenizer, err = loadCLIPTokenizer(m, path); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if path, err = sub("scheduler"); err != nil {
		return nil, err
	}
	if p.Scheduler, err = loadSchedulerConfig(m, m.Join(path, "scheduler_config.json")); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	// diffusers builds the class model_index.json names, from whatever config the folder holds.
	if class := idx.Components["scheduler"].Class; class != p.Scheduler.ClassName {
		from := p.Scheduler.ClassName
		if p.Scheduler, err = p.Scheduler.As(class); err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		p.Notes = append(p.Notes, fmt.Sprintf("scheduler: scheduler_config.json is a %s's, read as model_index.json's %s", from, class))
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", dir, err)
	}
	return p, nil
}

// loadSchedulerConfig is schedule.LoadConfig on the file system m, with its error wording.
func loadSchedulerConfig(m modelfs.FS, path string) (schedule.Config, error) {
	data, err := m.ReadFile(path)
	if err != nil {
		return schedule.Config{}, fmt.Errorf("schedule: %w", err)
	}
	c, err := schedule.ParseConfig(data)
	if err != nil {
		return schedule.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
