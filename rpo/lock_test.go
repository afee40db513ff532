package rpo

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestMain lets the test binary act as a second process holding a run folder's lock.
func TestMain(m *testing.M) {
	if dir := os.Getenv("GORPO_TEST_HOLD_LOCK"); dir != "" {
		release, err := LockOutDir(dir)
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		_, _ = io.Copy(io.Discard, os.Stdin) // hold until the parent closes stdin
		release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holdLock starts a process holding dir's lock; stop ends it.
func holdLock(t *testing.T, dir string) (stop func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GORPO_TEST_HOLD_LOCK="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper: %q", line)
	}
	return func() { stdin.Close(); _ = cmd.Wait() }
}

// Two processes cannot run in one OutDir (issue 12: they could); the lock goes with the process,
// and one process may take it again around its own Trainer.
func TestOutDirLock(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("flock only")
	}
	dir := t.TempDir()
	stop := holdLock(t, dir)
	_, err := LockOutDir(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "process ") {
		t.Fatalf("LockOutDir of a held folder: %v, want ErrLocked naming the holder", err)
	}
	// A Trainer refuses it before writing anything.
	env := newTinyEnv(t)
	cfg := testConfig(ObjectiveSim)
	cfg.Steps, cfg.ValidateEvery = 1, 0
	if _, err := mustTrainer(t, cfg, env.pipe(t), testReferences(1), quiet(dir)...).Run(context.Background()); !errors.Is(err, ErrLocked) {
		t.Fatalf("Run in a held folder: %v, want ErrLocked", err)
	}
	if _, err := os.Stat(filepath.Join(dir, RunFile)); err == nil {
		t.Error("run.json written in a folder another process holds")
	}
	stop()
	release, err := LockOutDir(dir)
	if err != nil {
		t.Fatalf("after the holder ended: %v", err)
	}
	again, err := LockOutDir(dir) // this process again
	if err != nil {
		t.Fatalf("second lock in the same process: %v", err)
	}
	again()
	release()
	release() // idempotent
}
