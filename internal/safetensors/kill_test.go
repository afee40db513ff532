package safetensors

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Environment of the child process TestKilledWriteKeepsPrevious starts: the file to write and
// the file whose creation tells the parent that part of the data is on disk.
const (
	killTargetEnv = "GORPO_SAFETENSORS_KILL_TARGET"
	killReadyEnv  = "GORPO_SAFETENSORS_KILL_READY"
)

// A process killed (SIGKILL: no deferred clean-up runs) while writing a file leaves the previous
// file as it was, and the partial temporary file is not taken for it: it has another, hidden
// name, and a later write replaces the target normally.
func TestKilledWriteKeepsPrevious(t *testing.T) {
	if target := os.Getenv(killTargetEnv); target != "" {
		killChild(target, os.Getenv(killReadyEnv))
		return
	}
	if runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no child processes on", runtime.GOOS)
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "diffusion_pytorch_model.safetensors")
	prev := []*Tensor{FromFloat32("conv_in.weight", []int{2, 2}, []float32{1, 2, 3, 4}), FromInt64("step", nil, []int64{40})}
	if err := Write(target, prev, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(target)

	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriteKeepsPrevious$", "-test.v")
	cmd.Env = append(os.Environ(), killTargetEnv+"="+target, killReadyEnv+"="+ready)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the child did not reach the middle of its write in 2 minutes; its output:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The child is paused inside a source with part of the file written; kill it there.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	after, err := os.ReadFile(target)
	if err != nil || !bytes.Equal(after, before) {
		t.Fatalf("after the kill, %s (%d bytes, %v) differs from the previous file (%d bytes)", target, len(after), err, len(before))
	}
	f, err := OpenWeights(dir, "diffusion_pytorch_model", "")
	if err != nil || f.Len() != 2 || f.Path != target {
		t.Fatalf("OpenWeights after the kill: %v, %v", f, err)
	}
	// The partial file is there (the child really was mid-write), hidden, under a temporary name.
	var partial []string
	for _, name := range dirNames(t, dir) {
		if name == filepath.Base(target) {
			continue
		}
		if !strings.HasPrefix(name, "."+filepath.Base(target)+".tmp-") {
			t.Errorf("unexpected file %s beside the target", name)
		}
		st, _ := os.Stat(filepath.Join(dir, name))
		if st.Size() <= int64(len(before)) || st.Size() >= killChildBytes {
			t.Errorf("temporary file %s holds %d bytes, want part of the %d being written", name, st.Size(), killChildBytes)
		}
		partial = append(partial, name)
	}
	if len(partial) != 1 {
		t.Fatalf("temporary files %v, want the killed write's one", partial)
	}
	// A later write goes through as usual.
	if err := Write(target, prev[:1], nil); err != nil {
		t.Fatal(err)
	}
	if f, err := Open(target); err != nil || f.Len() != 1 {
		t.Fatalf("rewrite after the kill: %v", err)
	}
}

// killChildBytes is the size of the file the child sets out to write: 16 tensors of 1 MB.
const killChildBytes = 16 << 20

// killChild writes target from sources, announces through ready once half the tensors are
// out, then waits to be killed inside the next source.
func killChild(target, ready string) {
	data := make([]byte, killChildBytes/16)
	for i := range data {
		data[i] = byte(i)
	}
	var sources []Source
	for i := range 16 {
		sources = append(sources, Source{Name: fmt.Sprintf("t%02d", i), DType: "U8", Shape: []int{len(data)},
			WriteData: func(w io.Writer) error {
				if i == 8 {
					if err := os.WriteFile(ready, nil, 0o644); err != nil {
						return err
					}
					time.Sleep(10 * time.Minute)
				}
				_, err := w.Write(data)
				return err
			}})
	}
	err := WriteSources(target, sources, nil)
	fmt.Fprintln(os.Stderr, "child: the write was not killed:", err)
	os.Exit(3)
}
