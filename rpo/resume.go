package rpo

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/reward"
)

// Files and folders of a run in OutDir.
const (
	RunFile          = "run.json"      // the Config and generation settings
	SetupFile        = "setup.json"    // rewards and pairs
	MetricsFile      = "metrics.jsonl" // one line per step and per validation
	BestCheckpoint   = "best"          // the best-validated weights
	FinalCheckpoint  = "final"         // the last weights (objectives without early stopping)
	LatestCheckpoint = "latest"        // the state Resume continues from
	trainerStateFile = "trainer.json"  // inside latest/: what CheckpointState does not hold
)

const runFormat = 1

// runInfo is OutDir/run.json.
type runInfo struct {
	Format     int        `json:"format"`
	Config     Config     `json:"config"`
	ConfigHash string     `json:"config_hash"`
	Generation Generation `json:"generation"` // with the image size resolved
	Model      string     `json:"model"`      // the base model's key (see modelKey)
}

func readRunInfo(outDir string) (runInfo, error) {
	path := filepath.Join(outDir, RunFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return runInfo{}, fmt.Errorf("rpo: %s: %w", path, err)
	}
	var info runInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return runInfo{}, fmt.Errorf("rpo: %s: %w", path, err)
	}
	if info.Format != runFormat {
		return runInfo{}, fmt.Errorf("rpo: %s: format %d, want %d", path, info.Format, runFormat)
	}
	if info.ConfigHash != info.Config.Hash() {
		return runInfo{}, fmt.Errorf("rpo: %s: the configuration does not match its recorded hash (edited?)", path)
	}
	return info, nil
}

// trainerCheckpoint is latest/trainer.json: the run's progress beyond CheckpointState.
type trainerCheckpoint struct {
	Format int `json:"format"`
	// ValidatedStep is the step of the last completed validation (0: none). A checkpoint written
	// when a validation was interrupted has Step > ValidatedStep at a validation step: Resume
	// validates first.
	ValidatedStep int          `json:"validated_step"`
	Rewards       []rewardJSON `json:"rewards"`
	Finished      bool         `json:"finished"` // all steps taken, or stopped by Patience
	StopReason    string       `json:"stop_reason,omitempty"`
	LoRA          bool         `json:"lora"`
}

type rewardJSON struct {
	Step   int       `json:"step"`
	Reward jsonFloat `json:"reward"`
}

func toRewardJSON(points []RewardPoint) []rewardJSON {
	out := make([]rewardJSON, len(points))
	for i, p := range points {
		out[i] = rewardJSON{p.Step, jsonFloat(p.Reward)}
	}
	return out
}

func fromRewardJSON(points []rewardJSON) []RewardPoint {
	out := make([]RewardPoint, len(points))
	for i, p := range points {
		out[i] = RewardPoint{p.Step, float64(p.Reward)}
	}
	return out
}

// pcgWords and pcgFromWords convert a PCG's state (its MarshalBinary: "pcg:" and two big-endian
// words) to and from CheckpointState.GraphRNG.
func pcgWords(p *rand.PCG) ([]uint64, error) {
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if len(b) != 20 || string(b[:4]) != "pcg:" {
		return nil, fmt.Errorf("rpo: unexpected PCG state encoding (%d bytes)", len(b))
	}
	return []uint64{binary.BigEndian.Uint64(b[4:]), binary.BigEndian.Uint64(b[12:])}, nil
}

func pcgFromWords(p *rand.PCG, words []uint64) error {
	if len(words) != 2 {
		return fmt.Errorf("rpo: noise RNG state has %d words, want 2", len(words))
	}
	b := make([]byte, 20)
	copy(b, "pcg:")
	binary.BigEndian.PutUint64(b[4:], words[0])
	binary.BigEndian.PutUint64(b[12:], words[1])
	return p.UnmarshalBinary(b)
}

// resumePoint is where Resume continues: latest/'s state.
type resumePoint struct {
	state   CheckpointState
	trainer trainerCheckpoint
}

func loadResumePoint(dir string) (*resumePoint, error) {
	state, err := LoadCheckpointState(dir)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, trainerStateFile))
	if err != nil {
		return nil, fmt.Errorf("rpo: checkpoint %s: %v: %w", dir, err, ErrBadCheckpoint)
	}
	var tc trainerCheckpoint
	if err := json.Unmarshal(data, &tc); err != nil {
		return nil, fmt.Errorf("rpo: checkpoint %s: %s is corrupt: %v: %w", dir, trainerStateFile, err, ErrBadCheckpoint)
	}
	if tc.Format != runFormat || tc.ValidatedStep < 0 || tc.ValidatedStep > state.Step {
		return nil, fmt.Errorf("rpo: checkpoint %s: %s: format %d, validated step %d of %d: %w",
			dir, trainerStateFile, tc.Format, tc.ValidatedStep, state.Step, ErrBadCheckpoint)
	}
	return &resumePoint{state: state, trainer: tc}, nil
}

// Resume continues the run in outDir from its latest checkpoint (OutDir/latest: written at every
// validation, when a run is cancelled, and at its end), with the Config and generation settings
// recorded in outDir/run.json. pipe must hold the same base model the run started from (its
// weights are checked against the recorded key) and references the same photos; the embedder
// the same judge. The options are those of NewTrainer; OutDir is outDir whatever they say, and
// WithGeneration, if given, must match the recorded settings.
//
// The resumed run draws the same noise, timesteps and labels as an uninterrupted one would have
// (their generators' states are in the checkpoint; the order pairs are visited in is a function
// of the seed and the step), loads the trained weights and AdamW's state exactly, and so reaches
// bit for bit the same weights on a deterministic backend (GoMLX's Go backend is; GPU
// reductions may not be, and then it agrees to float rounding). A validation that was interrupted is redone
// first. A run that finished (all steps, or stopped by Patience) is not trained further: Resume
// returns its result. A run stopped by an OnValidate hook continues. A run cancelled before its
// first step, which left no checkpoint, starts again from step 0.
//
// latest/ is checked whole before anything else runs (VerifyCheckpoint: every file's size and
// SHA-256), so a truncated or corrupted checkpoint is an error wrapping ErrBadCheckpoint that
// names the file, not a failure after the set-up has been redone.
func Resume(ctx context.Context, outDir string, pipe *diffusion.Pipeline, embedder reward.Embedder,
	references []image.Image, opts ...TrainerOption) (*Result, error) {
	info, err := readRunInfo(outDir)
	if err != nil {
		return nil, fmt.Errorf("rpo: resume: %w", err)
	}
	t, err := NewTrainer(info.Config, pipe, embedder, references, slices.Concat(opts, []TrainerOption{OutDir(outDir)})...)
	if err != nil {
		return nil, fmt.Errorf("rpo: resume: %w", err)
	}
	if t.opts.genSet && t.gen != info.Generation {
		return nil, fmt.Errorf("rpo: resume: generation settings %+v, but the run in %s used %+v", t.gen, outDir, info.Generation)
	}
	t.gen = info.Generation
	t.runModel = info.Model
	latest := filepath.Join(outDir, LatestCheckpoint)
	if _, err := os.Stat(latest); errors.Is(err, os.ErrNotExist) {
		if _, errOld := os.Stat(oldPath(latest)); errors.Is(errOld, os.ErrNotExist) {
			t.restart = true
			return t.run(ctx, nil)
		}
	}
	// The whole checkpoint, contents included, before any expensive work.
	if _, err := VerifyCheckpoint(latest); err != nil {
		return nil, fmt.Errorf("rpo: resume: %w", err)
	}
	rp, err := loadResumePoint(latest)
	if err != nil {
		return nil, fmt.Errorf("rpo: resume: %w", err)
	}
	if rp.state.ConfigHash != info.ConfigHash {
		return nil, fmt.Errorf("rpo: resume: %s was written with another configuration (hash %.12s…, run.json has %.12s…): %w",
			latest, rp.state.ConfigHash, info.ConfigHash, ErrBadCheckpoint)
	}
	if rp.trainer.LoRA != (info.Config.LoRARank > 0) {
		return nil, fmt.Errorf("rpo: resume: %s: LoRA %v, but the configuration says LoRARank %d: %w",
			latest, rp.trainer.LoRA, info.Config.LoRARank, ErrBadCheckpoint)
	}
	return t.run(ctx, rp)
}

// rewardsCopy returns a copy of the reward history.
func rewardsCopy(points []RewardPoint) []RewardPoint {
	return append([]RewardPoint(nil), points...)
}

// bestOf returns the best point's step and reward (0 and NaN without one).
func bestOf(points []RewardPoint) (int, float64) {
	if i := BestPoint(points); i >= 0 {
		return points[i].Step, points[i].Reward
	}
	return 0, math.NaN()
}
