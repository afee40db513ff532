package rpo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/preference"
	"github.com/gorpo/gorpo/reward"
)

// Set-up: the images the base model generates (I_gen for RPO, class images for DreamBooth), cached
// on disk; their rewards; the preference pairs.

// Seed salts: every random draw of a run comes from Config.Seed through one of these, so that the
// draws of different purposes are independent.
const (
	saltGenerated  = 0x6967656e5f696d67 // "igen_img": seeds of I_gen
	saltClass      = 0x636c6173735f696d // "class_im": seeds of DreamBooth's class images
	saltValidation = 0x76616c5f696d6167 // "val_imag": seeds of the validation images
	saltLabels     = 0x6c6162656c735f79 // "labels_y": the preference.Sampler
	saltNoise      = 0x6e6f6973655f7874 // "noise_xt": noise, timesteps and latent samples
	saltOrder      = 0x70616972735f6f72 // "pairs_or": the order pairs (or reference photos) are visited in
	saltClassOrder = 0x636c6173735f6f72 // "class_or": the order DreamBooth's class images are visited in
	saltLoRA       = 0x6c6f72615f696e69 // "lora_ini": the LoRA adapters' initialisation
)

// deriveSeed mixes seed and salt into a new seed (SplitMix64's finaliser).
func deriveSeed(seed, salt uint64) uint64 {
	z := seed ^ salt
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// seedsFor returns n consecutive image seeds of a purpose.
func seedsFor(seed, salt uint64, n int) []uint64 {
	base := deriveSeed(seed, salt)
	out := make([]uint64, n)
	for i := range out {
		out[i] = base + uint64(i)
	}
	return out
}

// modelKey identifies what the base pipeline generates: a SHA-256 over the configurations and
// every weight of the U-Net (under diffusion.UNetScope, and LoRA adapters under LoRAScope if the
// Store has any), the VAE and the text encoder, and the scheduler configuration. With id set, id
// replaces the weights.
func modelKey(p *diffusion.Pipeline, id string) (string, error) {
	h := sha256.New()
	writeJSON := func(name string, v any) {
		data, err := json.Marshal(v)
		if err != nil {
			data = fmt.Appendf(nil, "%#v", v)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	fmt.Fprintln(h, "gorpo model key v1")
	writeJSON("unet config", p.UNet.Config())
	writeJSON("text encoder config", p.TextEncoder.Config())
	writeJSON("scheduler", p.Scheduler)
	if p.VAE != nil {
		writeJSON("vae config", p.VAE.Config())
	}
	if id != "" {
		writeJSON("model id", id)
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	if err := hashVariables(h, p.UNet.Store(), diffusion.UNetScope); err != nil {
		return "", fmt.Errorf("rpo: hashing the U-Net: %w", err)
	}
	// Adapters in the Store may be attached (and then change what the U-Net generates).
	if err := hashVariables(h, p.UNet.Store(), LoRAScope); err != nil {
		return "", fmt.Errorf("rpo: hashing the U-Net's adapters: %w", err)
	}
	if p.VAE != nil {
		if err := hashVariables(h, p.VAE.Store(), diffusion.VAEScope); err != nil {
			return "", fmt.Errorf("rpo: hashing the VAE: %w", err)
		}
	}
	if err := hashVariables(h, p.TextEncoder.Store(), ""); err != nil {
		return "", fmt.Errorf("rpo: hashing the text encoder: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashVariables writes every variable under scope ("" for all) into h: path, shape and bytes,
// in path order.
func hashVariables(h hash.Hash, store *model.Store, scope string) error {
	prefix := strings.TrimSuffix(scope, "/") + "/"
	var vars []*model.Variable
	for v := range store.IterVariables() {
		if scope == "" || strings.HasPrefix(v.Path(), prefix) {
			vars = append(vars, v)
		}
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
	for _, v := range vars {
		value, err := v.Value()
		if err != nil {
			return fmt.Errorf("%s: %w", v.Path(), err)
		}
		fmt.Fprintf(h, "%s %s\n", v.Path(), value.Shape())
		if err := value.ConstBytes(func(data []byte) { h.Write(data) }); err != nil {
			return fmt.Errorf("%s: %w", v.Path(), err)
		}
	}
	return nil
}

// imageSet is a set of generated images: one per (prompt, seed), in order.
type imageSet struct {
	Dir     string // the cache folder
	Images  []image.Image
	Prompts []string
	Seeds   []uint64
	Cached  bool // read from the cache rather than generated
}

// cacheManifest is manifest.json of a cached image set.
type cacheManifest struct {
	Format     int             `json:"format"`
	Key        string          `json:"key"`
	Kind       string          `json:"kind"`
	Model      string          `json:"model"`
	Generation Generation      `json:"generation"`
	Images     []manifestImage `json:"images"`
}

type manifestImage struct {
	File   string `json:"file"`
	Prompt string `json:"prompt"`
	Seed   uint64 `json:"seed"`
}

const cacheFormat = 1

// cacheKey names an image set by everything that determines its pixels: the U-Net's precision
// among them (fp32 is left out, so that caches written before it was a setting stay valid).
func cacheKey(kind, model string, gen Generation, precision Precision, prompts []string, seeds []uint64) string {
	if precision == PrecisionFP32 {
		precision = ""
	}
	data, _ := json.Marshal(struct {
		Format     int        `json:"format"`
		Kind       string     `json:"kind"`
		Model      string     `json:"model"`
		Generation Generation `json:"generation"`
		Precision  Precision  `json:"precision,omitempty"`
		Prompts    []string   `json:"prompts"`
		Seeds      []uint64   `json:"seeds"`
	}{cacheFormat, kind, model, gen, precision, prompts, seeds})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// generateCached returns the images the base pipeline generates for prompts (perPrompt each, in
// prompt order) from seeds, read from the cache when an earlier run made them with the same
// model, seeds and settings, otherwise generated and cached. The images returned are always the
// PNGs read back, so a run that generates and one that reads the cache train on the same pixels.
func (t *trainerRun) generateCached(ctx context.Context, kind string, phase Phase, prompts []string, perPrompt int, seeds []uint64) (*imageSet, error) {
	var all []string
	for _, p := range prompts {
		for range perPrompt {
			all = append(all, p)
		}
	}
	if len(seeds) != len(all) {
		return nil, fmt.Errorf("rpo: %s images: %d seeds for %d images", kind, len(seeds), len(all))
	}
	key := cacheKey(kind, t.modelKey, t.gen, t.cfg.Precision, all, seeds)
	dir := filepath.Join(t.opts.cacheDir, kind+"-"+key[:24])
	set := &imageSet{Dir: dir, Prompts: all, Seeds: seeds}
	if images, err := readCachedImages(dir, key, len(all), t.gen.Height, t.gen.Width); err == nil {
		set.Images, set.Cached = images, true
		t.rep.logf("%s images: %d read from the cache %s", kind, len(images), dir)
		return set, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		t.rep.logf("%s images: the cache %s is unusable (%v); generating anew", kind, dir, err)
	}

	t.rep.logf("%s images: generating %d (%d prompts × %d, %d steps)", kind, len(all), len(prompts), perPrompt, t.gen.Steps)
	t.rep.begin(phase, "step", 0, 1)
	opts := append(t.gen.options(), diffusion.ImagesPerPrompt(perPrompt), diffusion.Seeds(seeds...),
		diffusion.Progress(func(done, total int) {
			t.rep.update(ProgressEvent{Phase: phase, Done: done, Total: total, Step: t.step, Loss: t.lastLoss, Reward: t.lastReward})
		}))
	images, err := t.pipe.Generate(ctx, prompts, opts...)
	t.rep.finish()
	if err != nil {
		return nil, fmt.Errorf("rpo: generating %s images: %w", kind, err)
	}
	if err := writeCachedImages(t.opts.cacheDir, dir, cacheManifest{
		Format: cacheFormat, Key: key, Kind: kind, Model: t.modelKey, Generation: t.gen,
	}, images, all, seeds); err != nil {
		return nil, err
	}
	if set.Images, err = readCachedImages(dir, key, len(all), t.gen.Height, t.gen.Width); err != nil {
		return nil, fmt.Errorf("rpo: reading back the %s images: %w", kind, err)
	}
	return set, nil
}

// writeCachedImages writes images as PNGs with their manifest into a temporary folder and renames
// it to dir, replacing a broken one.
func writeCachedImages(cacheDir, dir string, m cacheManifest, images []image.Image, prompts []string, seeds []uint64) error {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return fmt.Errorf("rpo: image cache: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".tmp-"+m.Kind+"-")
	if err != nil {
		return fmt.Errorf("rpo: image cache: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	paths, err := diffusion.WritePNGs(tmp, "image-", images)
	if err != nil {
		return fmt.Errorf("rpo: image cache: %w", err)
	}
	for i, p := range paths {
		m.Images = append(m.Images, manifestImage{File: filepath.Base(p), Prompt: prompts[i], Seed: seeds[i]})
	}
	if err := writeJSONFile(filepath.Join(tmp, "manifest.json"), m); err != nil {
		return fmt.Errorf("rpo: image cache: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("rpo: image cache: %w", err)
	}
	syncDir(tmp)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("rpo: image cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("rpo: image cache: %w", err)
	}
	syncDir(cacheDir)
	return nil
}

// readCachedImages reads a cached image set, checking its manifest against what is wanted.
// A missing folder is an error wrapping os.ErrNotExist.
func readCachedImages(dir, key string, n, height, width int) ([]image.Image, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m cacheManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if m.Format != cacheFormat || m.Key != key || len(m.Images) != n {
		return nil, fmt.Errorf("manifest.json: format %d, key %.12s…, %d images; want format %d, key %.12s…, %d images",
			m.Format, m.Key, len(m.Images), cacheFormat, key, n)
	}
	images := make([]image.Image, n)
	for i, mi := range m.Images {
		if !filepath.IsLocal(mi.File) {
			return nil, fmt.Errorf("manifest.json: image %d: %q is outside the folder", i, mi.File)
		}
		img, err := imaging.Load(filepath.Join(dir, mi.File))
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		if img.W != width || img.H != height {
			return nil, fmt.Errorf("image %d (%s) is %d×%d, want %d×%d", i, mi.File, img.H, img.W, height, width)
		}
		images[i] = img
	}
	return images, nil
}

// writeJSONFile writes v as indented JSON to path, atomically.
func writeJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	return safetensors.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// setupReport is OutDir/setup.json: the λ_train rewards and the pairs built from them.
type setupReport struct {
	LambdaTrain   float64       `json:"lambda_train"`
	Prompts       []string      `json:"training_prompts"`
	References    []scoredImage `json:"references"` // reference i mod N against training prompt i
	Generated     []scoredImage `json:"generated"`
	GeneratedDir  string        `json:"generated_dir"`
	Pairs         []pairReport  `json:"pairs"`
	ClassImages   int           `json:"class_images,omitempty"`
	ClassImageDir string        `json:"class_image_dir,omitempty"`
}

type scoredImage struct {
	Index  int     `json:"index"`
	Prompt string  `json:"prompt"`
	Seed   uint64  `json:"seed,omitempty"`
	AlignI float64 `json:"align_i"`
	AlignT float64 `json:"align_t"`
	Reward float64 `json:"reward"`
}

type pairReport struct {
	Reference   int     `json:"reference"`
	Generated   int     `json:"generated"`
	Prompt      string  `json:"prompt"`
	Probability float64 `json:"p_reference_preferred"`
}

// buildPairs scores the references and I_gen at λ_train and pairs them as the official code does
// (preference.PairsPerPrompt: reference i mod N against the images of training prompt i).
func (t *trainerRun) buildPairs(ctx context.Context, scorer *reward.Scorer, gen *imageSet) ([]preference.Pair, *setupReport, error) {
	prompts := t.prompts.training
	n := len(t.references)
	refImages := make([]image.Image, len(prompts))
	for i := range prompts {
		refImages[i] = t.references[i%n]
	}
	lambda := reward.Harmonic(t.cfg.LambdaTrain)
	refScores, err := scorer.Score(ctx, refImages, prompts, lambda)
	if err != nil {
		return nil, nil, fmt.Errorf("rpo: scoring the reference images: %w", err)
	}
	genScores, err := scorer.Score(ctx, gen.Images, gen.Prompts, lambda)
	if err != nil {
		return nil, nil, fmt.Errorf("rpo: scoring the generated images: %w", err)
	}
	refRewards := make([]float64, len(prompts))
	genRewards := make([][]float64, len(prompts))
	per := t.cfg.ImagesPerPrompt
	for i := range prompts {
		refRewards[i] = refScores[i].Reward
		for j := range per {
			genRewards[i] = append(genRewards[i], genScores[i*per+j].Reward)
		}
	}
	pairs, err := preference.PairsPerPrompt(prompts, n, refRewards, genRewards)
	if err != nil {
		return nil, nil, fmt.Errorf("rpo: %w", err)
	}
	rep := &setupReport{LambdaTrain: t.cfg.LambdaTrain, Prompts: slices.Clone(prompts), GeneratedDir: gen.Dir}
	for i, s := range refScores {
		rep.References = append(rep.References, scoredImage{Index: i % n, Prompt: prompts[i], AlignI: s.AlignI, AlignT: s.AlignT, Reward: s.Reward})
	}
	for i, s := range genScores {
		rep.Generated = append(rep.Generated, scoredImage{Index: i, Prompt: gen.Prompts[i], Seed: gen.Seeds[i], AlignI: s.AlignI, AlignT: s.AlignT, Reward: s.Reward})
	}
	for _, p := range pairs {
		rep.Pairs = append(rep.Pairs, pairReport{Reference: p.Reference, Generated: p.Generated, Prompt: p.Prompt, Probability: p.Probability()})
	}
	return pairs, rep, nil
}
