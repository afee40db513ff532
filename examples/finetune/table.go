package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/rpo"
)

// The table of --subject all: a row per built-in subject, read back from the report.json in its
// folder, with the pass checks of the project's acceptance test on the judge's shares.

// Files --subject all writes into --out, beside the subjects' folders.
const (
	tableMD   = "table.md"
	tableJSON = "table.json"
)

// The acceptance test's thresholds: (a) the fine-tuned model shows the subject in at least
// minSubjectGain more of its images than the base model, (b) its prompt fidelity moves by at
// most maxPromptDrift, and (c) with --compare, L_sim alone follows the prompts less than RPO.
const (
	minSubjectGain = 0.3
	maxPromptDrift = 0.1
	// shareSlack absorbs rounding: the shares are counts over image totals, so a difference can
	// land exactly on a threshold (0.42 − 0.12 is 0.29999999999999993 in float64).
	shareSlack = 1e-9
)

// table is table.json.
type table struct {
	// Objective is the report.json key of the fine-tuned columns: "rpo", or --objective's.
	Objective string     `json:"objective"`
	Compare   bool       `json:"compare"`
	Checks    []string   `json:"checks"` // the pass checks, in words
	Rows      []tableRow `json:"subjects"`
	PassingAB int        `json:"passing_a_and_b"`
	PassingC  *int       `json:"passing_c,omitempty"` // --compare only
	Total     int        `json:"total"`
}

// tableRow is one subject's numbers: the judge's shares for the base model and the fine-tuned
// one, their differences, and the checks.
type tableRow struct {
	Subject             string   `json:"subject"`
	Report              string   `json:"report"` // the report.json read
	BaseSubjectFidelity float64  `json:"base_subject_fidelity"`
	SubjectFidelity     float64  `json:"subject_fidelity"`
	SubjectGain         float64  `json:"subject_fidelity_change"`
	BasePromptFidelity  float64  `json:"base_prompt_fidelity"`
	PromptFidelity      float64  `json:"prompt_fidelity"`
	PromptChange        float64  `json:"prompt_fidelity_change"`
	SimPromptFidelity   *float64 `json:"sim_prompt_fidelity,omitempty"` // --compare only
	PassA               bool     `json:"pass_a"`
	PassB               bool     `json:"pass_b"`
	PassC               *bool    `json:"pass_c,omitempty"` // --compare only
	Seconds             float64  `json:"seconds"`          // the subject's whole run, as its report.json says
}

// buildTable reads the report.json of each subject's folder under dir and tabulates the entry
// keyed objective against "base" (and with compare, "sim"). Every missing or unreadable report is
// named in the error.
func buildTable(dir string, subjects []string, objective string, compare bool) (*table, error) {
	t := &table{Objective: objective, Compare: compare, Total: len(subjects), Checks: []string{
		fmt.Sprintf("(a) %s subject_fidelity ≥ base subject_fidelity + %g", objective, minSubjectGain),
		fmt.Sprintf("(b) |%s prompt_fidelity − base prompt_fidelity| ≤ %g", objective, maxPromptDrift),
	}}
	if compare {
		t.Checks = append(t.Checks, fmt.Sprintf("(c) sim prompt_fidelity < %s prompt_fidelity", objective))
		t.PassingC = new(int)
	}
	var errs []error
	for _, name := range subjects {
		row, err := readRow(filepath.Join(dir, name, reportFile), name, objective, compare)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if row.PassA && row.PassB {
			t.PassingAB++
		}
		if row.PassC != nil && *row.PassC {
			*t.PassingC++
		}
		t.Rows = append(t.Rows, row)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("the table of %s: %w", dir, errors.Join(errs...))
	}
	return t, nil
}

// readRow reads subject's report.json at path into its row.
func readRow(path, subject, objective string, compare bool) (tableRow, error) {
	row := tableRow{Subject: subject, Report: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return row, fmt.Errorf("subject %s: no %s in %s: that subject has not finished (run --subject all without --table-only)",
			subject, reportFile, filepath.Dir(path))
	}
	if err != nil {
		return row, fmt.Errorf("subject %s: %w", subject, err)
	}
	var rep map[string]json.RawMessage
	if err := json.Unmarshal(data, &rep); err != nil {
		return row, fmt.Errorf("subject %s: %s: %w", subject, path, err)
	}
	var in struct {
		Subject string `json:"subject"`
	}
	if err := json.Unmarshal(rep["inputs"], &in); err == nil && in.Subject != "" && in.Subject != subject {
		return row, fmt.Errorf("subject %s: %s is the report of subject %s", subject, path, in.Subject)
	}
	if err := json.Unmarshal(rep["seconds"], &row.Seconds); err != nil {
		return row, fmt.Errorf("subject %s: %s: seconds: %v", subject, path, err)
	}
	shares := func(key string) (subj, prompt float64, err error) {
		var e struct {
			SubjectFidelity *float64 `json:"subject_fidelity"`
			PromptFidelity  *float64 `json:"prompt_fidelity"`
		}
		raw, ok := rep[key]
		if !ok {
			return 0, 0, fmt.Errorf("subject %s: %s has no %q entry (it has %s): %s", subject, path, key, entries(rep),
				map[bool]string{true: "was it written without --compare?", false: "give the --objective it was trained with"}[key == "sim"])
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return 0, 0, fmt.Errorf("subject %s: %s: %q: %w", subject, path, key, err)
		}
		if e.SubjectFidelity == nil || e.PromptFidelity == nil {
			return 0, 0, fmt.Errorf("subject %s: %s: %q has no subject_fidelity or prompt_fidelity (not a toy-world report?)", subject, path, key)
		}
		return *e.SubjectFidelity, *e.PromptFidelity, nil
	}
	var errs []error
	var err1, err2 error
	row.BaseSubjectFidelity, row.BasePromptFidelity, err1 = shares("base")
	row.SubjectFidelity, row.PromptFidelity, err2 = shares(objective)
	errs = append(errs, err1, err2)
	if compare {
		_, sim, err := shares(string(rpo.ObjectiveSim))
		errs = append(errs, err)
		row.SimPromptFidelity = &sim
	}
	if err := errors.Join(errs...); err != nil {
		return row, err
	}
	row.SubjectGain = row.SubjectFidelity - row.BaseSubjectFidelity
	row.PromptChange = row.PromptFidelity - row.BasePromptFidelity
	row.PassA = row.SubjectGain >= minSubjectGain-shareSlack
	row.PassB = math.Abs(row.PromptChange) <= maxPromptDrift+shareSlack
	if row.SimPromptFidelity != nil {
		c := *row.SimPromptFidelity < row.PromptFidelity
		row.PassC = &c
	}
	return row, nil
}

// entries lists a report's top-level keys, for errors.
func entries(rep map[string]json.RawMessage) string {
	var keys []string
	for _, k := range slices.Sorted(maps.Keys(rep)) {
		if k != "config" && k != "generation" && k != "evaluation" && k != "inputs" && k != "seconds" && k != "compare" {
			keys = append(keys, k)
		}
	}
	return strings.Join(keys, ", ")
}

// markdown is table.md.
func (t *table) markdown() string {
	var b strings.Builder
	b.WriteString("# finetune: every toy subject\n\n")
	b.WriteString("The toy world's judge's shares over each subject's evaluation images: subject is subject_fidelity, prompt is " +
		"prompt_fidelity, Δ the fine-tuned value minus the base model's; from the report.json in each subject's folder. " +
		"Seconds are each subject's whole run.")
	if t.Objective != string(rpo.ObjectiveRPO) {
		fmt.Fprintf(&b, " Objective %s in place of rpo: the checks are the acceptance test's, applied to it.", t.Objective)
	}
	b.WriteString("\n\nChecks: " + strings.Join(t.Checks, "; ") + ".\n\n")
	head := []string{"subject", "base subject", t.Objective + " subject", "Δ subject", "base prompt", t.Objective + " prompt", "Δ prompt"}
	if t.Compare {
		head = append(head, "sim prompt")
	}
	head = append(head, "(a)", "(b)")
	if t.Compare {
		head = append(head, "(c)")
	}
	head = append(head, "seconds")
	b.WriteString("| " + strings.Join(head, " | ") + " |\n")
	b.WriteString(strings.Repeat("|---", len(head)) + "|\n")
	mark := func(ok bool) string {
		if ok {
			return "pass"
		}
		return "fail"
	}
	for _, r := range t.Rows {
		cells := []string{r.Subject, fmt.Sprintf("%.3f", r.BaseSubjectFidelity), fmt.Sprintf("%.3f", r.SubjectFidelity),
			fmt.Sprintf("%+.3f", r.SubjectGain), fmt.Sprintf("%.3f", r.BasePromptFidelity), fmt.Sprintf("%.3f", r.PromptFidelity),
			fmt.Sprintf("%+.3f", r.PromptChange)}
		if t.Compare {
			cells = append(cells, fmt.Sprintf("%.3f", *r.SimPromptFidelity))
		}
		cells = append(cells, mark(r.PassA), mark(r.PassB))
		if t.Compare {
			cells = append(cells, mark(*r.PassC))
		}
		cells = append(cells, fmt.Sprintf("%.0f", r.Seconds))
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	fmt.Fprintf(&b, "\nPassing (a) and (b): %d of %d.", t.PassingAB, t.Total)
	if t.PassingC != nil {
		fmt.Fprintf(&b, " Passing (c): %d of %d.", *t.PassingC, t.Total)
	}
	b.WriteString("\n")
	return b.String()
}

// write writes table.json and table.md into dir, each atomically.
func (t *table) write(dir string) error {
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", tableJSON, err)
	}
	if err := safetensors.WriteAtomic(filepath.Join(dir, tableJSON), func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	}); err != nil {
		return err
	}
	return safetensors.WriteAtomic(filepath.Join(dir, tableMD), func(w io.Writer) error {
		_, err := io.WriteString(w, t.markdown())
		return err
	})
}
