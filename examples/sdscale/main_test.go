package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"

	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/fixtures"
)

// TestMain lets the test binary serve as sdscale's child process.
func TestMain(m *testing.M) {
	if childMain() {
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Every phase runs on the fixture-size models (a diffusers folder's configs, the ALIGN parity
// fixture's), each in its own child process, and the table reports each with its FLOPs.
func TestPhasesOnFixtures(t *testing.T) {
	dir := t.TempDir()
	if err := fixtures.WriteTinySD(dir); err != nil {
		t.Fatal(err)
	}
	o := options{Model: dir, Align: fixtures.Path(t, "parity", "align"), Size: 64, SampleSteps: 2, Seed: 1}
	var out bytes.Buffer
	results, err := run(o, phases, &out)
	if err != nil {
		t.Fatal(err)
	}
	table := out.String()
	t.Log("\n" + table)
	for _, p := range phases {
		if !strings.Contains(table, "| "+p+" |") {
			t.Errorf("no row for phase %s", p)
		}
	}
	if len(results) != len(phases) {
		t.Fatalf("%d results for %d phases", len(results), len(phases))
	}
	for _, r := range results {
		computes := r.Phase != "checkpoint" // the checkpoint phase only writes and reads
		if r.Params <= 0 || (computes && r.FLOPs <= 0) || r.FirstSec <= 0 || r.BuildRSS <= 0 || r.PeakRSS < r.BuildRSS {
			t.Errorf("%s: implausible measurements %+v", r.Phase, r)
		}
	}
}

// graphFLOPs counts 2 × output elements × contracted length for each DotGeneral: a plain
// matmul and a batched one (attention's shape) give their textbook counts.
func TestGraphFLOPs(t *testing.T) {
	b, err := backend.Choose("go")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	g := graph.NewGraph(b, "count")
	defer g.Finalize()
	x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 3, 5))
	w := graph.Parameter(g, "w", shapes.Make(dtypes.Float32, 5, 7))
	graph.Dot(x, w).General([]int{1}, nil, []int{0}, nil) // [3, 7], contracting 5
	q := graph.Parameter(g, "q", shapes.Make(dtypes.Float32, 2, 4, 6, 8))
	k := graph.Parameter(g, "k", shapes.Make(dtypes.Float32, 2, 4, 10, 8))
	graph.Dot(q, k).General([]int{3}, []int{0, 1}, []int{3}, []int{0, 1}) // [2, 4, 6, 10], contracting 8
	got, err := graphFLOPs(g)
	if err != nil {
		t.Fatal(err)
	}
	want := 2.0*3*7*5 + 2.0*2*4*6*10*8
	if got != want {
		t.Fatalf("graphFLOPs = %g, want %g", got, want)
	}
}
