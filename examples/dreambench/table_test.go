package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSource is a source of named subjects with nothing to load.
type fakeSource []string

func (f fakeSource) names() []string                       { return f }
func (f fakeSource) describe() string                      { return "test subjects" }
func (f fakeSource) load(string, string) (*subject, error) { return nil, nil }

// The tables from hand-written results: Table 2's mean ± std over subjects (population std),
// the λ_val sweep, the toy checks, and what is missing.
func TestTableFromResults(t *testing.T) {
	dir := t.TempDir()
	runs, err := parseRuns("base,rpo,sim", "0.3,0.5")
	if err != nil {
		t.Fatal(err)
	}
	put := func(sub, run string, m map[string]float64) {
		t.Helper()
		r := &result{Subject: sub, Run: run, Status: statusOK, Metrics: m}
		if err := writeJSON(filepath.Join(dir, sub, run, resultFile), r); err != nil {
			t.Fatal(err)
		}
	}
	put("a", "base", map[string]float64{mDINO: 0.2, mSubjectFi: 0.0, mPromptFi: 0.9})
	put("b", "base", map[string]float64{mDINO: 0.4, mSubjectFi: 0.1, mPromptFi: 0.8})
	put("a", "rpo-lambda0.3", map[string]float64{mDINO: 0.5, mSubjectFi: 0.4, mPromptFi: 0.85})
	put("b", "rpo-lambda0.3", map[string]float64{mDINO: 0.7, mSubjectFi: 0.2, mPromptFi: 0.8})
	put("a", "rpo-lambda0.5", map[string]float64{mDINO: 0.6})
	put("a", "sim", map[string]float64{mDINO: 0.9, mPromptFi: 0.5})
	if err := writeJSON(filepath.Join(dir, "b", "sim", resultFile), &result{Subject: "b", Run: "sim", Status: statusFailed, Error: "diverged"}); err != nil {
		t.Fatal(err)
	}
	tab, err := buildTable(dir, fakeSource{"a", "b"}, runs, true)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Finished != 6 || tab.Expected != 8 || strings.Join(tab.Missing, ",") != "b/rpo-lambda0.5,b/sim" || len(tab.Failed) != 1 {
		t.Errorf("finished %d of %d, missing %v, failed %v", tab.Finished, tab.Expected, tab.Missing, tab.Failed)
	}
	st := tab.Summary[1].Metrics[mDINO] // rpo-lambda0.3 over a and b
	if tab.Summary[1].Run != "rpo-lambda0.3" || math.Abs(st.Mean-0.6) > 1e-12 || math.Abs(st.Std-0.1) > 1e-12 || st.N != 2 {
		t.Errorf("rpo-lambda0.3 DINO %+v, want 0.6 ± 0.1 over 2", st)
	}
	if len(tab.Sweep) != 2 || *tab.Sweep[1].LambdaVal != 0.5 || tab.Sweep[1].Subjects != 1 {
		t.Errorf("sweep %+v, want λ 0.3 and 0.5, the second over 1 subject", tab.Sweep)
	}
	if len(tab.Checks) != 2 || !tab.Checks[0].PassA || !tab.Checks[0].PassB || !*tab.Checks[0].PassC || tab.Checks[1].PassA || tab.Checks[1].PassC != nil {
		t.Errorf("checks %+v: want a passing (a), (b), (c); b failing (a), without sim", tab.Checks)
	}
	md := tab.markdown()
	for _, want := range []string{"| rpo-lambda0.3 | rpo | 0.3 | 2 | 0.600 ± 0.100 |", "## λ_val sweep (Table 3)", "| 0.5 | 1 | 0.600 ± 0.000 |",
		"b/sim: diverged", "Passing (a) and (b): 1 of 2; (c): 1 of 2."} {
		if !strings.Contains(md, want) {
			t.Errorf("table.md lacks %q:\n%s", want, md)
		}
	}
}
