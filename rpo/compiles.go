package rpo

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
)

// Compilations. On XLA every graph costs a compilation (75–100 s for the toy U-Net's training
// step on an H200; minutes for Stable Diffusion's), and a graph.Exec (model.Exec) compiles one
// graph per distinct set of input shapes it is called with. A run keeps its shapes fixed (batch,
// prompt length, image size), so it should compile a small, fixed number of graphs however many
// steps and validations it takes; Result.Graphs counts them, so that a shape that changes from
// call to call (a last, smaller batch; a prompt batch of another size) shows.
//
// GoMLX v0.28.2 has no compilation hook, but every graph it builds is made by graph.NewGraph
// from graph.Exec, right before compiling it, and graph.Graph.GraphId is documented as a
// process-wide counter starting at 0. So the graphs built between two moments are the
// difference of two ids, less the probes that read them.

// GraphCounts are the graphs a run built and compiled, by phase: the image generation, VAE
// encoding, text encoding and reward scoring of the set-up; the training steps; and the
// validations (sampling, decoding and scoring). The counts are process-wide: a graph another
// goroutine compiled meanwhile (another Trainer, the embedder serving someone else) counts too.
type GraphCounts struct {
	SetUp      int `json:"setup"`
	Train      int `json:"train"`
	Validation int `json:"validation"`
}

// Total is the sum of the phases.
func (c GraphCounts) Total() int { return c.SetUp + c.Train + c.Validation }

// String reads "12 (set-up 9, training 1, validation 2)".
func (c GraphCounts) String() string {
	return fmt.Sprintf("%d (set-up %d, training %d, validation %d)", c.Total(), c.SetUp, c.Train, c.Validation)
}

// graphCounter reads how many graphs GoMLX built since its last read.
type graphCounter struct{ mark graph.GraphId }

// newGraphCounter starts counting now.
func newGraphCounter() *graphCounter { return &graphCounter{mark: probeGraphID()} }

// since returns the number of graphs built since the last call (or since newGraphCounter), and
// starts counting again.
func (c *graphCounter) since() int {
	id := probeGraphID()
	n := int(id-c.mark) - 1 // the probe of the previous read took an id of its own
	c.mark = id
	return n
}

// probeGraphID takes the next graph id: an empty graph that is never compiled (no backend, no
// nodes) and is finalised at once.
func probeGraphID() graph.GraphId {
	g := graph.NewGraph(nil, "gorpo:graph-counter")
	defer g.Finalize()
	return g.GraphId()
}
