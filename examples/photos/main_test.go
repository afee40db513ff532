package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/examples/internal/photos"
	"github.com/gorpo/gorpo/examples/internal/tinyrun"
)

// TestRun fine-tunes the tiny Stable Diffusion on the synthetic photos through the command line:
// 4 steps, a validation every 2, 16×16 images drawn in 2 steps. The kept weights are a diffusers
// U-Net folder that loads, and differ from the base model's.
func TestRun(t *testing.T) {
	f := tinyrun.Write(t)
	out := filepath.Join(t.TempDir(), "run")
	var log bytes.Buffer
	o, err := parseFlags([]string{"--model", f.Model, "--reward", f.Reward, "--photos", f.Photos, "--class", "dog",
		"--out", out, "--steps", "4", "--validate-every", "2", "--lr", "2e-3", "--gen-steps", "2", "--size", "16",
		"--images-per-prompt", "1", "--val-images", "1"}, &log)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), o, &stdout); err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	t.Log(stdout.String())
	for _, want := range []string{"on 4 photos of \"[V] dog\"", "trained 4 steps", "best validation: step ", "fine-tuned weights: " + filepath.Join(out, "best")} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, name := range []string{"run.json", "metrics.jsonl", "reward_curve.png", "best/unet/config.json"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("the run folder lacks %s: %v", name, err)
		}
	}
	tuned := filepath.Join(out, "best", "unet")
	if _, err := diffusion.LoadUNet(tuned); err != nil {
		t.Fatalf("the fine-tuned U-Net does not load: %v", err)
	}
	base, err := os.ReadFile(filepath.Join(f.Model, "unet", "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	kept, err := os.ReadFile(filepath.Join(tuned, "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(base, kept) {
		t.Error("the kept U-Net's weights are the base model's: nothing was trained")
	}

	// The same command again refuses to overwrite the run; --resume finds it finished.
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("a second run into the same --out: err = %v, want one pointing to --resume or --overwrite", err)
	}
	o.Resume = true
	stdout.Reset()
	if err := run(context.Background(), o, &stdout); err != nil || !strings.Contains(stdout.String(), "trained 4 steps") {
		t.Errorf("--resume of a finished run: err = %v, stdout:\n%s", err, stdout.String())
	}
}

// Every missing folder or class word is named at once, and so is a folder without photos.
func TestFlagErrors(t *testing.T) {
	_, err := parseFlags(nil, io.Discard)
	for _, want := range []string{"--model DIR", "--reward DIR", "--photos DIR", "--class WORD"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no flags: err = %v, want it to name %s", err, want)
		}
	}
	if _, err := parseFlags([]string{"--model", "m", "--reward", "r", "--photos", "p", "--class", "dog", "extra"}, io.Discard); err == nil {
		t.Error("a stray argument was accepted")
	}
	empty := t.TempDir()
	o, err := parseFlags([]string{"--model", "m", "--reward", "r", "--photos", empty, "--class", "dog"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Out != "out/photos-dog" {
		t.Errorf("default --out %q, want out/photos-dog", o.Out)
	}
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "--photos") || !errors.Is(err, photos.ErrNone) {
		t.Errorf("a folder without photos: err = %v, want --photos and photos.ErrNone", err)
	}
}
