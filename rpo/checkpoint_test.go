package rpo

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// fakeUNet stands in for the U-Net's diffusers writer: unet/config.json and the weights file,
// whose content tells checkpoints apart.
func fakeUNet(content string) func(dir string) error {
	return func(dir string) error {
		u := filepath.Join(dir, CheckpointUNetDir)
		if err := os.MkdirAll(u, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(u, "config.json"), []byte(`{"_class_name":"UNet2DConditionModel"}`), 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(u, "diffusion_pytorch_model.safetensors"), []byte(content), 0o644)
	}
}

func optimizerStore(t *testing.T, step int64) *model.Store {
	t.Helper()
	store := model.NewStore()
	for _, v := range []struct {
		path  string
		value *tensors.Tensor
	}{
		{"/optimizer/step", tensors.FromScalar(step)},
		{"/optimizer/exp_avg/unet/conv_in/weight", tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4}, 2, 2)},
		{"/optimizer/exp_avg_sq/unet/conv_in/weight", tensors.FromFlatDataAndDimensions([]float32{5, 6, 7, 8}, 2, 2)},
		{"/unet/conv_in/weight", tensors.FromFlatDataAndDimensions([]float32{0, 0, 0, 0}, 2, 2)},
	} {
		if _, err := store.CreateVariable(v.path, v.value); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

func sampleState(step int) CheckpointState {
	e := NewEarlyStopping(3)
	e.Observe(40, 0.55)
	e.Observe(80, 0.50)
	s := CheckpointState{
		Step:       step,
		SamplerRNG: []byte{1, 2, 3, 250},
		GraphRNG:   []uint64{1<<64 - 1, 42, 1 << 60},
		ConfigHash: dogConfig().Hash(),
	}
	s.SetEarlyStopping(e)
	return s
}

func readUNet(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, CheckpointUNetDir, "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// entries lists a folder, to check that nothing temporary is left beside the checkpoint.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// Written, read back: the same state, every file listed, the optimiser state restorable.
func TestCheckpointRoundTrip(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "best")
	want := sampleState(80)
	err := WriteCheckpoint(dir, CheckpointContents{State: want, Weights: fakeUNet("weights@80"),
		Optimizer: optimizerStore(t, 80), OptimizerScope: DefaultOptimizerScope})
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadCheckpointState(dir)
	if err != nil {
		t.Fatal(err)
	}
	want.Files, want.Checksums = got.Files, got.Checksums
	if !reflect.DeepEqual(got, want) {
		t.Errorf("state read back %+v\nwant %+v", got, want)
	}
	for _, f := range []string{"unet/config.json", "unet/diffusion_pytorch_model.safetensors", CheckpointOptimizerFile} {
		if _, ok := got.Files[f]; !ok {
			t.Errorf("state.json does not list %s: %v", f, got.Files)
		}
	}
	if e := got.EarlyStopping(3); !e.HasBest || e.BestStep != 40 || e.BestReward != 0.55 || e.SinceBest != 1 {
		t.Errorf("restored policy %+v", e)
	}

	store := model.NewStore()
	if err := LoadCheckpointOptimizer(dir, store, DefaultOptimizerScope); err != nil {
		t.Fatal(err)
	}
	if got := tensors.MustCopyFlatData[float32](store.GetVariable("/optimizer/exp_avg_sq/unet/conv_in/weight").MustValue()); !reflect.DeepEqual(got, []float32{5, 6, 7, 8}) {
		t.Errorf("exp_avg_sq %v", got)
	}
	if store.GetVariable("/optimizer/step").Trainable {
		t.Error("restored optimizer state is trainable")
	}
	if store.GetVariable("/unet/conv_in/weight") != nil {
		t.Error("the optimizer file holds model weights")
	}
	if names := entries(t, parent); !reflect.DeepEqual(names, []string{"best"}) {
		t.Errorf("left beside the checkpoint: %v", names)
	}
	data, _ := os.ReadFile(filepath.Join(dir, CheckpointStateFile))
	if !strings.Contains(string(data), `"18446744073709551615"`) {
		t.Errorf("graph RNG state not written as exact decimal strings:\n%s", data)
	}
}

// A checkpoint without a best yet (no validation so far) round-trips too.
func TestCheckpointWithoutBest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	s := CheckpointState{Step: 7}
	s.SetEarlyStopping(NewEarlyStopping(0))
	if err := WriteCheckpoint(dir, CheckpointContents{State: s, Weights: fakeUNet("w")}); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCheckpointState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.HasBest || got.Step != 7 || got.EarlyStopping(0).HasBest {
		t.Errorf("%+v", got)
	}
}

// A write that fails — in the weights, in the optimiser state, or in the final swap — leaves the
// previous checkpoint exactly as it was, and nothing temporary behind.
func TestCheckpointFailedWriteKeepsPrevious(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "best")
	if err := WriteCheckpoint(dir, CheckpointContents{State: sampleState(40), Weights: fakeUNet("weights@40"),
		Optimizer: optimizerStore(t, 40), OptimizerScope: DefaultOptimizerScope}); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		s, err := LoadCheckpointState(dir)
		if err != nil {
			t.Fatalf("%s: the previous checkpoint is unreadable: %v", what, err)
		}
		if s.Step != 40 || readUNet(t, dir) != "weights@40" {
			t.Errorf("%s: the previous checkpoint changed: step %d, weights %q", what, s.Step, readUNet(t, dir))
		}
		if names := entries(t, parent); !reflect.DeepEqual(names, []string{"best"}) {
			t.Errorf("%s: left beside the checkpoint: %v", what, names)
		}
	}

	// The weights writer fails half-way.
	err := WriteCheckpoint(dir, CheckpointContents{State: sampleState(80), Weights: func(d string) error {
		if err := fakeUNet("weights@80 (partial)")(d); err != nil {
			return err
		}
		return errors.New("disk full")
	}})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("weights failure: %v", err)
	}
	check("weights failure")

	// The optimiser state cannot be saved (nothing under its scope).
	err = WriteCheckpoint(dir, CheckpointContents{State: sampleState(80), Weights: fakeUNet("weights@80"),
		Optimizer: model.NewStore(), OptimizerScope: DefaultOptimizerScope})
	if err == nil {
		t.Error("an empty optimizer state was written")
	}
	check("optimizer failure")

	// The new folder cannot be renamed into place.
	renameFn = func(from, to string) error {
		if strings.Contains(filepath.Base(from), ".tmp-") {
			return errors.New("injected rename failure")
		}
		return os.Rename(from, to)
	}
	err = WriteCheckpoint(dir, CheckpointContents{State: sampleState(80), Weights: fakeUNet("weights@80")})
	renameFn = os.Rename
	if err == nil || !strings.Contains(err.Error(), "injected") {
		t.Errorf("swap failure: %v", err)
	}
	check("swap failure")

	// And a good write replaces it.
	if err := WriteCheckpoint(dir, CheckpointContents{State: sampleState(80), Weights: fakeUNet("weights@80")}); err != nil {
		t.Fatal(err)
	}
	if s, err := LoadCheckpointState(dir); err != nil || s.Step != 80 || readUNet(t, dir) != "weights@80" {
		t.Errorf("replacement: %+v, %v", s, err)
	}
	if _, err := os.Stat(filepath.Join(dir, CheckpointOptimizerFile)); !os.IsNotExist(err) {
		t.Error("a file of the replaced checkpoint survived")
	}
}

// A crash between the two renames leaves the previous checkpoint aside; loading puts it back,
// and leftovers of an interrupted write are cleared by the next one.
func TestCheckpointRecoversInterruptedSwap(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "best")
	if err := WriteCheckpoint(dir, CheckpointContents{State: sampleState(40), Weights: fakeUNet("weights@40")}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir, oldPath(dir)); err != nil { // the crash: old aside, new not yet in
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(parent, ".best.tmp-123"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := LoadCheckpointState(dir)
	if err != nil || s.Step != 40 {
		t.Fatalf("after an interrupted swap: %+v, %v", s, err)
	}
	if err := WriteCheckpoint(dir, CheckpointContents{State: sampleState(80), Weights: fakeUNet("weights@80")}); err != nil {
		t.Fatal(err)
	}
	if names := entries(t, parent); !reflect.DeepEqual(names, []string{"best"}) {
		t.Errorf("left beside the checkpoint: %v", names)
	}
}

// Unreadable or corrupt checkpoints give errors that wrap ErrBadCheckpoint and name the file.
func TestLoadCheckpointStateErrors(t *testing.T) {
	write := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "ckpt")
		if err := WriteCheckpoint(dir, CheckpointContents{State: sampleState(40), Weights: fakeUNet("weights@40"),
			Optimizer: optimizerStore(t, 40), OptimizerScope: DefaultOptimizerScope}); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, tc := range []struct {
		name, mention string
		damage        func(dir string) error
	}{
		{"missing folder", "no such file", func(dir string) error { return os.RemoveAll(dir) }},
		{"missing state", CheckpointStateFile, func(dir string) error { return os.Remove(filepath.Join(dir, CheckpointStateFile)) }},
		{"corrupt state", CheckpointStateFile, func(dir string) error {
			return os.WriteFile(filepath.Join(dir, CheckpointStateFile), []byte(`{"format": 1, "step": `), 0o644)
		}},
		{"unknown format", "format 7", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, CheckpointStateFile), []byte(`{"format": 7, "step": 3, "files": {"a": 1}}`), 0o644)
		}},
		{"truncated weights", "diffusion_pytorch_model.safetensors", func(dir string) error {
			return os.Truncate(filepath.Join(dir, "unet", "diffusion_pytorch_model.safetensors"), 3)
		}},
		{"missing optimizer", CheckpointOptimizerFile, func(dir string) error { return os.Remove(filepath.Join(dir, CheckpointOptimizerFile)) }},
		{"not a folder", "not a folder", func(dir string) error {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			return os.WriteFile(dir, []byte("x"), 0o644)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t)
			if err := tc.damage(dir); err != nil {
				t.Fatal(err)
			}
			_, err := LoadCheckpointState(dir)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q: want ErrBadCheckpoint naming %s and %q", err, dir, tc.mention)
			}
		})
	}

	// A corrupt optimizer file is refused when loaded, naming it.
	dir := write(t)
	os.WriteFile(filepath.Join(dir, CheckpointOptimizerFile), []byte("garbage!"), 0o644)
	if err := LoadCheckpointOptimizer(dir, model.NewStore(), DefaultOptimizerScope); err == nil || !strings.Contains(err.Error(), CheckpointOptimizerFile) {
		t.Errorf("corrupt optimizer file: %v", err)
	}
	// Nothing to write is refused before touching the disk.
	if err := WriteCheckpoint(filepath.Join(t.TempDir(), "x"), CheckpointContents{}); err == nil {
		t.Error("a checkpoint without weights was written")
	}
	if err := WriteCheckpoint(filepath.Join(t.TempDir(), "x"), CheckpointContents{Weights: func(string) error { return nil }}); err == nil {
		t.Error("a checkpoint with no files was written")
	}
}
