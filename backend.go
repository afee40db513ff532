package gorpo

import (
	"github.com/gomlx/compute"

	"github.com/gorpo/gorpo/internal/backend"
)

// DefaultBackend returns the backend a loader puts a model on when it is not given one
// (diffusion.WithBackend, align.WithBackend): GoMLX's pure-Go backend, or what the environment
// variable GOMLX_BACKEND names ("xla:cuda", "go:parallelism=4"), created on first use and then
// shared by the whole process. A Trainer runs on the backend of the pipeline it trains.
func DefaultBackend() (compute.Backend, error) { return backend.Default() }

// NewBackend creates a backend from a GOMLX_BACKEND-style configuration, "<name>[:<options>]",
// for a program that chooses in code rather than through the environment, or runs two models on
// two backends:
//
//   - "" or "go": GoMLX's Go backend, with ops run one after another (each op still uses every
//     core), which avoids a deadlock of the backend's parallel scheduler on large graphs.
//   - "go:<options>": the Go backend with exactly those options.
//   - "xla:<plugin>": XLA with a PJRT plugin name ("cuda", "cpu") or an absolute path to a
//     plugin .so, in a program that imports github.com/gorpo/gorpo/rpo/xla. No plugin is ever
//     downloaded: when XLA is not linked or the plugin is missing, one line on stderr says so
//     and the Go backend is returned.
//
// Any other name is an error. Unlike DefaultBackend, every call creates a new backend, which the
// caller finalizes (compute.Backend.Finalize) once no model on it is in use.
//
//	gpu, err := gorpo.NewBackend("xla:cuda")
//	...
//	pipe, err := diffusion.LoadPipeline(dir, diffusion.WithBackend(gpu))
func NewBackend(config string) (compute.Backend, error) { return backend.Choose(config) }
