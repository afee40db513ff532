package rpo

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/graph"

	"github.com/gorpo/gorpo/internal/backend"
)

// A run compiles a fixed number of graphs: the training steps two (the step itself and the
// initialisation of AdamW's state) however many steps, and the validations nothing after the
// first however many follow, because every shape (batch, prompt length, image size) is fixed for
// the run. On XLA each graph is a compilation of minutes at Stable Diffusion's size, so a shape
// that changes per step or per validation must show here.
//
// Measured on this configuration: 10 = set-up 5 (the text encoder, U-Net and VAE decoder of
// I_gen's sampling at its batch of 4; the VAE encoder at batch 1; the text encoder on the run's
// distinct prompts), training 2, validation 3 (the same three sampling graphs again: 2
// validation images are a batch of 2, not I_gen's 4). Graphs recorded at each validation: 10,
// 10, 10.
func TestTrainerCompilesOnce(t *testing.T) {
	env := newTinyEnv(t)
	cfg := testConfig(ObjectiveRPO)
	cfg.Steps, cfg.ValidateEvery, cfg.BatchSize = 6, 2, 2 // 3 validations, 2 pairs a step
	out := t.TempDir()
	tr := mustTrainer(t, cfg, env.pipe(t), testReferences(3), quiet(out)...)
	res, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("graphs compiled: %s", res.Graphs)
	const maxTrain, maxTotal = 2, 10
	if res.Graphs.Train > maxTrain {
		t.Errorf("the %d training steps compiled %d graphs, want at most %d (the step and the optimiser's initialisation): a shape changes between steps",
			cfg.Steps, res.Graphs.Train, maxTrain)
	}
	if res.Graphs.Total() > maxTotal {
		t.Errorf("the run compiled %s graphs, want at most %d", res.Graphs, maxTotal)
	}
	m, err := ReadMetrics(filepath.Join(out, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Validations) != 3 {
		t.Fatalf("%d validations recorded, want 3", len(m.Validations))
	}
	var seen []int
	for _, v := range m.Validations {
		seen = append(seen, v.Graphs)
	}
	t.Logf("graphs compiled up to each validation: %v", seen)
	for i, v := range m.Validations {
		if v.Graphs <= 0 || v.Graphs > res.Graphs.Total() {
			t.Errorf("validation at step %d records %d graphs compiled, want 1 to %d", v.Step, v.Graphs, res.Graphs.Total())
		}
		if i > 0 && v.Graphs != m.Validations[0].Graphs {
			t.Errorf("graphs compiled up to each validation: %v; want no new graph after the first validation", seen)
			break
		}
	}
}

// graphCounter counts the graphs GoMLX compiles (one per new input shape of an Exec), not its
// own probes.
func TestGraphCounter(t *testing.T) {
	c := newGraphCounter()
	if n := c.since(); n != 0 {
		t.Errorf("nothing built: counted %d graphs", n)
	}
	exec, err := graph.NewExec(backend.MustDefault(), func(x *graph.Node) *graph.Node { return graph.Neg(x) })
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	for _, c2 := range []struct {
		in   []float32
		want int
	}{{[]float32{1, 2}, 1}, {[]float32{3, 4}, 0}, {[]float32{1, 2, 3}, 1}} {
		if _, err := exec.Call(c2.in); err != nil {
			t.Fatal(err)
		}
		if n := c.since(); n != c2.want {
			t.Errorf("after a call on %d values: counted %d graphs, want %d", len(c2.in), n, c2.want)
		}
	}
}
