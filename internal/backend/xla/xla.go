// Package xla links GoMLX's XLA backend (github.com/gomlx/go-xla) into a program: importing it
// registers with package backend the opener that GOMLX_BACKEND=xla:<plugin> uses. Programs
// outside this module import the public github.com/gorpo/gorpo/rpo/xla, which imports this one.
//
// It lives apart from package backend because go-xla's backend package needs cgo and brings
// go-xla's plugin installer (net/http, archive readers, golang.org/x/term); gorpo never lets it
// download a plugin, so a program that does not want XLA should not link it.
package xla

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	goxla "github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/go-xla/pjrt"

	"github.com/gorpo/gorpo/internal/backend"
)

func init() {
	backend.RegisterXLA(open)
}

// open opens XLA with options ("<plugin name or absolute path>[,<backend options>]") without
// ever downloading a plugin: a plugin that is not installed is an error saying which and how
// to point at one.
func open(options string) (compute.Backend, error) {
	goxla.EnableAutoInstall(false)
	plugin, _, _ := strings.Cut(options, ",")
	if why := pluginMissing(plugin); why != "" {
		return nil, fmt.Errorf("%s; set %s=xla:/abs/path/to/pjrt_plugin.so (or install one under PJRT_PLUGIN_LIBRARY_PATH)",
			why, backend.EnvVar)
	}
	b, err := goxla.New(options)
	if err != nil {
		line, _, _ := strings.Cut(err.Error(), "\n")
		return nil, fmt.Errorf("XLA plugin failed to start (%s)", line)
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
