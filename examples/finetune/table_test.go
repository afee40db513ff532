package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorpo/gorpo/rpo"
)

// fidelities are an entry's judge shares: subject, prompt.
type fidelities [2]float64

// writeSyntheticReport writes a report.json for subject under dir with the given entries, in the
// shape report.write gives them.
func writeSyntheticReport(t *testing.T, dir, subject string, seconds float64, entries map[string]fidelities) {
	t.Helper()
	rep := map[string]any{"seconds": seconds, "inputs": map[string]any{"subject": subject, "model": "toy"}, "config": map[string]any{}}
	for key, f := range entries {
		rep[key] = map[string]any{"subject_fidelity": f[0], "prompt_fidelity": f[1], "align_i": 0.5, "align_t": 0.2,
			"harmonic_0_3": 0.3, "steps_trained": 100, "best_step": 50, "seconds": seconds / 2}
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, subject), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, subject, reportFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// syntheticSweep writes a report per built-in subject: the first passes (a) and (b) exactly on
// their thresholds, the second fails (a), the third (b), the fourth (c); the rest pass all.
func syntheticSweep(t *testing.T, dir string) {
	t.Helper()
	for i, name := range subjectNames() {
		e := map[string]fidelities{"base": {0.2, 0.8}, "rpo": {0.9, 0.75}, "sim": {0.95, 0.4}}
		switch i {
		case 0: // 0.42 − 0.12 and 0.7 − 0.8 miss the thresholds by rounding only
			e["base"], e["rpo"] = fidelities{0.12, 0.8}, fidelities{0.42, 0.7}
		case 1:
			e["rpo"] = fidelities{0.45, 0.8}
		case 2:
			e["rpo"] = fidelities{0.9, 0.55}
		case 3:
			e["sim"] = fidelities{0.95, 0.76}
		}
		writeSyntheticReport(t, dir, name, float64(100+i), e)
	}
}

// TestBuildTable builds the table of synthetic reports with and without --compare: the checks,
// the counts, the sim column, and table.md's and table.json's shape.
func TestBuildTable(t *testing.T) {
	dir := t.TempDir()
	syntheticSweep(t, dir)
	names := subjectNames()
	n := len(names)
	for _, compare := range []bool{false, true} {
		tab, err := buildTable(dir, names, "rpo", compare)
		if err != nil {
			t.Fatal(err)
		}
		if tab.PassingAB != n-2 || tab.Total != n || len(tab.Rows) != n {
			t.Errorf("compare %v: %d of %d pass (a) and (b), %d rows; want %d of %d", compare, tab.PassingAB, tab.Total, len(tab.Rows), n-2, n)
		}
		wantAB := []bool{true, false, false, true}
		for i, want := range wantAB {
			if r := tab.Rows[i]; (r.PassA && r.PassB) != want || r.Subject != names[i] {
				t.Errorf("row %d (%s): a %v, b %v; want both %v", i, r.Subject, r.PassA, r.PassB, want)
			}
		}
		if r := tab.Rows[2]; !r.PassA || r.PassB || r.PromptChange > -0.25+1e-9 {
			t.Errorf("row 2: %+v, want (a) passing, (b) failing on a prompt change of −0.25", r)
		}
		if r := tab.Rows[5]; r.Seconds != 105 || r.SubjectGain < 0.7-1e-9 {
			t.Errorf("row 5: %+v, want 105 s and a gain of 0.7", r)
		}
		md := tab.markdown()
		t.Logf("compare %v, table.md:\n%s", compare, md)
		if compare != (tab.PassingC != nil) || compare != strings.Contains(md, "sim prompt") || compare != strings.Contains(md, "| (c) |") {
			t.Errorf("compare %v: passing (c) %v, table.md with the sim column %v", compare, tab.PassingC, strings.Contains(md, "sim prompt"))
		}
		if compare {
			if *tab.PassingC != n-1 || *tab.Rows[3].PassC || !*tab.Rows[0].PassC || *tab.Rows[0].SimPromptFidelity != 0.4 {
				t.Errorf("(c): %d of %d, row 3 %v; want %d, failing on row 3", *tab.PassingC, n, *tab.Rows[3].PassC, n-1)
			}
			if !strings.Contains(md, "Passing (a) and (b): 4 of 6. Passing (c): 5 of 6.") {
				t.Errorf("table.md's last line:\n%s", md)
			}
		} else if !strings.HasSuffix(md, "\nPassing (a) and (b): 4 of 6.\n") {
			t.Errorf("table.md's last line:\n%s", md)
		}

		// Every table line has the header's cells; a row per subject, in order.
		var lines []string
		for _, l := range strings.Split(md, "\n") {
			if strings.HasPrefix(l, "|") {
				lines = append(lines, l)
			}
		}
		if len(lines) != n+2 {
			t.Fatalf("table.md has %d table lines, want %d", len(lines), n+2)
		}
		cols := strings.Count(lines[0], "|")
		for i, l := range lines {
			if strings.Count(l, "|") != cols {
				t.Errorf("table.md line %d has %d bars, the header %d: %s", i, strings.Count(l, "|"), cols, l)
			}
			if i >= 2 && !strings.HasPrefix(l, "| "+names[i-2]+" |") {
				t.Errorf("table.md row %d: %s, want subject %s", i-2, l, names[i-2])
			}
		}
		if !strings.Contains(lines[2], "| 0.120 | 0.420 | +0.300 | 0.800 | 0.700 | -0.100 |") || !strings.HasSuffix(lines[2], "| 100 |") {
			t.Errorf("row of %s: %s", names[0], lines[2])
		}

		// table.json says the same.
		if err := tab.write(dir); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		data, err := os.ReadFile(filepath.Join(dir, tableJSON))
		if err == nil {
			err = json.Unmarshal(data, &got)
		}
		if err != nil || got["passing_a_and_b"] != 4.0 || got["total"] != 6.0 || got["objective"] != "rpo" || (got["passing_c"] != nil) != compare {
			t.Errorf("table.json: %v\n%s", err, data)
		}
		if md2, err := os.ReadFile(filepath.Join(dir, tableMD)); err != nil || string(md2) != md {
			t.Errorf("table.md on disk differs from markdown(): %v", err)
		}
	}
}

// TestBuildTableErrors checks the errors: missing reports (every one named), an objective the
// reports lack, --compare on reports without sim; and that --objective picks the column.
func TestBuildTableErrors(t *testing.T) {
	dir := t.TempDir()
	syntheticSweep(t, dir)
	names := subjectNames()
	for _, name := range names[1:3] {
		if err := os.Remove(filepath.Join(dir, name, reportFile)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := buildTable(dir, names, "rpo", false)
	for _, name := range names[1:3] {
		if err == nil || !strings.Contains(err.Error(), "subject "+name+": no report.json") {
			t.Errorf("missing reports: %v, want an error naming %s", err, name)
		}
	}
	if err != nil && strings.Contains(err.Error(), "subject "+names[0]) {
		t.Errorf("missing reports: %v names %s, which has one", err, names[0])
	}

	dir = t.TempDir()
	for _, name := range names {
		writeSyntheticReport(t, dir, name, 1, map[string]fidelities{"base": {0.1, 0.8}, "sim": {0.6, 0.5}})
	}
	if _, err := buildTable(dir, names, "rpo", false); err == nil || !strings.Contains(err.Error(), `no "rpo" entry (it has base, sim)`) ||
		!strings.Contains(err.Error(), "--objective") {
		t.Errorf("reports without rpo: %v", err)
	}
	tab, err := buildTable(dir, names, "sim", false)
	if err != nil {
		t.Fatal(err)
	}
	if md := tab.markdown(); !strings.Contains(md, "| sim subject |") || !strings.Contains(md, "Objective sim in place of rpo") || tab.PassingAB != 0 {
		t.Errorf("--objective sim: %d passing, table.md:\n%s", tab.PassingAB, md)
	}

	dir = t.TempDir()
	for _, name := range names {
		writeSyntheticReport(t, dir, name, 1, map[string]fidelities{"base": {0.1, 0.8}, "rpo": {0.6, 0.8}})
	}
	if _, err := buildTable(dir, names, "rpo", true); err == nil || !strings.Contains(err.Error(), `no "sim" entry`) ||
		!strings.Contains(err.Error(), "without --compare") {
		t.Errorf("--compare on reports without sim: %v", err)
	}
	writeSyntheticReport(t, dir, names[0], 1, map[string]fidelities{"base": {0.1, 0.8}, "rpo": {0.6, 0.8}})
	data, _ := os.ReadFile(filepath.Join(dir, names[0], reportFile))
	if err := os.WriteFile(filepath.Join(dir, names[1], reportFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := buildTable(dir, names, "rpo", false); err == nil || !strings.Contains(err.Error(), "is the report of subject "+names[0]) {
		t.Errorf("a report in another subject's folder: %v", err)
	}
}

// TestAllFlags checks --subject all and --table-only on the command line and in run: what they
// refuse, the default --out, the folder checks made before anything loads, and --table-only
// rebuilding a table through run.
func TestAllFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--table-only"}, "--table-only rebuilds the table of --subject all"},
		{[]string{"--subject", "tabby_cat", "--table-only"}, "give --subject all"},
		{[]string{"--subject", "all", "--model", "m"}, "without --model"},
		{[]string{"--subject", "all", "--class", "dog"}, "--class"},
	} {
		if _, err := parseFlags(c.args, io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error with %q", c.args, err, c.want)
		}
	}
	o, err := parseFlags([]string{"--subject", "all"}, io.Discard)
	if err != nil || o.Subject != allSubjects || !o.toy() || o.Steps != toyPreset()["steps"] {
		t.Fatalf("--subject all: %+v, %v; want the toy path with its preset", o, err)
	}
	if got := allOut(o); got != filepath.Join("out", "finetune-all") {
		t.Errorf("--subject all: default --out %q, want out/finetune-all", got)
	}
	if o, err := parseFlags([]string{"--subject", "all", "--table-only", "--out", "x"}, io.Discard); err != nil || !o.TableOnly || allOut(o) != "x" {
		t.Errorf("--subject all --table-only --out x: %+v, %v", o, err)
	}

	// run holds options built in code to the same rules.
	dir := t.TempDir()
	o = defaultOptions()
	o.TableOnly, o.Out = true, dir
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "give --subject all") {
		t.Errorf("run with --table-only alone: %v", err)
	}

	// Folders that hold runs are refused before anything loads (no base model exists here).
	names := subjectNames()
	o = defaultOptions()
	o.Subject, o.Out, o.BaseModel = allSubjects, dir, filepath.Join(dir, "nomodel")
	o = withToyPreset(o)
	if err := os.MkdirAll(filepath.Join(dir, names[2]), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, names[2], rpo.RunFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "holds earlier runs of "+names[2]) ||
		!strings.Contains(err.Error(), "--resume") || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("--subject all into a folder with a run: %v", err)
	}
	o.Overwrite, o.Resume = true, true
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "--resume and --overwrite") {
		t.Errorf("--subject all --resume --overwrite: %v", err)
	}
	o.Overwrite, o.Compare = false, true
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "--compare and --resume") {
		t.Errorf("--subject all --compare --resume: %v", err)
	}
	o.Compare, o.Out = false, t.TempDir()
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "holds no subject's run") {
		t.Errorf("--subject all --resume into an empty folder: %v", err)
	}

	// --table-only through run: the table of existing reports, printed; a missing one is named.
	syntheticSweep(t, o.Out)
	o.Resume, o.TableOnly = false, true
	var stdout bytes.Buffer
	if err := run(context.Background(), o, &stdout); err != nil {
		t.Fatal(err)
	}
	mustExist(t, o.Out, tableMD, tableJSON)
	if !strings.Contains(stdout.String(), "Passing (a) and (b): 4 of 6.") || !strings.Contains(stdout.String(), "| "+names[5]+" |") {
		t.Errorf("--table-only printed:\n%s", stdout.String())
	}
	if err := os.Remove(filepath.Join(o.Out, names[4], reportFile)); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "subject "+names[4]+": no report.json") {
		t.Errorf("--table-only with a report missing: %v", err)
	}
}

// TestToyAll runs --subject all end to end on a tiny random base model: stopped by a
// cancellation in the second subject's first step (the first subject's folder stays finished,
// no table), refused without --resume, then resumed to the end (the first subject kept, the
// second resumed, the rest started), and the table rebuilt with --table-only.
func TestToyAll(t *testing.T) {
	start := time.Now()
	base := writeToyBase(t)
	out := filepath.Join(t.TempDir(), "out")
	names := subjectNames()
	o := tinyToy(t, base, out)
	o.Subject, o.EvalPrompts = allSubjects, 1

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	steps := 0
	o.onStep = func(int) {
		if steps++; steps == o.Steps+1 { // the second subject's first step
			cancel()
		}
	}
	var stdout bytes.Buffer
	err := run(ctx, o, &stdout)
	t.Logf("cancelled run (%s):\n%s", time.Since(start).Round(time.Millisecond), stdout.String())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled --subject all: %v, want context.Canceled", err)
	}
	mustExist(t, out, filepath.Join(names[0], reportFile), filepath.Join(names[1], rpo.LatestCheckpoint))
	first, err := os.Stat(filepath.Join(out, names[0], reportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(names[1], reportFile), filepath.Join(names[2]), tableMD} {
		if exists(filepath.Join(out, f)) {
			t.Errorf("the cancelled run left %s", f)
		}
	}
	if !strings.Contains(stdout.String(), "finished, intact in "+out+": "+names[0]) {
		t.Errorf("the cancelled run's message:\n%s", stdout.String())
	}

	o.onStep = nil
	if err := run(context.Background(), o, io.Discard); err == nil || !strings.Contains(err.Error(), "holds earlier runs of "+names[0]+", "+names[1]) {
		t.Errorf("rerun without --resume: %v", err)
	}
	o.Resume = true
	stdout.Reset()
	if err := run(context.Background(), o, &stdout); err != nil {
		t.Fatalf("--resume: %v\n%s", err, stdout.String())
	}
	t.Logf("resumed run (%s in all):\n%s", time.Since(start).Round(time.Millisecond), stdout.String())
	if again, err := os.Stat(filepath.Join(out, names[0], reportFile)); err != nil || !again.ModTime().Equal(first.ModTime()) {
		t.Errorf("--resume rewrote the finished subject's report: %v", err)
	}
	if !strings.Contains(stdout.String(), "resuming") || !strings.Contains(stdout.String(), "finished earlier: keeping") {
		t.Errorf("--resume's output lacks the resumed or the kept subject:\n%s", stdout.String())
	}
	for _, name := range names {
		mustExist(t, out, filepath.Join(name, reportFile), filepath.Join(name, afterFile))
	}
	mustExist(t, out, tableMD, tableJSON)
	tab, err := os.ReadFile(filepath.Join(out, tableJSON))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "Passing (a) and (b): ") || !strings.Contains(stdout.String(), " of 6.") {
		t.Errorf("the table was not printed:\n%s", stdout.String())
	}

	o.Resume, o.TableOnly = false, true
	if err := run(context.Background(), o, io.Discard); err != nil {
		t.Fatal(err)
	}
	if again, err := os.ReadFile(filepath.Join(out, tableJSON)); err != nil || !bytes.Equal(again, tab) {
		t.Errorf("--table-only rebuilt another table: %v\n%s\nwant\n%s", err, again, tab)
	}
	t.Logf("TestToyAll: %s", time.Since(start).Round(time.Millisecond))
}

// TestToyAllCompare runs --subject all --compare end to end: the table gains sim's prompt
// fidelity and check (c).
func TestToyAllCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: TestToyAll covers the sweep, TestBuildTable the --compare column")
	}
	start := time.Now()
	base := writeToyBase(t)
	out := filepath.Join(t.TempDir(), "out")
	o := tinyToy(t, base, out)
	o.Subject, o.EvalPrompts, o.Compare, o.ClassImages = allSubjects, 1, true, 2
	var stdout bytes.Buffer
	if err := run(context.Background(), o, &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	t.Logf("stdout (%s):\n%s", time.Since(start).Round(time.Millisecond), stdout.String())
	for _, name := range subjectNames() {
		mustExist(t, out, filepath.Join(name, reportFile), filepath.Join(name, string(rpo.ObjectiveSim), rpo.RunFile))
	}
	md, err := os.ReadFile(filepath.Join(out, tableMD))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md, []byte("| sim prompt |")) || !bytes.Contains(md, []byte(" of 6. Passing (c): ")) {
		t.Errorf("table.md of --compare:\n%s", md)
	}
}
