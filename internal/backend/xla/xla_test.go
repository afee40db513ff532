package xla

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gorpo/gorpo/internal/backend"
)

// A missing XLA plugin must never trigger a download: one line says so and the Go backend runs.
func TestChooseXLAMissingPluginFallsBack(t *testing.T) {
	var buf bytes.Buffer
	old := backend.Warnings
	backend.Warnings = &buf
	defer func() { backend.Warnings = old }()
	b, err := backend.Choose("xla:/nonexistent/pjrt_plugin_missing.so")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if !strings.Contains(strings.ToLower(b.Name()), "go") {
		t.Fatalf("fallback backend is %q, want the Go backend", b.Name())
	}
	msg := buf.String()
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "no PJRT plugin at /nonexistent") ||
		!strings.Contains(msg, "Go backend") {
		t.Fatalf("warning = %q, want one line naming the missing plugin and the fallback", msg)
	}
}

// A plugin name that is not installed is refused before go-xla is asked (which would try to
// download its default plugins if auto-install were on).
func TestPluginMissingNamesThePlugin(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	why := pluginMissing("no_such_plugin")
	if why == "" {
		t.Skip("a PJRT plugin search path outside PJRT_PLUGIN_LIBRARY_PATH has a plugin of that name")
	}
	if !strings.Contains(why, "no_such_plugin") && !strings.Contains(why, "no PJRT plugin is installed") {
		t.Fatalf("pluginMissing(no_such_plugin) = %q, want it to name the plugin or say none is installed", why)
	}
}
