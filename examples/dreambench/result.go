package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gorpo/gorpo/internal/safetensors"
)

// Files of the bench's output folder:
//
//	OUT/<subject>/<run>/            the run's folder: rpo's run folder (run.json, metrics.jsonl,
//	                                best/, latest/, ...) for a fine-tune, and
//	OUT/<subject>/<run>/result.json  its evaluation (written last, atomically: its presence
//	                                with status "ok" is what marks the run finished)
//	OUT/<subject>/<run>/grid.png     the reference photos, then a row of images per prompt
//	OUT/<subject>/references.json    the reference-vs-reference row (DINO, CLIP-I)
//	OUT/table.md, OUT/table.json     the tables, merged from every result.json there
const (
	resultFile     = "result.json"
	gridFile       = "grid.png"
	referencesFile = "references.json"
	tableMD        = "table.md"
	tableJSON      = "table.json"
)

// Result statuses.
const (
	statusOK     = "ok"
	statusFailed = "failed"
)

// Metric keys of result.json and table.json, as examples/finetune's report.json names the ones
// they share.
const (
	mDINO      = "dino"
	mCLIPI     = "clip_i"
	mCLIPT     = "clip_t"
	mAlignI    = "align_i"
	mAlignT    = "align_t"
	mHarmonic  = "harmonic_0_3" // the 0.3-Harmonic reward of ALIGN-I and ALIGN-T
	mSubjectFi = "subject_fidelity"
	mPromptFi  = "prompt_fidelity"
)

// metricOrder is the tables' column order; metricTitle their headers.
var (
	metricOrder = []string{mDINO, mCLIPI, mCLIPT, mHarmonic, mAlignI, mAlignT, mSubjectFi, mPromptFi}
	metricTitle = map[string]string{mDINO: "DINO", mCLIPI: "CLIP-I", mCLIPT: "CLIP-T", mHarmonic: "0.3-Harmonic",
		mAlignI: "ALIGN-I", mAlignT: "ALIGN-T", mSubjectFi: "subject fidelity", mPromptFi: "prompt fidelity"}
)

// result is one (subject, run)'s result.json.
type result struct {
	Subject   string   `json:"subject"`
	Run       string   `json:"run"`       // the run's name: base, rpo-lambda0.3, sim, ...
	Objective string   `json:"objective"` // an rpo.Objective, or "base" (no training)
	LambdaVal *float64 `json:"lambda_val,omitempty"`
	Status    string   `json:"status"`
	Error     string   `json:"error,omitempty"`
	Class     string   `json:"class,omitempty"`
	Live      bool     `json:"live,omitempty"`

	// Metrics are the subject's means over its prompts of each prompt's metric (CLIP-T per prompt
	// as torchmetrics' clip_score over that prompt's images), as the official evaluation does.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Prompts []promptResult     `json:"prompts,omitempty"`
	Images  int                `json:"images,omitempty"`

	StepsTrained int      `json:"steps_trained,omitempty"`
	BestStep     int      `json:"best_step,omitempty"`
	BestReward   *float64 `json:"best_reward,omitempty"`
	Weights      string   `json:"weights,omitempty"`
	Resumed      bool     `json:"resumed,omitempty"`
	Seconds      float64  `json:"seconds"` // this process's time on the run (training and evaluation)
}

// promptResult is one evaluation prompt's metrics, over its images.
type promptResult struct {
	Prompt  string             `json:"prompt"`
	Metrics map[string]float64 `json:"metrics"`
}

// referenceRow is references.json: how alike a subject's own photos are, the paper's "real
// images" row: DINO and CLIP-I over every pair of distinct reference photos.
type referenceRow struct {
	Subject string             `json:"subject"`
	Photos  int                `json:"photos"`
	Metrics map[string]float64 `json:"metrics"`
}

// writeJSON writes v as indented JSON to path, atomically (a temporary file, then a rename).
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return safetensors.WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

// readJSON reads path into v; a missing file is an error wrapping os.ErrNotExist.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// readResult reads a run's result.json: nil and no error when there is none.
func readResult(dir string) (*result, error) {
	var r result
	err := readJSON(filepath.Join(dir, resultFile), &r)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}
