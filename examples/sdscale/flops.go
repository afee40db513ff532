package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
)

// Analytic FLOPs. Every matmul-like operation of the models (Linear, the convolutions, which
// the Go backend formulates as patches times weights, and attention's two products) is a
// DotGeneral node once the graph is built, so a model's FLOPs at given shapes are the sum over
// its DotGeneral nodes of 2 × output elements × contracted length. Element-wise work (norms,
// activations, softmax) is left out, as FLOP counts of these models usually do. The graph is
// only built, never compiled or run, on the Go backend (whose formulation is all DotGeneral),
// whatever backend runs the measurements.

// contractingAxes reads a DotGeneral node's lhs contracting axes from its description: GoMLX
// keeps them private ("introspection is limited by design") but prints them.
var contractingAxes = regexp.MustCompile(`lhsContractingAxes=\[([0-9 ]*)\]`)

// graphFLOPs is the FLOPs of g's DotGeneral nodes.
func graphFLOPs(g *graph.Graph) (float64, error) {
	var total float64
	for _, n := range g.Nodes() {
		if n.Type() != graph.NodeTypeDotGeneral {
			continue
		}
		m := contractingAxes.FindStringSubmatch(n.String())
		if m == nil || len(n.Inputs()) < 1 {
			return 0, fmt.Errorf("flops: cannot read the contracting axes of %s", n)
		}
		lhs := n.Inputs()[0].Shape()
		k := 1
		for _, f := range strings.Fields(m[1]) {
			axis, err := strconv.Atoi(f)
			if err != nil || axis < 0 || axis >= lhs.Rank() {
				return 0, fmt.Errorf("flops: contracting axis %q of %s", f, n)
			}
			k *= lhs.Dimensions[axis]
		}
		total += 2 * float64(n.Shape().Size()) * float64(k)
	}
	return total, nil
}

// forwardFLOPs builds build over parameters of the given shapes on a throw-away Go-backend
// graph, with store's variables (which must exist), and counts its FLOPs.
func forwardFLOPs(store *model.Store, build func(scope *model.Scope, in []*graph.Node), inputs ...shapes.Shape) (flops float64, err error) {
	b, err := backend.Choose("go")
	if err != nil {
		return 0, err
	}
	defer b.Finalize()
	g := graph.NewGraph(b, "flops")
	defer g.Finalize()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("flops: building the graph: %v", r)
		}
	}()
	nodes := make([]*graph.Node, len(inputs))
	for i, s := range inputs {
		nodes[i] = graph.Parameter(g, fmt.Sprintf("input_%d", i), s)
	}
	build(store.RootScope(), nodes)
	return graphFLOPs(g)
}
