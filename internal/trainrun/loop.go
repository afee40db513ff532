package trainrun

import (
	"context"
	"fmt"
)

// Loop is the step loop of a toy-world training run. On a CPU, rendering a batch costs about
// as much as a training step, so the next batch is drawn on its own goroutine while the current
// step runs. A run that checkpoints saves every Every steps, after its last step and when it is
// cancelled, so that a stopped run loses nothing and resumes where it stopped.
type Loop[B any] struct {
	Name  string // begins the loop's errors: "autoencoder"
	Steps int    // the run ends once step Steps-1 is done
	// Draw makes the batch of step (0-based). It is called one step ahead, on its own goroutine,
	// so it must not touch what Train changes.
	Draw func(step int) (B, error)
	// Train does step on its batch and records it: the run's state then counts step+1 steps.
	Train func(step int, b B) error
	// Checkpoint, when not nil, saves the run's state; the loop never saves the same step twice.
	Checkpoint func() error
	Every      int // steps between checkpoints on the way; 0: only at the end and on cancellation
}

// Run does steps from, …, Steps-1. A cancelled ctx stops it before the next step, with an error
// wrapping ctx's, once the steps done are checkpointed. A batch that fails to draw stops it with
// Draw's error as it is.
func (l Loop[B]) Run(ctx context.Context, from int) error {
	type drawn struct {
		b   B
		err error
	}
	next := make(chan drawn, 1)
	draw := func(step int) {
		b, err := l.Draw(step)
		next <- drawn{b, err}
	}
	if from < l.Steps {
		go draw(from)
	}
	lastSave := from
	save := func(done int) error {
		if l.Checkpoint == nil || done == lastSave {
			return nil
		}
		lastSave = done
		return l.Checkpoint()
	}
	step := from
	for ; step < l.Steps; step++ {
		if err := ctx.Err(); err != nil {
			if cerr := save(step); cerr != nil {
				return fmt.Errorf("%s: checkpoint: %w (after %w)", l.Name, cerr, err)
			}
			return fmt.Errorf("%s: step %d: %w", l.Name, step, err)
		}
		d := <-next
		if d.err != nil {
			return d.err
		}
		if step+1 < l.Steps {
			go draw(step + 1)
		}
		if err := l.Train(step, d.b); err != nil {
			return err
		}
		if l.Every > 0 && (step+1)%l.Every == 0 {
			if err := save(step + 1); err != nil {
				return fmt.Errorf("%s: checkpoint at step %d: %w", l.Name, step+1, err)
			}
		}
	}
	if err := save(step); err != nil {
		return fmt.Errorf("%s: checkpoint at step %d: %w", l.Name, step, err)
	}
	return nil
}
