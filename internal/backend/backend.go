// Package backend chooses the GoMLX compute backend every gorpo program and test uses.
//
// The default is GoMLX's pure-Go backend, so everything runs on a fresh machine with no
// download. The environment variable GOMLX_BACKEND selects another one: "xla:cuda",
// "xla:/abs/path/to/pjrt_plugin.so", or a Go backend with explicit options ("go:parallelism=2").
//
// Two things differ from GoMLX's own compute.New:
//
//   - No program ever tries to download a PJRT plugin. When XLA is asked for and no plugin is
//     installed, one line on stderr says so and how to point at one, and the Go backend is used.
//   - XLA is linked only into programs that ask for it, by importing package
//     github.com/gorpo/gorpo/rpo/xla (or, inside this module, internal/backend/xla), which
//     registers it here with RegisterXLA. GoMLX's XLA package brings cgo and go-xla's plugin
//     installer (net/http, archive readers, golang.org/x/term) with it, so the packages that
//     choose a backend through this one (rpo, diffusion, align) build without cgo and link
//     none of it. A program without the link that asks for XLA is told so in one line and
//     runs on the Go backend.
//   - The Go backend defaults to the "ops_sequential" configuration. compute v0.1.2 can deadlock
//     when it runs independent ops in parallel and several large AVX-512 matmuls wait for workers
//     that other waiting ops hold (seen with a toy U-Net training step at batch 32 under
//     GOEXPERIMENT=simd). Running ops one after another, each op still using all cores, avoids it
//     at no measurable cost for our graphs. It also runs them in the order the graph built them
//     ("creation_order") rather than the backend's default order (the ops with the longest path
//     to an output first): that default puts each weight gradient, whose only consumer is the
//     optimiser's update at the end, after the whole backward pass, so every layer's input and
//     output gradient waited there for it. In creation order a weight gradient runs when the
//     backward pass reaches its layer, as autodiff built it, and those buffers go at once: the
//     full fine-tune step of a fifth-width SD-1.5 U-Net at 256 px peaked at 1.04 GiB instead of
//     1.33 (README, "Stable Diffusion at full size"). An explicit GOMLX_BACKEND=go:... wins.
package backend

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// EnvVar is the environment variable that selects a backend (GoMLX's own name for it).
const EnvVar = compute.ConfigEnvVar

// DefaultGoConfig is the Go backend's configuration when GOMLX_BACKEND does not give one.
const DefaultGoConfig = "ops_sequential,creation_order"

// Warnings receives the one-line notices about falling back to the Go backend.
// Tests may redirect it.
var Warnings io.Writer = os.Stderr

var (
	sharedOnce    sync.Once
	sharedBackend compute.Backend
	sharedErr     error
)

// Default returns the process-wide backend chosen by Choose(os.Getenv(GOMLX_BACKEND)),
// created on first use and shared afterwards (backends hold worker pools and device clients,
// so programs and tests use one).
func Default() (compute.Backend, error) {
	sharedOnce.Do(func() {
		sharedBackend, sharedErr = Choose(os.Getenv(EnvVar))
	})
	return sharedBackend, sharedErr
}

// MustDefault is Default for programs and tests that cannot continue without a backend.
func MustDefault() compute.Backend {
	b, err := Default()
	if err != nil {
		panic(err)
	}
	return b
}

// Choose creates a backend for a GOMLX_BACKEND-style configuration "<name>[:<options>]".
//
//   - "" or "go": the Go backend with DefaultGoConfig.
//   - "go:<options>": the Go backend with exactly those options.
//   - "xla:<plugin>" (also "stablehlo", "hlo", "shlo"): XLA with a plugin name ("cuda", "cpu")
//     or an absolute path to a PJRT plugin .so, opened by the program's XLA link (RegisterXLA).
//     Auto-install is always disabled; if the program does not link XLA or the plugin cannot
//     be found, a warning is printed to Warnings and the Go backend is returned.
//
// Any other backend name is an error.
func Choose(config string) (compute.Backend, error) {
	name, options, _ := strings.Cut(strings.TrimSpace(config), ":")
	switch name {
	case "", gobackend.BackendName:
		if name == "" || options == "" {
			options = DefaultGoConfig
		}
		b, err := gobackend.New(options)
		if err != nil {
			return nil, fmt.Errorf("backend: %s=%q: %w", EnvVar, config, err)
		}
		return b, nil
	case XLAName, "stablehlo", "hlo", "shlo":
		return chooseXLA(config, options)
	default:
		return nil, fmt.Errorf("backend: %s=%q: unknown backend %q, want \"go\" or \"xla:<plugin name or path>\"",
			EnvVar, config, name)
	}
}

// XLAName is GoMLX's name for the XLA backend; "stablehlo", "hlo" and "shlo" are its aliases.
const XLAName = "xla"

// LinkXLA is the import that links XLA into a program, for the message to programs without it.
const LinkXLA = `import _ "github.com/gorpo/gorpo/rpo/xla"`

var (
	xlaMu   sync.Mutex
	openXLA func(options string) (compute.Backend, error)
)

// RegisterXLA makes open the way "xla:<options>" configurations are opened (options: a plugin
// name or absolute path, then ","-separated backend options). Package internal/backend/xla
// calls it from its init. open must never download a plugin; its error is shown to the user
// as the reason for falling back to the Go backend, so it says what was missing.
func RegisterXLA(open func(options string) (compute.Backend, error)) {
	xlaMu.Lock()
	defer xlaMu.Unlock()
	openXLA = open
}

// chooseXLA opens an XLA backend through the registered opener, or falls back to the Go
// backend with one line on Warnings saying why.
func chooseXLA(config, options string) (compute.Backend, error) {
	xlaMu.Lock()
	open := openXLA
	xlaMu.Unlock()
	if open == nil {
		fmt.Fprintf(Warnings, "gorpo: %s=%q: this program does not link the XLA backend (add %s to its main package); "+
			"using the Go backend instead\n", EnvVar, config, LinkXLA)
		return Choose("")
	}
	b, err := open(options)
	if err != nil {
		fmt.Fprintf(Warnings, "gorpo: %s=%q: %s; using the Go backend instead\n", EnvVar, config, firstLine(err.Error()))
		return Choose("")
	}
	return b, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
