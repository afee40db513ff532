package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/rpo"
)

// allSubjects is the --subject value that runs every built-in subject in turn.
const allSubjects = "all"

// allConflicts reports the flags --subject all and --table-only cannot go with. parseFlags and
// runAll both ask, so that options built in code are held to the command line's rules.
func allConflicts(o options) error {
	var errs []error
	if o.TableOnly && o.Subject != allSubjects {
		errs = append(errs, errors.New("--table-only rebuilds the table of --subject all: give --subject all (and its --out)"))
	}
	if o.Subject == allSubjects {
		if !o.toy() {
			errs = append(errs, errors.New("--subject all runs the toy world's built-in subjects, without --model"))
		}
		if o.Class != "" {
			errs = append(errs, errors.New("--subject all and --class: each subject has its own class (leave --class out)"))
		}
	}
	return errors.Join(errs...)
}

// subjectNames are the built-in subjects, in toyworld.Subjects's order: the table's rows.
func subjectNames() []string {
	var names []string
	for _, s := range toyworld.Subjects() {
		names = append(names, s.Name)
	}
	return names
}

// allOut is the folder of --subject all: --out, or the default a subject named "all" gets.
func allOut(o options) string {
	// settingsOf derives the default from the subject's name; its other checks are per subject,
	// made when each one runs, so its error is of no use here.
	s, _ := settingsOf(o)
	return s.out
}

// runAll is --subject all: each built-in subject in turn, exactly as --subject NAME would run
// it but into --out/NAME, then table.md and table.json in --out, the table printed on stdout.
// With --table-only it only rebuilds the table from the subjects' report.json files.
//
// --overwrite starts every subject anew. --resume continues the sweep: a subject whose folder
// holds a report.json finished and is kept as it is, one with a run but no report resumes it, one
// without a run starts. Neither flag refuses folders that hold runs, before anything trains. A
// cancelled ctx stops the subject running after its current step; finished subjects' folders
// are left as they are, and no table is written.
func runAll(ctx context.Context, o options, stdout io.Writer) error {
	start := time.Now()
	if err := errors.Join(allConflicts(o), compareConflicts(o)); err != nil {
		return err
	}
	objective, err := parseObjective(o.Objective)
	if err != nil {
		return err
	}
	out, names := allOut(o), subjectNames()
	if !o.TableOnly {
		if err := trainAll(ctx, o, out, names, stdout); err != nil {
			return err
		}
	}
	t, err := buildTable(out, names, string(objective), o.Compare)
	if err != nil {
		return err
	}
	if err := t.write(out); err != nil {
		return err
	}
	if o.TableOnly {
		fmt.Fprintf(stdout, "finetune: the table of %s, from its subjects' %s\n", out, reportFile)
	} else {
		fmt.Fprintf(stdout, "finetune: %d subjects done in %s\n", len(names), time.Since(start).Round(time.Second))
	}
	fmt.Fprintf(stdout, "  in %s: %s, %s, and a folder per subject\n\n%s", out, tableMD, tableJSON, t.markdown())
	return nil
}

// trainAll runs each subject of names into its folder of out.
func trainAll(ctx context.Context, o options, out string, names []string, stdout io.Writer) error {
	// The folders are checked before the first subject trains, rather than failing hours later.
	var held []string
	for _, name := range names {
		if holdsRun(filepath.Join(out, name)) {
			held = append(held, name)
		}
	}
	switch {
	case o.Resume && o.Overwrite: // each subject's run would refuse it, but only once its turn came
		return errors.New("--resume and --overwrite: choose one (continue the sweep in --out, or start every subject over)")
	case !o.Resume && !o.Overwrite && len(held) > 0:
		return fmt.Errorf("--out %s holds earlier runs of %s: --resume continues the sweep (keeping finished subjects), --overwrite starts every subject anew",
			out, strings.Join(held, ", "))
	case o.Resume && len(held) == 0:
		return fmt.Errorf("--resume: %s holds no subject's run to continue: start one without --resume", out)
	}
	var done []string
	for k, name := range names {
		if ctx.Err() != nil {
			return stoppedAll(ctx.Err(), stdout, out, done, name, o.Compare)
		}
		so := o
		so.Subject, so.Out = name, filepath.Join(out, name)
		switch {
		case o.Resume && exists(filepath.Join(so.Out, reportFile)):
			fmt.Fprintf(stdout, "finetune: subject %s (%d of %d) finished earlier: keeping %s\n", name, k+1, len(names), so.Out)
			done = append(done, name)
			continue
		case o.Resume && !exists(filepath.Join(so.Out, rpo.RunFile)):
			so.Resume = false // never started (or stopped before training): start it
		}
		fmt.Fprintf(stdout, "finetune: subject %s (%d of %d)\n", name, k+1, len(names))
		if err := run(ctx, so, stdout); err != nil {
			if ctx.Err() != nil {
				return stoppedAll(err, stdout, out, done, name, o.Compare)
			}
			return fmt.Errorf("subject %s: %w", name, err)
		}
		done = append(done, name)
	}
	return nil
}

// holdsRun reports whether a subject's folder holds a run: its report, its trainer's run.json,
// or with --compare an objective's.
func holdsRun(dir string) bool {
	if exists(filepath.Join(dir, reportFile)) || exists(filepath.Join(dir, rpo.RunFile)) {
		return true
	}
	for _, ob := range objectives {
		if exists(filepath.Join(dir, string(ob.obj), rpo.RunFile)) {
			return true
		}
	}
	return false
}

// stoppedAll passes err on after saying what a cancelled --subject all leaves behind.
func stoppedAll(err error, stdout io.Writer, out string, done []string, current string, compare bool) error {
	kept := "none"
	if len(done) > 0 {
		kept = strings.Join(done, ", ")
	}
	fmt.Fprintf(stdout, "finetune: --subject all stopped at subject %s; finished, intact in %s: %s\n", current, out, kept)
	if compare {
		fmt.Fprintln(stdout, "  --compare does not resume yet: --overwrite starts the sweep again")
	} else {
		fmt.Fprintln(stdout, "  the same command with --resume keeps the finished subjects and continues from there")
	}
	return err
}
