package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/internal/toyworld/judge"
	"github.com/gorpo/gorpo/rpo"
)

// subject is one subject of the bench, loaded: what its fine-tunes and evaluations need.
type subject struct {
	Name  string
	Class string
	Live  bool

	photos     []image.Image
	photoPaths []string
	// templates are the training prompt templates (nil: the paper's, by Live); refPrompts a
	// template per reference photo (nil: the subject prompt for every photo).
	templates, refPrompts []string
	// prompts are the evaluation prompts, filled with the token; intents their meaning in the
	// toy world (nil otherwise).
	prompts []string
	intents []toyworld.Intent
}

// source is where the bench's subjects come from: a DreamBench-layout folder or the toy world.
type source interface {
	// names lists every subject of the bench, sorted: the order shards split.
	names() []string
	// load reads one subject, its evaluation prompts filled with token.
	load(name, token string) (*subject, error)
	// describe names the source for headlines and tables.
	describe() string
}

// classFile is the file a subject folder not among DreamBench's 30 gives its class in: the class
// word on the first line, and "live" on the second for a pet (the live prompt sets).
const classFile = "class.txt"

// folderSource is google/dreambooth's dataset layout: dir/<subject>/*.jpg. DreamBench's 30
// subjects take their class and live flag from package rpo (DreamBenchSubjects); any other
// subject folder names them in class.txt.
type folderSource struct {
	dir       string
	list      []string
	maxPixels int
}

// newFolderSource lists the subjects in dir (only those in keep, when given).
func newFolderSource(dir string, keep []string, maxPixels int) (*folderSource, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--data: %w (want a DreamBench-layout folder: one folder of photos per subject)", err)
	}
	s := &folderSource{dir: dir, maxPixels: maxPixels}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			s.list = append(s.list, e.Name())
		}
	}
	if len(s.list) == 0 {
		return nil, fmt.Errorf("--data %s: no subject folders (want dataset/<subject>/*.jpg, as google/dreambooth lays it out)", dir)
	}
	if s.list, err = keepOnly(s.list, keep, "--data "+dir); err != nil {
		return nil, err
	}
	return s, nil
}

// keepOnly restricts names to keep (all of names when keep is empty), naming any unknown ones.
func keepOnly(names, keep []string, where string) ([]string, error) {
	if len(keep) == 0 {
		return names, nil
	}
	var out []string
	var unknown []string
	for _, k := range keep {
		if !slices.Contains(names, k) {
			unknown = append(unknown, k)
		} else if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("--subjects %s: not in %s (it has %s)", strings.Join(unknown, ","), where, strings.Join(names, ", "))
	}
	slices.Sort(out)
	return out, nil
}

func (s *folderSource) names() []string  { return s.list }
func (s *folderSource) describe() string { return "DreamBench folder " + s.dir }

func (s *folderSource) load(name, token string) (*subject, error) {
	dir := filepath.Join(s.dir, name)
	sub := &subject{Name: name}
	known := false
	for _, d := range rpo.DreamBenchSubjects() {
		if d.Name == name {
			sub.Class, sub.Live, known = d.Class, d.Live, true
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, classFile)); err == nil {
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		sub.Class = strings.TrimSpace(lines[0])
		sub.Live = len(lines) > 1 && strings.TrimSpace(lines[1]) == "live"
		if sub.Class == "" {
			return nil, fmt.Errorf("%s: empty: want the class word on the first line", filepath.Join(dir, classFile))
		}
	} else if !known {
		return nil, fmt.Errorf("subject %s is not one of DreamBench's 30: give its class word in %s (\"live\" on a second line for a pet)", name, filepath.Join(dir, classFile))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries { // sorted by name
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png":
		default:
			continue
		}
		if e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		img, err := imaging.LoadMax(path, s.maxPixels)
		if errors.Is(err, imaging.ErrTooLarge) {
			return nil, fmt.Errorf("%w (--max-image-pixels %d; raise it to read this photo)", err, s.maxPixels)
		}
		if err != nil {
			return nil, err
		}
		sub.photos = append(sub.photos, img)
		sub.photoPaths = append(sub.photoPaths, path)
	}
	if len(sub.photos) == 0 {
		return nil, fmt.Errorf("%s: no photos (.jpg, .jpeg or .png)", dir)
	}
	if sub.prompts, err = rpo.EvaluationPrompts(sub.Live, token, sub.Class); err != nil {
		return nil, fmt.Errorf("--token %q: %w", token, err)
	}
	return sub, nil
}

// toySource is the toy world's built-in subjects: rendered references, each captioned with the
// context it was rendered in (the toy preset's --reference-prompts contexts), the world's
// training and evaluation prompts, and the judge to grade the evaluation images.
type toySource struct {
	list []string
}

func newToySource(keep []string) (*toySource, error) {
	var all []string
	for _, s := range toyworld.Subjects() {
		all = append(all, s.Name)
	}
	slices.Sort(all)
	list, err := keepOnly(all, keep, "the toy world")
	return &toySource{list: list}, err
}

func (s *toySource) names() []string  { return s.list }
func (s *toySource) describe() string { return "the toy world's built-in subjects" }

func (s *toySource) load(name, token string) (*subject, error) {
	ts, err := toyworld.SubjectByName(name)
	if err != nil {
		return nil, err
	}
	sub := &subject{Name: name, Class: ts.Class, Live: ts.Live, photos: ts.References()}
	train, err := toyworld.TrainingPrompts(name, rpo.TokenPlaceholder)
	if err != nil {
		return nil, err
	}
	for _, p := range train {
		sub.templates = append(sub.templates, p.Text)
	}
	for _, sc := range ts.ReferenceScenes() {
		in := toyworld.Intent{Token: rpo.TokenPlaceholder, Class: rpo.ClassPlaceholder, Context: sc.Context}
		sub.refPrompts = append(sub.refPrompts, in.Text())
	}
	eval, err := toyworld.EvaluationPrompts(name, token)
	if err != nil {
		return nil, fmt.Errorf("--token %q: %w", token, err)
	}
	for _, p := range eval {
		sub.prompts = append(sub.prompts, p.Text)
		sub.intents = append(sub.intents, p.Intent)
	}
	return sub, nil
}

// judgeFidelity grades a subject's evaluation images with the toy world's judge: for each
// prompt, the share of its images in which the judge sees the subject, and the share that show
// what the prompt asks for. images are prompt-major, per to a prompt.
func judgeFidelity(ctx context.Context, j *judge.Judge, sub *subject, images []image.Image, per int) (subj, prompt []float64, err error) {
	preds, err := j.Predict(ctx, images)
	if err != nil {
		return nil, nil, err
	}
	for p := range len(images) / per {
		some := preds[p*per : (p+1)*per]
		intents := make([]toyworld.Intent, per)
		for i := range intents {
			intents[i] = sub.intents[p]
		}
		subj = append(subj, judge.SubjectFidelity(some, sub.Name))
		prompt = append(prompt, judge.PromptFidelity(some, intents))
	}
	return subj, prompt, nil
}
