package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/reward"
	"github.com/gorpo/gorpo/rpo"
)

// The tables: read back from every result.json under the output folder, so that shards on
// different machines merge by sharing the folder, and --table-only rebuilds them at any time.

// The toy table's checks (the project's acceptance test for the toy world): (a) RPO shows the
// subject in at least minSubjectGain more of its images than the base model, (b) its prompt
// fidelity moves by at most maxPromptDrift, (c) L_sim alone follows the prompts less than RPO.
const (
	minSubjectGain = 0.3
	maxPromptDrift = 0.1
	shareSlack     = 1e-9 // shares are counts over totals: 0.42 − 0.12 is 0.29999999999999993
)

// table is table.json.
type table struct {
	Source   string   `json:"source"`
	Runs     []string `json:"runs"`
	Subjects []string `json:"subjects"`
	Expected int      `json:"expected"` // subjects × runs
	Finished int      `json:"finished"`
	// Missing names the (subject/run) pairs without a finished result: not run yet, running,
	// or failed.
	Missing []string `json:"missing,omitempty"`
	Failed  []string `json:"failed,omitempty"` // "subject/run: error"

	// Summary is Table 2: per run, the mean ± std over its finished subjects of each subject's
	// mean over prompts.
	Summary []summaryRow `json:"summary"`
	// References is the reference-vs-reference ("real images") row.
	References *summaryRow `json:"references,omitempty"`
	// Sweep is Table 3: the RPO runs of each λ_val (present when more than one was run).
	Sweep []summaryRow `json:"lambda_val_sweep,omitempty"`
	// PerSubject is a row per (subject, run) with a result.
	PerSubject []*result `json:"per_subject"`
	// Checks is the toy world's acceptance checks, a row per subject with base, RPO and sim.
	Checks []checkRow `json:"toy_checks,omitempty"`
}

type summaryRow struct {
	Run       string                 `json:"run"`
	Objective string                 `json:"objective"`
	LambdaVal *float64               `json:"lambda_val,omitempty"`
	Subjects  int                    `json:"subjects"`
	Metrics   map[string]reward.Stat `json:"metrics"`
}

type checkRow struct {
	Subject             string   `json:"subject"`
	BaseSubjectFidelity float64  `json:"base_subject_fidelity"`
	SubjectFidelity     float64  `json:"subject_fidelity"`
	BasePromptFidelity  float64  `json:"base_prompt_fidelity"`
	PromptFidelity      float64  `json:"prompt_fidelity"`
	SimPromptFidelity   *float64 `json:"sim_prompt_fidelity,omitempty"`
	PassA               bool     `json:"pass_a"`
	PassB               bool     `json:"pass_b"`
	PassC               *bool    `json:"pass_c,omitempty"`
}

// buildTable reads every (subject, run) result of the bench under dir.
func buildTable(dir string, src source, runs []runSpec, toy bool) (*table, error) {
	t := &table{Source: src.describe(), Subjects: src.names()}
	for _, r := range runs {
		t.Runs = append(t.Runs, r.Name)
	}
	t.Expected = len(t.Subjects) * len(runs)
	ok := map[string]map[string]*result{} // run → subject → result
	var refs []map[string]float64
	var errs []error
	for _, s := range t.Subjects {
		var ref referenceRow
		switch err := readJSON(filepath.Join(dir, s, referencesFile), &ref); {
		case err == nil:
			refs = append(refs, ref.Metrics)
		case !errors.Is(err, os.ErrNotExist):
			errs = append(errs, err)
		}
		for _, r := range runs {
			res, err := readResult(filepath.Join(dir, s, r.Name))
			if err != nil {
				errs = append(errs, err)
				t.Missing = append(t.Missing, s+"/"+r.Name)
				continue
			}
			if res == nil || res.Status != statusOK {
				t.Missing = append(t.Missing, s+"/"+r.Name)
			}
			if res == nil {
				continue
			}
			if res.Subject != s || res.Run != r.Name {
				errs = append(errs, fmt.Errorf("%s: the result of %s/%s, in the folder of %s/%s", filepath.Join(dir, s, r.Name, resultFile), res.Subject, res.Run, s, r.Name))
				continue
			}
			t.PerSubject = append(t.PerSubject, res)
			if res.Status != statusOK {
				t.Failed = append(t.Failed, fmt.Sprintf("%s/%s: %s", s, r.Name, res.Error))
				continue
			}
			t.Finished++
			if ok[r.Name] == nil {
				ok[r.Name] = map[string]*result{}
			}
			ok[r.Name][s] = res
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("the tables of %s: %w", dir, err)
	}
	swept := 0
	for _, r := range runs {
		if r.Objective == rpo.ObjectiveRPO {
			swept++
		}
	}
	for _, r := range runs {
		var ms []map[string]float64
		for _, s := range t.Subjects {
			if res := ok[r.Name][s]; res != nil {
				ms = append(ms, res.Metrics)
			}
		}
		row := summaryRow{Run: r.Name, Objective: objectiveOf(r), Subjects: len(ms), Metrics: stats(ms)}
		if r.Swept {
			l := r.LambdaVal
			row.LambdaVal = &l
		}
		t.Summary = append(t.Summary, row)
		if swept > 1 && r.Objective == rpo.ObjectiveRPO {
			t.Sweep = append(t.Sweep, row)
		}
	}
	if len(refs) > 0 {
		t.References = &summaryRow{Run: "references", Objective: "reference vs reference", Subjects: len(refs), Metrics: stats(refs)}
	}
	if toy {
		t.Checks = checks(t.Subjects, runs, ok)
	}
	return t, nil
}

// stats is the mean ± std over subjects of each metric (population std, numpy's default; a
// subject lacking a metric does not count towards it).
func stats(ms []map[string]float64) map[string]reward.Stat {
	out := map[string]reward.Stat{}
	for _, k := range metricOrder {
		var xs []float64
		for _, m := range ms {
			if v, ok := m[k]; ok {
				xs = append(xs, v)
			}
		}
		if len(xs) == 0 {
			continue
		}
		mean := 0.0
		for _, x := range xs {
			mean += x / float64(len(xs))
		}
		v := 0.0
		for _, x := range xs {
			v += (x - mean) * (x - mean) / float64(len(xs))
		}
		out[k] = reward.Stat{Mean: mean, Std: math.Sqrt(v), N: len(xs)}
	}
	return out
}

// checks are the toy table's pass checks for the subjects with base, RPO (the first λ_val) and,
// for (c), sim results.
func checks(subjects []string, runs []runSpec, ok map[string]map[string]*result) []checkRow {
	rpoRun, simRun := "", ""
	for _, r := range runs {
		if r.Objective == rpo.ObjectiveRPO && rpoRun == "" {
			rpoRun = r.Name
		}
		if r.Objective == rpo.ObjectiveSim {
			simRun = r.Name
		}
	}
	var out []checkRow
	for _, s := range subjects {
		base, tuned := ok[baseRun][s], ok[rpoRun][s]
		if base == nil || tuned == nil {
			continue
		}
		bs, bsOK := base.Metrics[mSubjectFi]
		bp, bpOK := base.Metrics[mPromptFi]
		ts, tsOK := tuned.Metrics[mSubjectFi]
		tp, tpOK := tuned.Metrics[mPromptFi]
		if !bsOK || !bpOK || !tsOK || !tpOK {
			continue
		}
		row := checkRow{Subject: s, BaseSubjectFidelity: bs, SubjectFidelity: ts, BasePromptFidelity: bp, PromptFidelity: tp,
			PassA: ts-bs >= minSubjectGain-shareSlack, PassB: math.Abs(tp-bp) <= maxPromptDrift+shareSlack}
		if sim := ok[simRun][s]; sim != nil {
			if sp, has := sim.Metrics[mPromptFi]; has {
				c := sp < tp
				row.SimPromptFidelity, row.PassC = &sp, &c
			}
		}
		out = append(out, row)
	}
	return out
}

// The paper's numbers (Miao et al., NeurIPS 2024, Table 1, DreamBench, SD), beside which the
// README and table.md set the harness's columns: DINO, CLIP-I, CLIP-T.
var paperNumbers = []struct {
	what               string
	dino, clipI, clipT float64
}{
	{"RPO, λ_val 0.5", 0.652, 0.833, 0.314},
	{"DreamBooth (SD)", 0.668, 0.803, 0.305},
}

// markdown is table.md.
func (t *table) markdown() string {
	var b strings.Builder
	b.WriteString("# dreambench\n\n")
	fmt.Fprintf(&b, "%s: %d subjects × %d runs; %d of %d results finished.\n", t.Source, len(t.Subjects), len(t.Runs), t.Finished, t.Expected)
	if len(t.Missing) > 0 {
		fmt.Fprintf(&b, "\n**Missing** (not run, running, or failed): %s.\n", strings.Join(t.Missing, ", "))
	}
	if len(t.Failed) > 0 {
		b.WriteString("\n**Failed:**\n\n")
		for _, f := range t.Failed {
			fmt.Fprintf(&b, "- %s\n", mdCell(f))
		}
	}
	cols := t.columns()
	b.WriteString("\n## Mean ± std over subjects (Table 2)\n\n")
	b.WriteString("Each subject's value is its mean over its evaluation prompts of each prompt's metric over its images " +
		"(CLIP-T clamped per prompt, as torchmetrics' clip_score); the std is over subjects. 0.3-Harmonic is the λ = 0.3 " +
		"Harmonic reward of ALIGN-I and ALIGN-T.\n\n")
	head := []string{"run", "objective", "λ_val", "subjects"}
	for _, c := range cols {
		head = append(head, metricTitle[c])
	}
	writeRow(&b, head)
	writeRow(&b, dashes(len(head)))
	rows := t.Summary
	if t.References != nil {
		rows = append(append([]summaryRow(nil), rows...), *t.References)
	}
	for _, r := range rows {
		cells := []string{r.Run, r.Objective, lambdaCell(r.LambdaVal), fmt.Sprint(r.Subjects)}
		for _, c := range cols {
			cells = append(cells, statCell(r.Metrics, c))
		}
		writeRow(&b, cells)
	}
	if !strings.Contains(t.Source, "toy") {
		b.WriteString("\nThe paper's Table 1 (DINO / CLIP-I / CLIP-T): ")
		for i, p := range paperNumbers {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s %.3f / %.3f / %.3f", p.what, p.dino, p.clipI, p.clipT)
		}
		b.WriteString("; real images (DreamBooth's Table 1) 0.774 / 0.885.\n")
	}
	if len(t.Sweep) > 0 {
		b.WriteString("\n## λ_val sweep (Table 3)\n\n")
		head := []string{"λ_val", "subjects"}
		for _, c := range cols {
			head = append(head, metricTitle[c])
		}
		writeRow(&b, head)
		writeRow(&b, dashes(len(head)))
		for _, r := range t.Sweep {
			cells := []string{lambdaCell(r.LambdaVal), fmt.Sprint(r.Subjects)}
			for _, c := range cols {
				cells = append(cells, statCell(r.Metrics, c))
			}
			writeRow(&b, cells)
		}
	}
	if len(t.Checks) > 0 {
		b.WriteString("\n## Toy world: the judge's checks\n\n")
		fmt.Fprintf(&b, "(a) RPO subject fidelity ≥ base + %g; (b) |RPO prompt fidelity − base| ≤ %g; (c) sim prompt fidelity < RPO's.\n\n", minSubjectGain, maxPromptDrift)
		writeRow(&b, []string{"subject", "base subject", "rpo subject", "Δ subject", "base prompt", "rpo prompt", "Δ prompt", "sim prompt", "(a)", "(b)", "(c)"})
		writeRow(&b, dashes(11))
		ab, c := 0, 0
		for _, r := range t.Checks {
			sim, pc := "—", "—"
			if r.SimPromptFidelity != nil {
				sim, pc = fmt.Sprintf("%.3f", *r.SimPromptFidelity), pass(*r.PassC)
				if *r.PassC {
					c++
				}
			}
			if r.PassA && r.PassB {
				ab++
			}
			writeRow(&b, []string{r.Subject, f3(r.BaseSubjectFidelity), f3(r.SubjectFidelity), fmt.Sprintf("%+.3f", r.SubjectFidelity-r.BaseSubjectFidelity),
				f3(r.BasePromptFidelity), f3(r.PromptFidelity), fmt.Sprintf("%+.3f", r.PromptFidelity-r.BasePromptFidelity), sim, pass(r.PassA), pass(r.PassB), pc})
		}
		fmt.Fprintf(&b, "\nPassing (a) and (b): %d of %d; (c): %d of %d.\n", ab, len(t.Checks), c, len(t.Checks))
	}
	b.WriteString("\n## Per subject\n\n")
	head = []string{"subject", "run", "status"}
	for _, c := range cols {
		head = append(head, metricTitle[c])
	}
	head = append(head, "steps", "best step", "seconds")
	writeRow(&b, head)
	writeRow(&b, dashes(len(head)))
	for _, r := range t.PerSubject {
		status := r.Status
		if r.Status != statusOK {
			status = r.Status + ": " + r.Error
		}
		cells := []string{r.Subject, r.Run, status}
		for _, c := range cols {
			if v, ok := r.Metrics[c]; ok {
				cells = append(cells, f3(v))
			} else {
				cells = append(cells, "—")
			}
		}
		cells = append(cells, fmt.Sprint(r.StepsTrained), fmt.Sprint(r.BestStep), fmt.Sprintf("%.0f", r.Seconds))
		writeRow(&b, cells)
	}
	return b.String()
}

// columns are the metrics some row has, in metricOrder.
func (t *table) columns() []string {
	var out []string
	for _, k := range metricOrder {
		has := false
		for _, r := range t.PerSubject {
			_, ok := r.Metrics[k]
			has = has || ok
		}
		if has {
			out = append(out, k)
		}
	}
	return out
}

func statCell(m map[string]reward.Stat, k string) string {
	s, ok := m[k]
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.3f ± %.3f", s.Mean, s.Std)
}

func lambdaCell(l *float64) string {
	if l == nil {
		return "—"
	}
	return fmt.Sprint(*l)
}

func f3(v float64) string { return fmt.Sprintf("%.3f", v) }

func pass(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

func dashes(n int) []string { return strings.Split(strings.Repeat("---,", n-1)+"---", ",") }

func writeRow(b *strings.Builder, cells []string) {
	for i := range cells {
		cells[i] = mdCell(cells[i])
	}
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

// mdCell keeps a cell on one line of one table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// write writes table.json and table.md into dir, each atomically.
func (t *table) write(dir string) error {
	if err := writeJSON(filepath.Join(dir, tableJSON), t); err != nil {
		return err
	}
	return safetensors.WriteAtomic(filepath.Join(dir, tableMD), func(w io.Writer) error {
		_, err := io.WriteString(w, t.markdown())
		return err
	})
}
