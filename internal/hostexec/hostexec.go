// Package hostexec runs GoMLX graphs over a model.Store for host code: the one place where gorpo
// wraps model.Exec for callers that pass tensors in and read tensors back (the encoders'
// clip.Runner, the U-Net's Predict, the VAE's Encode and Decode, ALIGN's features, the RPO
// training step, the toy judge).
//
// An Exec owns three things those callers would otherwise each write:
//
//   - Lazy compilation. Nothing is built until the first Call; model.Exec then compiles once per
//     distinct set of input shapes and reuses the graph after. Finalize releases the compiled
//     graphs, and a later Call compiles again (with whatever the build function reads then:
//     a new compute dtype, a new attention hook).
//   - Panics as errors. GoMLX reports graph-building and execution failures by panicking; Call
//     returns them as errors prefixed with the graph's name. A build function that panics with
//     something other than an error (panic("...")) has it turned into one first: GoMLX v0.28.2's
//     graph.Exec catches only error panics while building, and any other one leaves its
//     compilation pending for good, so that the next Call with those shapes, and Finalize, wait
//     forever.
//   - A workaround for a bug of the Go backend (gomlx/compute v0.1.2). It sizes an execution's
//     per-node results by the index of the last output node, but sets every parameter into that
//     table; model.Exec feeds each variable a graph reads as a parameter, created where the graph
//     first reads it. So a variable first read after the last output was computed (the final
//     layer norm when only an earlier layer's output is wanted) makes Execute index out of
//     range. Every graph therefore gets one more output, a tiny Iota created last, so that
//     every parameter's index is in range; Call drops it from the results. Dead nodes still do
//     not run, so the cost is one int32.
//
// An Exec is not safe for concurrent use: every caller already serialises its calls with a mutex
// of its own (which also guards the state the build function reads), so this package adds none.
package hostexec

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Exec runs one graph, built by a build function, over a Store's variables.
type Exec struct {
	backend compute.Backend
	store   *model.Store
	name    string
	build   func(scope *model.Scope, inputs []*graph.Node) []*graph.Node
	exec    *model.Exec // nil until the first Call, and after Finalize
}

// New returns an Exec that builds its graph with build over store's variables (scope is the
// store's root scope) on backend. name names the graph (GoMLX's name for it) and prefixes Call's
// errors. Nothing is compiled until the first Call.
func New(backend compute.Backend, store *model.Store, name string, build func(scope *model.Scope, inputs []*graph.Node) []*graph.Node) *Exec {
	return &Exec{backend: backend, store: store, name: name, build: build}
}

// Call runs the graph on inputs (tensors or Go values, as model.Exec.Call takes them), compiling
// it first for a new set of input shapes, and returns build's outputs. A panic while building or
// running the graph comes back as an error naming the graph.
func (e *Exec) Call(inputs ...any) (outs []*tensors.Tensor, err error) {
	defer func() {
		if p := recover(); p != nil {
			outs = nil
			if pe, ok := p.(error); ok {
				err = fmt.Errorf("%s: %w", e.name, pe)
			} else {
				err = fmt.Errorf("%s: %v", e.name, p)
			}
		}
	}()
	if e.exec == nil {
		exec, err := model.NewExec(e.backend, e.store, e.withTrailingNode)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
		e.exec = exec.WithName(e.name)
	}
	outs, err = e.exec.Call(inputs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.name, err)
	}
	if n := len(outs); n > 0 { // the trailing node, when there was a graph to add it to
		_ = outs[n-1].FinalizeAll()
		outs = outs[:n-1]
	}
	return outs, nil
}

// withTrailingNode is build with the Go backend's workaround (see the package doc): one output
// more, created after every node build made. A panic that is not an error becomes one.
func (e *Exec) withTrailingNode(scope *model.Scope, inputs []*graph.Node) []*graph.Node {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(error); ok {
				panic(p)
			}
			panic(fmt.Errorf("%v", p))
		}
	}()
	outs := e.build(scope, inputs)
	var g *graph.Graph
	switch {
	case len(outs) > 0:
		g = outs[0].Graph()
	case len(inputs) > 0:
		g = inputs[0].Graph()
	default:
		return outs // no inputs, no outputs: nothing to add it to, and no trailing output to drop
	}
	return append(outs, graph.Iota(g, shapes.Make(dtypes.Int32, 1), 0))
}

// Finalize releases the compiled graphs; a later Call compiles again. It does nothing when
// nothing was compiled, and may be called more than once.
func (e *Exec) Finalize() {
	if e.exec != nil {
		e.exec.Finalize()
		e.exec = nil
	}
}
