package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/toyworld"
)

// --reference-prompts: none, the toy world's reference contexts (robot_toy was photographed on a
// table three times and on a bed twice), or a file with one template a line for each photo.
func TestReferencePromptsFlag(t *testing.T) {
	if got, err := referencePrompts("", nil, 3); err != nil || got != nil {
		t.Errorf("no flag: %q, %v; want nil", got, err)
	}

	sub, err := toyworld.SubjectByName("robot_toy")
	if err != nil {
		t.Fatal(err)
	}
	toy := &toySource{subject: sub}
	got, err := referencePrompts(referenceContexts, toy, 5)
	want := []string{"a {V} {class} on a table", "a {V} {class} on a table", "a {V} {class} on a table",
		"a {V} {class} on a bed", "a {V} {class} on a bed"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("contexts: %q, %v; want %q", got, err, want)
	}
	if _, err := referencePrompts(referenceContexts, nil, 5); err == nil || !strings.Contains(err.Error(), "toy world") {
		t.Errorf("contexts for your own photos: %v, want an error naming the toy world", err)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "prompts.txt")
	if err := os.WriteFile(file, []byte("a {V} dog on a sofa\n\n  a {V} dog in the snow  \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := referencePrompts(file, nil, 2); err != nil || !slices.Equal(got, []string{"a {V} dog on a sofa", "a {V} dog in the snow"}) {
		t.Errorf("file: %q, %v", got, err)
	}
	if _, err := referencePrompts(file, nil, 3); err == nil || !strings.Contains(err.Error(), "2 prompts for 3 reference photos") {
		t.Errorf("3 photos, 2 lines: %v", err)
	}
	if err := os.WriteFile(file, []byte("a dog on a sofa\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := referencePrompts(file, nil, 1); err == nil || !strings.Contains(err.Error(), "lacks {V}") {
		t.Errorf("a line without {V}: %v", err)
	}
	if _, err := referencePrompts(filepath.Join(dir, "missing.txt"), nil, 1); err == nil {
		t.Error("a missing file: no error")
	}
}
