// Package trainrun holds what the toy world's training programs (the base model, the
// autoencoder, the judge, the reward model) share: the learning-rate schedules, the step loop
// that draws the next batch while a step runs (Loop), and, for a run that resumes across
// processes, checkpoint folders replaced atomically and a checkpoint's state.json.
package trainrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
)

// Cosine is the learning rate of step (0-based) of steps: linear warm-up from lr/warmup to lr
// over warmup steps, then a cosine decay to minFactor·lr at the last step.
func Cosine(step, steps, warmup int, lr, minFactor float64) float64 {
	if step < warmup {
		return lr * float64(step+1) / float64(warmup)
	}
	span := max(1, steps-warmup)
	p := min(1, float64(step-warmup)/float64(span))
	lo := lr * minFactor
	return lo + (lr-lo)*0.5*(1+math.Cos(math.Pi*p))
}

// CosineToFloor is Cosine's schedule (without its clamp past steps) written as
// lr·(floor + (1−floor)·½(1+cos πp)), which rounds differently: the judge and the reward model
// were trained with it, and a run of theirs repeats only bit for bit with the same rounding.
func CosineToFloor(step, steps, warmup int, lr, floor float64) float64 {
	if step < warmup {
		return lr * float64(step+1) / float64(warmup)
	}
	t := float64(step-warmup) / float64(max(1, steps-warmup))
	return lr * (floor + (1-floor)*0.5*(1+math.Cos(math.Pi*t)))
}

// ReplaceDir builds a folder with fill in a temporary folder beside dir, then renames it into
// place: an existing dir is moved aside first and removed only once the new one is in, so a crash
// at any point leaves either the old folder or the new one (or the old one under
// .<name>.old, which the next call clears).
func ReplaceDir(dir string, fill func(tmp string) error) error {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		return err
	}
	old := filepath.Join(parent, "."+filepath.Base(dir)+".old")
	_ = os.RemoveAll(old)
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// ReadState reads dir/state.json into state and reports whether there was one: a missing file is
// no checkpoint (false, nil), an unreadable one an error naming it.
func ReadState(dir string, state any) (bool, error) {
	path := filepath.Join(dir, "state.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, state); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

// WriteState writes state as dir/state.json.
func WriteState(dir string, state any) error {
	data, err := json.Marshal(state)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "state.json"), data, 0o644)
}
