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
//   - The Go backend defaults to the "ops_sequential" configuration. compute v0.1.2 can deadlock
//     when it runs independent ops in parallel and several large AVX-512 matmuls wait for workers
//     that other waiting ops hold (seen with a toy U-Net training step at batch 32 under
//     GOEXPERIMENT=simd). Running ops one after another, each op still using all cores, avoids it
//     at no measurable cost for our graphs. An explicit GOMLX_BACKEND=go:... wins.
package backend

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/go-xla/pjrt"
)

// EnvVar is the environment variable that selects a backend (GoMLX's own name for it).
const EnvVar = compute.ConfigEnvVar

// DefaultGoConfig is the Go backend's configuration when GOMLX_BACKEND does not give one.
const DefaultGoConfig = "ops_sequential"

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
//     or an absolute path to a PJRT plugin .so. Auto-install is always disabled; if the plugin
//     cannot be found, a warning is printed to Warnings and the Go backend is returned.
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
	case xla.BackendName, "stablehlo", "hlo", "shlo":
		return chooseXLA(config, options)
	default:
		return nil, fmt.Errorf("backend: %s=%q: unknown backend %q, want \"go\" or \"xla:<plugin name or path>\"",
			EnvVar, config, name)
	}
}

// chooseXLA opens an XLA backend without ever downloading a plugin.
func chooseXLA(config, options string) (compute.Backend, error) {
	xla.EnableAutoInstall(false)
	plugin, _, _ := strings.Cut(options, ",")
	if why := pluginMissing(plugin); why != "" {
		fmt.Fprintf(Warnings, "gorpo: %s=%q: %s; set %s=xla:/abs/path/to/pjrt_plugin.so (or install one under "+
			"PJRT_PLUGIN_LIBRARY_PATH); using the Go backend instead\n", EnvVar, config, why, EnvVar)
		return Choose("")
	}
	b, err := xla.New(options)
	if err != nil {
		fmt.Fprintf(Warnings, "gorpo: %s=%q: XLA plugin failed to start (%v); using the Go backend instead\n",
			EnvVar, config, firstLine(err.Error()))
		return Choose("")
	}
	return b, nil
}

// pluginMissing says why the named plugin cannot be used, or "" if it can be tried.
func pluginMissing(plugin string) string {
	if filepath.IsAbs(plugin) {
		if _, err := os.Stat(plugin); err != nil {
			return fmt.Sprintf("no PJRT plugin at %s", plugin)
		}
		return ""
	}
	available := pjrt.AvailablePlugins()
	if len(available) == 0 {
		return "no PJRT plugin is installed"
	}
	if plugin == "" {
		return ""
	}
	for name := range available {
		if name == plugin || strings.HasPrefix(name, plugin+"_") {
			return ""
		}
	}
	return fmt.Sprintf("PJRT plugin %q is not installed", plugin)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
