package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/rpo"
)

// --resume checks the whole checkpoint before loading a model or drawing before.png (issue 12:
// a same-size corruption of latest/ was never found). rpo's TestOutDirLock covers the lock.
func TestToyResumeChecksAndLock(t *testing.T) {
	base := writeToyBase(t)
	out := filepath.Join(t.TempDir(), "out")
	o, err := parseFlags(tinyToyFlags(base, out), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.log = logWriter{t}
	if err := run(context.Background(), o, io.Discard); err != nil {
		t.Fatal(err)
	}
	weights := filepath.Join(out, rpo.LatestCheckpoint, rpo.CheckpointUNetDir, "diffusion_pytorch_model.safetensors")
	data, err := os.ReadFile(weights)
	if err != nil {
		t.Fatal(err)
	}
	copy(data[len(data)-4:], []byte{0, 0, 0xc0, 0x7f}) // the last weight becomes NaN; same size
	if err := os.WriteFile(weights, data, 0o644); err != nil {
		t.Fatal(err)
	}
	beforeInfo, err := os.Stat(filepath.Join(out, beforeFile))
	if err != nil {
		t.Fatal(err)
	}
	o.Resume = true
	err = run(context.Background(), o, io.Discard)
	if !errors.Is(err, rpo.ErrBadCheckpoint) || !strings.HasPrefix(err.Error(), "--resume: ") || !strings.Contains(err.Error(), "diffusion_pytorch_model.safetensors") {
		t.Fatalf("--resume on a corrupted latest/: %v, want an error naming --resume and the file", err)
	}
	if info, err := os.Stat(filepath.Join(out, beforeFile)); err != nil || !info.ModTime().Equal(beforeInfo.ModTime()) {
		t.Errorf("before.png redrawn before the checkpoint was checked (%v)", err)
	}

}
