package rpo

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorpo/gorpo/internal/safetensors"
)

// Environment of the child process TestCheckpointKilledMidWrite starts.
const (
	killCheckpointEnv = "GORPO_RPO_KILL_CHECKPOINT" // the checkpoint folder to write
	killStageEnv      = "GORPO_RPO_KILL_STAGE"      // where to pause: "weights" or "config"
	killReadyEnv      = "GORPO_RPO_KILL_READY"      // created once paused
)

// A process killed (SIGKILL) while writing a checkpoint leaves the previous one intact: its
// state, weights and optimiser state read back and verify, the partial folder is not taken for
// it, and the next checkpoint replaces it and sweeps the partial folder away. Two moments: half
// way through the weights file, and after the weights file is complete, while unet/config.json
// (which diffusers' layout writes after the weights) is being written.
func TestCheckpointKilledMidWrite(t *testing.T) {
	if dir := os.Getenv(killCheckpointEnv); dir != "" {
		killCheckpointChild(t, dir, os.Getenv(killStageEnv), os.Getenv(killReadyEnv))
		return
	}
	if runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no child processes on", runtime.GOOS)
	}
	for _, stage := range []string{"weights", "config"} {
		t.Run(stage, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "latest")
			prevState := sampleState(80)
			if err := WriteCheckpoint(dir, CheckpointContents{State: prevState, Weights: streamedUNet(80, "", ""),
				Optimizer: optimizerStore(t, 80), OptimizerScope: DefaultOptimizerScope}); err != nil {
				t.Fatal(err)
			}
			prevWeights := readUNet(t, dir)

			ready := filepath.Join(t.TempDir(), "ready")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointKilledMidWrite$")
			cmd.Env = append(os.Environ(), killCheckpointEnv+"="+dir, killStageEnv+"="+stage, killReadyEnv+"="+ready)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
				if _, err := os.Stat(ready); err == nil {
					break
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatalf("the child did not reach the %s stage in 2 minutes; its output:\n%s", stage, out.String())
				}
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()

			got, err := VerifyCheckpoint(dir)
			if err != nil {
				t.Fatalf("after the kill: %v", err)
			}
			prevState.Files, prevState.Checksums = got.Files, got.Checksums
			if !reflect.DeepEqual(got, prevState) {
				t.Fatalf("after the kill the state is %+v, want the previous %+v", got, prevState)
			}
			if readUNet(t, dir) != prevWeights {
				t.Fatal("after the kill the weights differ from the previous checkpoint's")
			}
			names := entries(t, parent)
			if len(names) != 2 || names[1] != "latest" || !strings.HasPrefix(names[0], ".latest.tmp-") {
				t.Fatalf("beside the checkpoint after the kill: %v, want the previous one and the killed write's hidden temporary folder", names)
			}

			next := sampleState(160)
			if err := WriteCheckpoint(dir, CheckpointContents{State: next, Weights: streamedUNet(160, "", ""),
				Optimizer: optimizerStore(t, 160), OptimizerScope: DefaultOptimizerScope}); err != nil {
				t.Fatal(err)
			}
			if s, err := VerifyCheckpoint(dir); err != nil || s.Step != 160 {
				t.Fatalf("the next checkpoint: step %d, %v", s.Step, err)
			}
			if names := entries(t, parent); !reflect.DeepEqual(names, []string{"latest"}) {
				t.Fatalf("beside the next checkpoint: %v", names)
			}
		})
	}
}

// killCheckpointChild writes a step-120 checkpoint at dir, pausing at stage until killed.
func killCheckpointChild(t *testing.T, dir, stage, ready string) {
	err := WriteCheckpoint(dir, CheckpointContents{State: sampleState(120), Weights: streamedUNet(120, stage, ready),
		Optimizer: optimizerStore(t, 120), OptimizerScope: DefaultOptimizerScope})
	fmt.Fprintln(os.Stderr, "child: the checkpoint was not killed:", err)
	os.Exit(3)
}

// streamedUNet writes unet/ as diffusers' layout does, the weights (16 MB of F32, whose values
// tell the steps apart) streamed tensor by tensor and then config.json. With stage "weights" it
// creates ready and sleeps half way through the weights, with "config" half way through
// config.json; with "" it does not pause.
func streamedUNet(step int, stage, ready string) func(dir string) error {
	pause := func() error {
		if err := os.WriteFile(ready, nil, 0o644); err != nil {
			return err
		}
		time.Sleep(10 * time.Minute)
		return nil
	}
	return func(dir string) error {
		u := filepath.Join(dir, CheckpointUNetDir)
		if err := os.MkdirAll(u, 0o755); err != nil {
			return err
		}
		const tensors, elems = 16, 1 << 18
		values := make([]float32, elems)
		for i := range values {
			values[i] = float32(step) + float32(i)
		}
		block := safetensors.FromFloat32("", []int{elems}, values).Data
		var srcs []safetensors.Source
		for i := range tensors {
			srcs = append(srcs, safetensors.Source{Name: fmt.Sprintf("down_blocks.%02d.weight", i), DType: "F32", Shape: []int{elems},
				WriteData: func(w io.Writer) error {
					if stage == "weights" && i == tensors/2 {
						if err := pause(); err != nil {
							return err
						}
					}
					_, err := w.Write(block)
					return err
				}})
		}
		if err := safetensors.WriteSources(filepath.Join(u, "diffusion_pytorch_model.safetensors"), srcs, map[string]string{"format": "pt"}); err != nil {
			return err
		}
		return safetensors.WriteAtomic(filepath.Join(u, "config.json"), func(w io.Writer) error {
			if _, err := io.WriteString(w, `{"_class_name": "UNet2DConditionModel",`); err != nil {
				return err
			}
			if stage == "config" {
				if f, ok := w.(interface{ Flush() error }); ok {
					_ = f.Flush()
				}
				if err := pause(); err != nil {
					return err
				}
			}
			_, err := io.WriteString(w, ` "sample_size": 64}`)
			return err
		})
	}
}
