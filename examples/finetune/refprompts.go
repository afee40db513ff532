package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/gorpo/gorpo/examples/internal/toypreset"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/rpo"
)

// referenceContexts is the --reference-prompts value that captions each toy-world reference with
// the context it was rendered in.
const referenceContexts = toypreset.ReferenceContexts

// referencePrompts resolves --reference-prompts into rpo.Config.ReferencePrompts for n photos:
// nil for "", the toy subject's reference contexts for referenceContexts, else the templates in
// the named file, one a line (blank lines skipped), which must number n.
func referencePrompts(flag string, toy *toySource, n int) ([]string, error) {
	switch flag {
	case "":
		return nil, nil
	case referenceContexts:
		if toy == nil {
			return nil, fmt.Errorf("--reference-prompts %s captions the toy world's renders; for your own photos give a file with one prompt a line", referenceContexts)
		}
		var out []string
		for _, sc := range toy.subject.ReferenceScenes() {
			in := toyworld.Intent{Token: rpo.TokenPlaceholder, Class: rpo.ClassPlaceholder, Context: sc.Context}
			out = append(out, in.Text())
		}
		return out, nil
	}
	data, err := os.ReadFile(flag)
	if err != nil {
		return nil, fmt.Errorf("--reference-prompts: %w", err)
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("--reference-prompts %s: %d prompts for %d reference photos, want one a line for each photo in name order", flag, len(out), n)
	}
	for i, p := range out {
		if !strings.Contains(p, rpo.TokenPlaceholder) {
			return nil, fmt.Errorf("--reference-prompts %s: line %d %q lacks %s, the place of the subject's token", flag, i+1, p, rpo.TokenPlaceholder)
		}
	}
	return out, nil
}
