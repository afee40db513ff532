package rpo

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/gorpo/gorpo/diffusion"
)

// DefaultOutDir is where a Trainer writes its run unless OutDir says otherwise.
const DefaultOutDir = "out/rpo"

// Generation holds the sampling settings a Trainer uses for every image it makes: the generated
// training images I_gen, DreamBooth's class images and the validation images. The defaults are
// those of the paper's runs on Stable Diffusion (diffusers' pipeline defaults: 50 steps,
// guidance 7.5, the model's own image size).
type Generation struct {
	Steps    int     `json:"steps"`    // denoising steps (50)
	Guidance float64 `json:"guidance"` // classifier-free guidance scale (7.5)
	// Height and Width are the image size in pixels, also the size the reference photos are
	// resized and cropped to for training; 0 and 0 take the model's default
	// (diffusion.Pipeline.DefaultSize: 512×512 for SD 1.x).
	Height int `json:"height"`
	Width  int `json:"width"`
	// BatchSize is how many images are denoised together (4). It trades memory for speed; the
	// images agree across batch sizes only to float rounding, so it is part of the I_gen cache key.
	BatchSize int `json:"batch_size"`
}

// DefaultGeneration returns the paper's sampling settings for Stable Diffusion.
func DefaultGeneration() Generation {
	return Generation{Steps: diffusion.DefaultSteps, Guidance: diffusion.DefaultGuidance, BatchSize: diffusion.DefaultBatchSize}
}

func (g Generation) validate() error {
	var errs []error
	if g.Steps < 1 {
		errs = append(errs, fmt.Errorf("steps %d, want at least 1", g.Steps))
	}
	if math.IsNaN(g.Guidance) || math.IsInf(g.Guidance, 0) {
		errs = append(errs, fmt.Errorf("guidance %v, want a finite scale", g.Guidance))
	}
	if g.Height < 0 || g.Width < 0 || (g.Height == 0) != (g.Width == 0) {
		errs = append(errs, fmt.Errorf("size %d×%d, want both positive or both 0 (the model's default)", g.Height, g.Width))
	}
	if g.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("batch size %d, want at least 1", g.BatchSize))
	}
	if len(errs) > 0 {
		return fmt.Errorf("rpo: generation settings: %w", errors.Join(errs...))
	}
	return nil
}

// options returns the pipeline options of g (size only when set).
func (g Generation) options() []diffusion.Option {
	opts := []diffusion.Option{diffusion.Steps(g.Steps), diffusion.Guidance(g.Guidance), diffusion.BatchSize(g.BatchSize)}
	if g.Height > 0 {
		opts = append(opts, diffusion.Size(g.Height, g.Width))
	}
	return opts
}

// TrainerOption adjusts NewTrainer and Resume.
type TrainerOption func(*trainerOptions)

type trainerOptions struct {
	outDir, cacheDir string
	hooks            Hooks
	gen              Generation
	genSet           bool
	logger           io.Writer
	display          ProgressDisplay
	progress         func(ProgressEvent)
	plotCurve        CurvePlotter
	newPolicy        func(resumed CheckpointState) StoppingPolicy
	modelID          string
	overwrite        bool
	errs             []error
}

func defaultTrainerOptions() trainerOptions {
	return trainerOptions{outDir: DefaultOutDir, gen: DefaultGeneration(), logger: os.Stderr}
}

func buildTrainerOptions(opts []TrainerOption) (trainerOptions, error) {
	o := defaultTrainerOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if err := o.gen.validate(); err != nil {
		o.errs = append(o.errs, err)
	}
	if o.cacheDir == "" {
		o.cacheDir = defaultCacheDir(o.outDir)
	}
	if len(o.errs) > 0 {
		return o, errors.Join(o.errs...)
	}
	return o, nil
}

func defaultCacheDir(outDir string) string { return strings.TrimSuffix(outDir, "/") + "/cache" }

// OutDir sets the folder a run writes to (DefaultOutDir, "out/rpo"):
//
//	run.json            the Config and generation settings, for Resume
//	setup.json          the rewards of the reference and generated images, and the pairs
//	metrics.jsonl       one line per step and per validation
//	reward_curve.png    the validation reward against the step, best marked (with PlotRewardCurve)
//	validation/         step-XXXX.png: the validation images of each validation, a row per prompt
//	best/               the best-validated weights (unet/ in diffusers layout, or the LoRA file)
//	final/              the last weights, for objectives without early stopping
//	latest/             weights, optimiser state and RNG states of the last validation, for Resume
//	cache/              the generated images, unless CacheDir says otherwise
func OutDir(dir string) TrainerOption {
	return func(o *trainerOptions) {
		if strings.TrimSpace(dir) == "" {
			o.errs = append(o.errs, errors.New("rpo: OutDir: empty folder name"))
		}
		o.outDir = dir
	}
}

// CacheDir sets the folder that caches generated images (I_gen, class images) across runs:
// CacheDir/<kind>-<key>/ holds the PNGs and manifest.json, key hashing the base model's weights,
// the prompts, seeds and generation settings, so a rerun with the same inputs reuses them and any
// change regenerates. Default: OutDir/cache.
func CacheDir(dir string) TrainerOption {
	return func(o *trainerOptions) {
		if strings.TrimSpace(dir) == "" {
			o.errs = append(o.errs, errors.New("rpo: CacheDir: empty folder name"))
		}
		o.cacheDir = dir
	}
}

// WithHooks sets the functions called after each step, each validation and each new best.
func WithHooks(h Hooks) TrainerOption {
	return func(o *trainerOptions) { o.hooks = h }
}

// WithGeneration sets the sampling settings of generated, class and validation images
// (DefaultGeneration otherwise). Resume takes them from the run it continues.
func WithGeneration(g Generation) TrainerOption {
	return func(o *trainerOptions) { o.gen, o.genSet = g, true }
}

// Logger sets where progress is shown and the run's log lines are written (os.Stderr by default;
// nil or io.Discard for silence).
func Logger(w io.Writer) TrainerOption {
	return func(o *trainerOptions) {
		if w == nil {
			w = io.Discard
		}
		o.logger = w
	}
}

// Display sets how progress is shown on the Logger: a progress bar when it is a terminal and
// plain lines otherwise (DisplayAuto, the default), or one of them always, or nothing.
func Display(d ProgressDisplay) TrainerOption {
	return func(o *trainerOptions) {
		if d < DisplayAuto || d > DisplayNone {
			o.errs = append(o.errs, fmt.Errorf("rpo: Display(%d): unknown display", int(d)))
		}
		o.display = d
	}
}

// Progress calls f with every progress event: each denoising step while generating, each
// optimiser step, each validation. f runs on the training goroutine; keep it short.
func Progress(f func(ProgressEvent)) TrainerOption {
	return func(o *trainerOptions) { o.progress = f }
}

// WithStopping sets the early-stopping policy: newPolicy is called at the start of every Run and
// Resume with the progress the run continues from (on a fresh run a CheckpointState with Step 0
// and no best) and returns the policy that then sees every validation (StoppingPolicy). The
// default is the paper's rule with Config.Patience, resumed exactly:
//
//	rpo.WithStopping(func(s rpo.CheckpointState) rpo.StoppingPolicy { return s.EarlyStopping(cfg.Patience) })
//
// A checkpoint records which validation was best and how many followed it (CheckpointState's
// HasBest, BestStep, BestReward, SinceBest), as the policy decided; a policy with other state
// rebuilds it from those on Resume.
func WithStopping(newPolicy func(resumed CheckpointState) StoppingPolicy) TrainerOption {
	return func(o *trainerOptions) {
		if newPolicy == nil {
			o.errs = append(o.errs, errors.New("rpo: WithStopping: nil policy function"))
		}
		o.newPolicy = newPolicy
	}
}

// stopping returns the run's policy: the WithStopping one, or EarlyStopping with cfg.Patience.
func (o *trainerOptions) stopping(cfg Config, resumed CheckpointState) StoppingPolicy {
	if o.newPolicy != nil {
		return o.newPolicy(resumed)
	}
	return resumed.EarlyStopping(cfg.Patience)
}

// PlotRewardCurve makes the run redraw OutDir/reward_curve.png with plot after each validation
// that has a finite reward: rpo.PlotRewardCurve(report.WriteRewardCurvePNG) draws it as a PNG
// with package rpo/report. Without it no curve is drawn (the rewards are in metrics.jsonl and
// Result.Rewards), and package rpo links no plotting library. An error from plot ends the run.
func PlotRewardCurve(plot CurvePlotter) TrainerOption {
	return func(o *trainerOptions) { o.plotCurve = plot }
}

// ModelID names the base model for the I_gen cache key instead of a hash of its weights
// (hashing reads every weight once: about a second per GB). Give an identifier that changes
// whenever the weights do, such as the model folder's revision.
func ModelID(id string) TrainerOption {
	return func(o *trainerOptions) {
		if strings.TrimSpace(id) == "" {
			o.errs = append(o.errs, errors.New("rpo: ModelID: empty identifier"))
		}
		o.modelID = id
	}
}

// Overwrite lets Run start a new run in an OutDir that holds an earlier one, removing its
// outputs first (the cache is kept). Without it Run refuses such a folder: Resume continues it.
func Overwrite() TrainerOption {
	return func(o *trainerOptions) { o.overwrite = true }
}
