package rpo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/safetensors"
)

// A checkpoint is a folder:
//
//	unet/                              the trained U-Net in diffusers layout (config.json,
//	                                   diffusion_pytorch_model.safetensors), or instead
//	pytorch_lora_weights.safetensors   the LoRA adapters only
//	optimizer.safetensors              AdamW's state (SaveOptimizerState)
//	state.json                         step, best validation, RNG states, config hash, file sizes
//
// WriteCheckpoint builds it in a temporary folder beside its destination and swaps it in with two
// renames (the old folder aside, the new one in), removing the old folder only after the new one
// is in place; state.json, written last, lists every file with its size. A crash therefore never
// leaves a half-written checkpoint under the destination's name: at worst the previous checkpoint
// sits aside under ".<name>.old", and the next WriteCheckpoint or LoadCheckpointState puts it back.

// Names inside a checkpoint folder.
const (
	CheckpointStateFile     = "state.json"
	CheckpointOptimizerFile = "optimizer.safetensors"
	CheckpointUNetDir       = "unet"
	CheckpointLoRAFile      = LoRAWeightName
)

// checkpointFormat is state.json's "format"; bump it when the layout changes.
const checkpointFormat = 1

// ErrBadCheckpoint is wrapped by the errors LoadCheckpointState returns for a checkpoint folder that
// is missing, incomplete or corrupt.
var ErrBadCheckpoint = errors.New("unusable checkpoint")

// CheckpointState is a checkpoint's state.json: where the run was, so that Resume continues it.
type CheckpointState struct {
	Step int // optimiser steps taken

	// The early-stopping policy's state (see EarlyStopping).
	HasBest    bool
	BestStep   int
	BestReward float64
	SinceBest  int // validations since the best one

	SamplerRNG []byte   // preference.Sampler.MarshalBinary
	GraphRNG   []uint64 // the training graph's RNG state (graph.RNGStateShape)
	ConfigHash string   // Config.Hash of the run

	// Files maps every file of the checkpoint (slash-separated, relative to its folder, state.json
	// excepted) to its size in bytes. WriteCheckpoint fills it; LoadCheckpointState checks it.
	Files map[string]int64
	// Checksums maps the same files to the hex SHA-256 of their contents (sha256sum's). Written by
	// WriteCheckpoint, checked by VerifyCheckpoint; absent in checkpoints of earlier versions.
	Checksums map[string]string
}

// SetEarlyStopping copies the policy's state into s.
func (s *CheckpointState) SetEarlyStopping(e *EarlyStopping) {
	s.HasBest, s.BestStep, s.BestReward, s.SinceBest = e.HasBest, e.BestStep, e.BestReward, e.SinceBest
	if !e.HasBest {
		s.BestStep, s.BestReward = 0, math.Inf(-1)
	}
}

// EarlyStopping restores the policy recorded in s, with the given patience.
func (s CheckpointState) EarlyStopping(patience int) *EarlyStopping {
	e := NewEarlyStopping(patience)
	if s.HasBest {
		e.HasBest, e.BestStep, e.BestReward = true, s.BestStep, s.BestReward
	}
	e.SinceBest = s.SinceBest
	return e
}

// stateJSON is state.json on disk.
type stateJSON struct {
	Format     int               `json:"format"`
	Step       int               `json:"step"`
	Best       *bestJSON         `json:"best"`
	SinceBest  int               `json:"validations_since_best"`
	SamplerRNG []byte            `json:"sampler_rng"` // base64
	GraphRNG   []string          `json:"graph_rng"`   // decimal uint64s, exact in any JSON reader
	ConfigHash string            `json:"config_hash"`
	Files      map[string]int64  `json:"files"`
	Checksums  map[string]string `json:"sha256,omitempty"`
}

type bestJSON struct {
	Step   int     `json:"step"`
	Reward float64 `json:"reward"`
}

// CheckpointContents is what WriteCheckpoint puts in a checkpoint.
type CheckpointContents struct {
	State CheckpointState
	// Weights writes the trained weights into dir, the checkpoint folder under construction: the
	// unet/ folder in diffusers layout for a full fine-tune, or CheckpointLoRAFile for LoRA.
	// Required.
	Weights func(dir string) error
	// Optimizer, when set, is the Store whose variables under OptimizerScope (AdamW.StateScope)
	// go to optimizer.safetensors.
	Optimizer      *model.Store
	OptimizerScope string
}

// renameFn is os.Rename; tests replace it to fail the swap.
var renameFn = os.Rename

// WriteCheckpoint writes a checkpoint folder at dir, replacing any previous one atomically: on any
// error the previous checkpoint is left as it was, and no temporary folder remains.
func WriteCheckpoint(dir string, c CheckpointContents) (err error) {
	if c.Weights == nil {
		return fmt.Errorf("rpo: checkpoint %s: no Weights function to write the trained weights", dir)
	}
	if c.State.Step < 0 {
		return fmt.Errorf("rpo: checkpoint %s: step %d, want ≥ 0", dir, c.State.Step)
	}
	dir = filepath.Clean(dir)
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("rpo: checkpoint: %w", err)
	}
	if err := recoverCheckpoint(dir); err != nil {
		return err
	}
	removeStaleTemps(parent, base)

	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return fmt.Errorf("rpo: checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("rpo: checkpoint: %w", err)
	}
	if err := c.Weights(tmp); err != nil {
		return fmt.Errorf("rpo: checkpoint %s: writing the weights: %w", dir, err)
	}
	if c.Optimizer != nil {
		if err := SaveOptimizerState(c.Optimizer, c.OptimizerScope, filepath.Join(tmp, CheckpointOptimizerFile)); err != nil {
			return fmt.Errorf("rpo: checkpoint %s: %w", dir, err)
		}
	}
	state := c.State
	if state.Files, err = fileSizes(tmp); err != nil {
		return fmt.Errorf("rpo: checkpoint %s: %w", dir, err)
	}
	if len(state.Files) == 0 {
		return fmt.Errorf("rpo: checkpoint %s: the Weights function wrote no file", dir)
	}
	if state.Checksums, err = fileChecksums(tmp, state.Files); err != nil {
		return fmt.Errorf("rpo: checkpoint %s: %w", dir, err)
	}
	data, err := encodeState(state)
	if err != nil {
		return fmt.Errorf("rpo: checkpoint %s: %w", dir, err)
	}
	if err := safetensors.WriteAtomic(filepath.Join(tmp, CheckpointStateFile), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}); err != nil {
		return fmt.Errorf("rpo: checkpoint %s: %w", dir, err)
	}
	syncDir(tmp)

	// Swap: the old folder aside, the new one in, then the old one away.
	old := oldPath(dir)
	hadOld := false
	if _, err := os.Stat(dir); err == nil {
		if err := renameFn(dir, old); err != nil {
			return fmt.Errorf("rpo: checkpoint %s: moving the previous checkpoint aside: %w", dir, err)
		}
		hadOld = true
	}
	if err := renameFn(tmp, dir); err != nil {
		if hadOld {
			if rerr := renameFn(old, dir); rerr != nil {
				return fmt.Errorf("rpo: checkpoint %s: %w; and restoring the previous one from %s: %v", dir, err, old, rerr)
			}
		}
		return fmt.Errorf("rpo: checkpoint %s: %w", dir, err)
	}
	syncDir(parent)
	if hadOld {
		_ = os.RemoveAll(old)
	}
	return nil
}

// LoadCheckpointState reads and checks dir/state.json: the format, and that every file it lists
// is present with its recorded size. Errors wrap ErrBadCheckpoint and name the file at fault. If a
// crash interrupted a WriteCheckpoint between its two renames, the previous checkpoint is first
// moved back into place.
func LoadCheckpointState(dir string) (CheckpointState, error) {
	dir = filepath.Clean(dir)
	bad := func(format string, args ...any) (CheckpointState, error) {
		return CheckpointState{}, fmt.Errorf("rpo: checkpoint %s: %s: %w", dir, fmt.Sprintf(format, args...), ErrBadCheckpoint)
	}
	if err := recoverCheckpoint(dir); err != nil {
		return CheckpointState{}, err
	}
	info, err := os.Stat(dir)
	if err != nil {
		return bad("%v", err)
	}
	if !info.IsDir() {
		return bad("not a folder")
	}
	statePath := filepath.Join(dir, CheckpointStateFile)
	data, err := os.ReadFile(statePath)
	if err != nil {
		return bad("%s: %v", CheckpointStateFile, err)
	}
	s, err := decodeState(data)
	if err != nil {
		return bad("%s is corrupt: %v", CheckpointStateFile, err)
	}
	if len(s.Files) == 0 {
		return bad("%s lists no files", CheckpointStateFile)
	}
	names := make([]string, 0, len(s.Files))
	for name := range s.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !filepath.IsLocal(filepath.FromSlash(name)) {
			return bad("%s lists %q, which is outside the checkpoint", CheckpointStateFile, name)
		}
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return bad("%s: %v", name, err)
		}
		if fi.Size() != s.Files[name] {
			return bad("%s is %d bytes, state.json recorded %d (truncated or changed)", name, fi.Size(), s.Files[name])
		}
	}
	return s, nil
}

// VerifyCheckpoint is LoadCheckpointState followed by a check of every file's contents against
// the SHA-256 that state.json recorded when the checkpoint was written: it finds a same-size
// corruption (a NaN written over a weight, a flipped bit) that sizes alone cannot. It reads the
// whole checkpoint, which costs far less than the work a resumed run would redo on bad weights.
// Errors wrap ErrBadCheckpoint and name the file. A checkpoint without checksums (written by an
// earlier version) passes on sizes alone.
func VerifyCheckpoint(dir string) (CheckpointState, error) {
	s, err := LoadCheckpointState(dir)
	if err != nil {
		return s, err
	}
	dir = filepath.Clean(dir)
	names := make([]string, 0, len(s.Checksums))
	for name := range s.Checksums {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sum, err := fileSHA256(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return CheckpointState{}, fmt.Errorf("rpo: checkpoint %s: %s: %v: %w", dir, name, err, ErrBadCheckpoint)
		}
		if sum != s.Checksums[name] {
			return CheckpointState{}, fmt.Errorf("rpo: checkpoint %s: %s: contents differ from the SHA-256 state.json recorded (corrupted or changed): %w",
				dir, name, ErrBadCheckpoint)
		}
	}
	return s, nil
}

// fileChecksums hashes the listed files under dir.
func fileChecksums(dir string, files map[string]int64) (map[string]string, error) {
	out := make(map[string]string, len(files))
	for name := range files {
		sum, err := fileSHA256(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return nil, err
		}
		out[name] = sum
	}
	return out, nil
}

// fileSHA256 is the hex SHA-256 of a file's contents.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// LoadCheckpointOptimizer restores the optimiser state saved in checkpoint dir into store under
// scope (see LoadOptimizerState).
func LoadCheckpointOptimizer(dir string, store *model.Store, scope string) error {
	return LoadOptimizerState(store, scope, filepath.Join(dir, CheckpointOptimizerFile))
}

func encodeState(s CheckpointState) ([]byte, error) {
	j := stateJSON{
		Format:     checkpointFormat,
		Step:       s.Step,
		SinceBest:  s.SinceBest,
		SamplerRNG: s.SamplerRNG,
		ConfigHash: s.ConfigHash,
		Files:      s.Files,
		Checksums:  s.Checksums,
	}
	if s.HasBest {
		if !isFinite(s.BestReward) {
			return nil, fmt.Errorf("best reward %v is not finite", s.BestReward)
		}
		j.Best = &bestJSON{Step: s.BestStep, Reward: s.BestReward}
	}
	for _, x := range s.GraphRNG {
		j.GraphRNG = append(j.GraphRNG, strconv.FormatUint(x, 10))
	}
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

func decodeState(data []byte) (CheckpointState, error) {
	var j stateJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return CheckpointState{}, err
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return CheckpointState{}, errors.New("trailing data after the JSON object")
	}
	if j.Format != checkpointFormat {
		return CheckpointState{}, fmt.Errorf("format %d, want %d", j.Format, checkpointFormat)
	}
	if j.Step < 0 || j.SinceBest < 0 {
		return CheckpointState{}, fmt.Errorf("negative step (%d) or validations since best (%d)", j.Step, j.SinceBest)
	}
	s := CheckpointState{
		Step:       j.Step,
		SinceBest:  j.SinceBest,
		SamplerRNG: j.SamplerRNG,
		ConfigHash: j.ConfigHash,
		Files:      j.Files,
		Checksums:  j.Checksums,
		BestReward: math.Inf(-1),
	}
	for name := range j.Checksums {
		if _, ok := j.Files[name]; !ok {
			return CheckpointState{}, fmt.Errorf("sha256 lists %q, which files does not", name)
		}
	}
	if j.Best != nil {
		s.HasBest, s.BestStep, s.BestReward = true, j.Best.Step, j.Best.Reward
	}
	for i, x := range j.GraphRNG {
		v, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return CheckpointState{}, fmt.Errorf("graph_rng[%d]: %w", i, err)
		}
		s.GraphRNG = append(s.GraphRNG, v)
	}
	return s, nil
}

// fileSizes lists every regular file under dir with its size, by slash-separated relative path.
func fileSizes(dir string) (map[string]int64, error) {
	sizes := map[string]int64{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		sizes[filepath.ToSlash(rel)] = info.Size()
		return nil
	})
	return sizes, err
}

func oldPath(dir string) string {
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".old")
}

// recoverCheckpoint finishes an interrupted swap: if dir is missing but the previous checkpoint
// was moved aside, it goes back; if both exist, the one aside is stale and removed.
func recoverCheckpoint(dir string) error {
	old := oldPath(dir)
	if _, err := os.Stat(old); err != nil {
		return nil
	}
	if _, err := os.Stat(dir); err == nil {
		_ = os.RemoveAll(old)
		return nil
	}
	if err := renameFn(old, dir); err != nil {
		return fmt.Errorf("rpo: checkpoint %s: restoring the previous checkpoint from %s: %w", dir, old, err)
	}
	return nil
}

// removeStaleTemps removes the temporary folders of interrupted WriteCheckpoint calls for base.
// One writer per checkpoint folder is assumed.
func removeStaleTemps(parent, base string) {
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "."+base+".tmp-") {
			_ = os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
}

// syncDir flushes a folder's entries to disk where the platform allows it.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		_ = f.Close()
	}
}
