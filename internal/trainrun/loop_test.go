package trainrun

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// Loop feeds every step its own batch, checkpoints every Every steps and at the end (never the
// same step twice), and on cancellation saves the steps done and returns ctx's error.
func TestLoop(t *testing.T) {
	var trained, saved []int
	done := 0
	l := Loop[int]{Name: "test", Steps: 7, Every: 3,
		Draw:       func(step int) (int, error) { return 10 * step, nil },
		Train:      func(step, b int) error { trained = append(trained, b); done = step + 1; return nil },
		Checkpoint: func() error { saved = append(saved, done); return nil },
	}
	if err := l.Run(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(trained, []int{10, 20, 30, 40, 50, 60}) || !slices.Equal(saved, []int{3, 6, 7}) {
		t.Fatalf("trained %v, saved at %v", trained, saved)
	}

	ctx, cancel := context.WithCancel(context.Background())
	trained, saved = nil, nil
	l.Every = 0
	l.Train = func(step, b int) error {
		trained, done = append(trained, b), step+1
		if step == 2 {
			cancel()
		}
		return nil
	}
	if err := l.Run(ctx, 0); !errors.Is(err, context.Canceled) || err.Error() != "test: step 3: context canceled" {
		t.Fatalf("cancelled: %v", err)
	}
	if !slices.Equal(trained, []int{0, 10, 20}) || !slices.Equal(saved, []int{3}) {
		t.Fatalf("cancelled: trained %v, saved at %v", trained, saved)
	}

	boom := errors.New("boom")
	l.Draw = func(int) (int, error) { return 0, boom }
	if err := l.Run(context.Background(), 0); !errors.Is(err, boom) {
		t.Fatalf("draw error: %v", err)
	}
}
