package hostexec_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/hostexec"
)

// lateRead is a graph whose only output is computed before a variable is first read: x + a,
// then a read of b that no output uses (as when only an earlier layer's output is wanted and
// the final layer norm is still built). b's parameter node comes after the output, which is
// what the Go backend of compute v0.1.2 cannot run without the trailing node.
func lateRead(scope *model.Scope, in []*Node) []*Node {
	out := Add(in[0], scope.VariableWithValue("a", []float32{10, 20}).NodeValue(in[0]))
	scope.VariableWithValue("b", []float32{1, 2}).NodeValue(in[0])
	return []*Node{out}
}

func newExec(t *testing.T, name string, build func(*model.Scope, []*Node) []*Node) *hostexec.Exec {
	t.Helper()
	b, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	t.Cleanup(store.Finalize)
	e := hostexec.New(b, store, name, build)
	t.Cleanup(e.Finalize)
	return e
}

// A variable read after the last output runs, and Call returns build's outputs only (the
// trailing node is dropped), on the first call and on the cached graph.
func TestVariableReadAfterLastOutput(t *testing.T) {
	e := newExec(t, "late read", lateRead)
	for i := range 2 {
		outs, err := e.Call(tensors.FromValue([]float32{1, 2}))
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if len(outs) != 1 {
			t.Fatalf("call %d: %d outputs, want 1 (the trailing node dropped)", i, len(outs))
		}
		got := tensors.MustCopyFlatData[float32](outs[0])
		outs[0].MustFinalizeAll()
		if want := []float32{11, 22}; !slices.Equal(got, want) {
			t.Fatalf("call %d: %v, want %v", i, got, want)
		}
	}
}

// A panic inside build comes back as an error naming the graph and saying what panicked, on
// every Call; and Finalize afterwards returns. The panic is a string on purpose: GoMLX v0.28.2
// catches only error panics while building, and any other one would leave the compilation
// pending, so that the second Call and Finalize would wait forever.
func TestBuildPanicIsError(t *testing.T) {
	b, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	defer store.Finalize()
	e := hostexec.New(b, store, "broken graph", func(scope *model.Scope, in []*Node) []*Node {
		panic("no such layer")
	})
	for i := range 2 {
		var outs []*tensors.Tensor
		within(t, fmt.Sprintf("call %d", i), func() { outs, err = e.Call(tensors.FromValue([]float32{1, 2})) })
		if err == nil || outs != nil {
			t.Fatalf("call %d = %v, %v; want no outputs and an error", i, outs, err)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "broken graph: ") || !strings.Contains(msg, "no such layer") {
			t.Fatalf("call %d: error %q, want one starting with the graph's name and saying what panicked", i, msg)
		}
	}
	within(t, "Finalize", e.Finalize)
}

// within runs f and fails the test if it has not returned within a minute (leaving it running).
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s still running after a minute", what)
	}
}

// Finalize before any Call, and twice, is fine; a Call after Finalize compiles again.
func TestFinalize(t *testing.T) {
	e := newExec(t, "late read", lateRead)
	e.Finalize()
	e.Finalize()
	outs, err := e.Call(tensors.FromValue([]float32{0, 0}))
	if err != nil {
		t.Fatal(err)
	}
	outs[0].MustFinalizeAll()
	e.Finalize()
	e.Finalize()
	if _, err := e.Call(tensors.FromValue([]float32{0, 0})); err != nil {
		t.Fatalf("Call after Finalize: %v", err)
	}
}
