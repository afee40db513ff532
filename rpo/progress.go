package rpo

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"
)

// Phase names a part of a run, in ProgressEvent.
type Phase string

// The phases of a run, in order.
const (
	PhaseGenerate    Phase = "generate"     // the base model generates I_gen (denoising steps)
	PhaseClassImages Phase = "class_images" // the base model generates DreamBooth's class images
	PhaseTrain       Phase = "train"        // optimiser steps
	PhaseValidate    Phase = "validate"     // a validation generates its images (denoising steps)
)

// ProgressEvent is one step of progress.
type ProgressEvent struct {
	Phase Phase
	// Done of Total units of the phase: denoising steps for the generating phases (over the whole
	// call, every batch counted), optimiser steps for training (a resumed run's count starts
	// where it left off).
	Done, Total int
	// Step is the optimiser step the run is at (for a validation: the step it validates).
	Step int
	// Loss is the last step's loss, Reward the last validation's mean reward (NaN before the
	// first of each).
	Loss, Reward float64
}

// ProgressDisplay says how a Trainer shows progress on its Logger.
type ProgressDisplay int

const (
	// DisplayAuto draws a progress bar when the Logger is a terminal and writes plain lines
	// otherwise (a log file, a CI console); nothing for io.Discard.
	DisplayAuto ProgressDisplay = iota
	// DisplayBar always draws a progress bar: one line redrawn in place with the phase, step,
	// loss, last reward, rate and ETA.
	DisplayBar
	// DisplayLines always writes plain lines: at most one every few seconds per phase, and one at
	// its end, with the same fields.
	DisplayLines
	// DisplayNone shows no progress; the Logger still gets the run's log lines.
	DisplayNone
)

// Least time between two plain progress lines of a phase, and between two redraws of the bar.
const (
	lineInterval = 5 * time.Second
	barInterval  = 100 * time.Millisecond
)

// reporter shows a run's progress and log lines on one writer, and forwards events to the
// Progress callback.
type reporter struct {
	mu       sync.Mutex
	w        io.Writer
	display  ProgressDisplay
	width    int // terminal width for the bar (0: unknown)
	callback func(ProgressEvent)

	// The phase in progress.
	phase     Phase
	unit      string
	start     time.Time
	startDone int // Done when the phase began (a resumed run's training)
	lastDraw  time.Time
	drawn     bool // the bar's line is on screen
	last      ProgressEvent
}

func newReporter(w io.Writer, display ProgressDisplay, callback func(ProgressEvent)) *reporter {
	if w == nil {
		w = io.Discard
	}
	r := &reporter{w: w, display: display, callback: callback}
	f, isFile := w.(*os.File)
	terminal := isFile && isTerminal(f)
	if terminal {
		r.width = terminalWidth(f)
	}
	if display == DisplayAuto {
		switch {
		case w == io.Discard:
			r.display = DisplayNone
		case terminal:
			r.display = DisplayBar
		default:
			r.display = DisplayLines
		}
	}
	return r
}

// begin starts a phase of total units, done of them already behind (a resumed run).
func (r *reporter) begin(phase Phase, unit string, done, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finishLocked()
	r.phase, r.unit, r.start, r.startDone = phase, unit, time.Now(), done
	r.lastDraw, r.drawn = time.Time{}, false
	r.last = ProgressEvent{Phase: phase, Done: done, Total: total, Reward: math.NaN(), Loss: math.NaN()}
}

// update records an event of the current phase.
func (r *reporter) update(ev ProgressEvent) {
	if r.callback != nil {
		r.callback(ev)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Phase != r.phase {
		return
	}
	r.last = ev
	now := time.Now()
	switch r.display {
	case DisplayBar:
		if ev.Done >= ev.Total || now.Sub(r.lastDraw) >= barInterval {
			r.lastDraw = now
			r.drawBar(ev)
		}
	case DisplayLines:
		if ev.Done >= ev.Total || now.Sub(r.lastDraw) >= lineInterval {
			r.lastDraw = now
			fmt.Fprintln(r.w, "rpo: "+r.status(ev, false))
		}
	}
}

// finish ends the current phase.
func (r *reporter) finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finishLocked()
}

func (r *reporter) finishLocked() {
	if r.drawn {
		fmt.Fprintln(r.w) // keep the bar's last state on its line
		r.drawn = false
	}
	r.phase = ""
}

// logf writes a log line, above the progress bar if one is drawn.
func (r *reporter) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.drawn {
		fmt.Fprint(r.w, "\r\033[K")
	}
	fmt.Fprintf(r.w, "rpo: "+format+"\n", args...)
	if r.drawn {
		r.drawBar(r.last)
	}
}

// drawBar redraws the bar's line: "train [=====>     ] 12/400 loss 0.8123 reward 0.6120 1.9 step/s ETA 3m20s".
func (r *reporter) drawBar(ev ProgressEvent) {
	status := r.status(ev, true)
	const barWidth = 24
	filled := 0
	if ev.Total > 0 {
		filled = min(barWidth, barWidth*ev.Done/ev.Total)
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", barWidth-filled)
	if filled > 0 && filled < barWidth {
		bar = strings.Repeat("=", filled-1) + ">" + strings.Repeat(" ", barWidth-filled)
	}
	line := fmt.Sprintf("%s [%s] %s", ev.Phase, bar, status)
	if r.width > 1 && len([]rune(line)) >= r.width {
		line = string([]rune(line)[:r.width-1])
	}
	fmt.Fprint(r.w, "\r\033[K"+line)
	r.drawn = true
}

// status is the progress text: "12/400 loss 0.8123 reward 0.6120 1.93 step/s ETA 3m20s" (the
// phase first unless inBar).
func (r *reporter) status(ev ProgressEvent, inBar bool) string {
	var b strings.Builder
	if !inBar {
		fmt.Fprintf(&b, "%s ", ev.Phase)
	}
	fmt.Fprintf(&b, "%d/%d", ev.Done, ev.Total)
	if ev.Phase == PhaseValidate || ev.Phase == PhaseGenerate || ev.Phase == PhaseClassImages {
		if ev.Step > 0 {
			fmt.Fprintf(&b, " (at step %d)", ev.Step)
		}
	}
	if !math.IsNaN(ev.Loss) && ev.Phase == PhaseTrain {
		fmt.Fprintf(&b, " loss %.4f", ev.Loss)
	}
	if !math.IsNaN(ev.Reward) {
		fmt.Fprintf(&b, " reward %.4f", ev.Reward)
	}
	elapsed := time.Since(r.start)
	if done := ev.Done - r.startDone; done > 0 && elapsed > 0 {
		rate := float64(done) / elapsed.Seconds()
		fmt.Fprintf(&b, " %.3g %s/s", rate, r.unit)
		if left := ev.Total - ev.Done; left > 0 {
			eta := time.Duration(float64(left) / rate * float64(time.Second))
			fmt.Fprintf(&b, " ETA %s", eta.Round(time.Second))
		} else {
			fmt.Fprintf(&b, " in %s", elapsed.Round(time.Millisecond))
		}
	}
	return b.String()
}
