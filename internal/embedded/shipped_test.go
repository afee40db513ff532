package embedded

import (
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
)

// A folder that was never exported says which program exports it; a complete one passes Check
// and is copied by Dir.
func TestShipped(t *testing.T) {
	isolate(t)
	s := Shipped{FS: fstest.MapFS{"other.txt": {Data: []byte("x")}}, Root: "model", Name: "toy",
		Index: "model_index.json", Program: "examples/toy"}
	if err := s.Check(); !errors.Is(err, ErrEmpty) ||
		err.Error() != "toy: the embedded folder has no model_index.json: run examples/toy: no files" {
		t.Errorf("Check of a missing folder: %v", err)
	}
	s.FS = fstest.MapFS{"other.txt": {Data: []byte("x")}, "model/unet": {Mode: fs.ModeDir}}
	if _, err := s.Dir(); !errors.Is(err, ErrEmpty) ||
		err.Error() != "toy: the embedded folder is empty: run examples/toy: embedded: model: no files" {
		t.Errorf("Dir of an empty folder: %v", err)
	}
	s.FS = model("w")
	if err := s.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	dir, err := s.Dir()
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, s.FS, "model", dir)
}
