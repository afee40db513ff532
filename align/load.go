package align

import (
	"github.com/gomlx/compute"

	"github.com/gorpo/gorpo/internal/backend"
)

// LoadOption adjusts LoadALIGN, LoadCLIP and LoadDINO (and their FS forms).
type LoadOption func(*loadOptions)

type loadOptions struct {
	backend compute.Backend // nil: the default backend
}

// WithBackend makes the loaders put the model on b and run it there, instead of on the default
// backend (chosen once per process by GOMLX_BACKEND; see gorpo.DefaultBackend): a judge can so
// run on the CPU beside a model trained on a GPU. The model's Backend method returns b; the
// caller owns b and must not finalize it while the model is in use. A nil b means the default.
func WithBackend(b compute.Backend) LoadOption {
	return func(o *loadOptions) { o.backend = b }
}

// loadBackend returns the backend opts name, else the default one.
func loadBackend(opts []LoadOption) (compute.Backend, error) {
	var o loadOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.backend != nil {
		return o.backend, nil
	}
	return backend.Default()
}
