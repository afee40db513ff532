package backend

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
)

func TestChooseDefaultIsGo(t *testing.T) {
	b, err := Choose("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if b.Name() != "go" && !strings.Contains(strings.ToLower(b.Name()), "go") {
		t.Fatalf("default backend is %q, want the Go backend", b.Name())
	}
}

// The default Go backend runs ops one at a time in the order the graph built them (see the
// package doc for why). compute keeps the two settings in fields of a type from its internal
// package, read here by name, and compares them with a backend given those options explicitly
// and with the backend's own default (which differs in both): if compute renames the fields this
// test fails, and the options want checking again.
func TestChooseDefaultSchedule(t *testing.T) {
	settings := func(b compute.Backend, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		defer b.Finalize()
		v := reflect.Indirect(reflect.ValueOf(b))
		var parts []string
		for _, field := range []string{"OpsExecutionType", "SchedulingStrategy"} {
			fv := v.FieldByName(field)
			if !fv.IsValid() {
				t.Fatalf("the Go backend (%T) has no field %s any more", b, field)
			}
			parts = append(parts, fmt.Sprintf("%s=%v", field, fv.Interface()))
		}
		return strings.Join(parts, " ")
	}
	def := settings(Choose(""))
	explicit := settings(Choose("go:ops_sequential,creation_order"))
	own := settings(gobackend.New("")) // The backend's own defaults, without DefaultGoConfig.
	if def != explicit {
		t.Errorf("default Go backend: %s, want %s (ops_sequential,creation_order)", def, explicit)
	}
	for _, field := range strings.Fields(own) {
		if strings.Contains(def, field) {
			t.Errorf("default Go backend: %s, the same %s as compute's own default (%s)", def, field, own)
		}
	}
}

func TestChooseUnknown(t *testing.T) {
	_, err := Choose("tpu-magic")
	if err == nil || !strings.Contains(err.Error(), "unknown backend") {
		t.Fatalf("Choose(tpu-magic): err=%v, want an unknown-backend error", err)
	}
	_, err = Choose("go:no_such_option")
	if err == nil {
		t.Fatal("Choose(go:no_such_option) gave no error")
	}
}

// Without the XLA link (this test binary does not import internal/backend/xla) a request for
// XLA says in one line how to link it, and the Go backend runs.
func TestChooseXLAUnlinkedFallsBack(t *testing.T) {
	var buf bytes.Buffer
	old := Warnings
	Warnings = &buf
	defer func() { Warnings = old }()
	b, err := Choose("xla:cuda")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if !strings.Contains(strings.ToLower(b.Name()), "go") {
		t.Fatalf("fallback backend is %q, want the Go backend", b.Name())
	}
	msg := buf.String()
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "does not link the XLA backend") ||
		!strings.Contains(msg, LinkXLA) || !strings.Contains(msg, "Go backend") {
		t.Fatalf("warning = %q, want one line saying XLA is not linked, how to link it, and the fallback", msg)
	}
}

// TestNoDeadlockParallelMatmuls guards against the compute v0.1.2 Go-backend deadlock: several
// independent large matmuls in one graph, each saturating the worker pool. It must finish on the
// default backend well within the timeout (it takes well under a second). With the backend's own
// default scheduling ("go:ops_parallel") this very graph hung in the first of three runs here
// (GOEXPERIMENT=simd, 2 cores), so it is a real reproduction, run five times over.
func TestNoDeadlockParallelMatmuls(t *testing.T) {
	b, err := Choose("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	const branches, n = 8, 384
	exec, err := NewExec(b, func(x *Node) *Node {
		var sum *Node
		for i := range branches {
			w := Add(x, Scalar(x.Graph(), dtypes.Float32, float64(i)))
			y := Dot(x, w).Product() // independent matmuls, each large enough to use every worker
			y = Dot(y, x).Product()
			if sum == nil {
				sum = ReduceAllSum(y)
			} else {
				sum = Add(sum, ReduceAllSum(y))
			}
		}
		return sum
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for range 5 {
			if _, err := exec.Call(make2D(n)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("graph of parallel matmuls did not finish 5 runs in 3 minutes: the Go backend deadlocked")
	}
}

func make2D(n int) [][]float32 {
	m := make([][]float32, n)
	for i := range m {
		m[i] = make([]float32, n)
		for j := range m[i] {
			m[i][j] = float32((i*7+j*3)%11) / 11
		}
	}
	return m
}
