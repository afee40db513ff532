package clip

import (
	"sync"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/hostexec"
)

// Runner executes graphs over a loaded store's variables: one hostexec.Exec per key (each
// compiling once per input shape), run one at a time (each run already uses every core).
// It is safe for concurrent use. The encoders of diffusion and align run through it.
type Runner struct {
	backend compute.Backend
	store   *model.Store
	mu      sync.Mutex
	execs   map[string]*hostexec.Exec
}

// NewRunner returns a Runner over store on backend.
func NewRunner(backend compute.Backend, store *model.Store) *Runner {
	return &Runner{backend: backend, store: store, execs: map[string]*hostexec.Exec{}}
}

// Store is the store whose variables the graphs read.
func (r *Runner) Store() *model.Store { return r.store }

// Backend is the backend the graphs run on.
func (r *Runner) Backend() compute.Backend { return r.backend }

// Run executes build over inputs. key names the graph: calls with the same key must pass the same
// build function (the first one is kept). A graph-building panic comes back as an error.
func (r *Runner) Run(key string, build func(scope *model.Scope, inputs []*Node) []*Node, inputs ...*tensors.Tensor) ([]*tensors.Tensor, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	exec, ok := r.execs[key]
	if !ok {
		exec = hostexec.New(r.backend, r.store, key, build)
		r.execs[key] = exec
	}
	args := make([]any, len(inputs))
	for i, t := range inputs {
		args[i] = t
	}
	return exec.Call(args...)
}

// Rows splits a float32 tensor [n, d] into n rows of d values.
func Rows(t *tensors.Tensor) [][]float32 {
	flat := tensors.MustCopyFlatData[float32](t)
	n := t.Shape().Dim(0)
	d := 0
	if n > 0 {
		d = len(flat) / n
	}
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	return rows
}

// Finalize releases the compiled graphs; the Runner compiles again if used afterwards.
func (r *Runner) Finalize() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.execs {
		e.Finalize()
		delete(r.execs, k)
	}
}
