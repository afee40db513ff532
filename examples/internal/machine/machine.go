// Package machine describes where a training program ran, for the records the toy world's shipped
// models keep beside their weights (judge.json, TRAINING.md): a run repeats bit for bit only on
// the same Go, GOEXPERIMENT, platform and backend.
package machine

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Describe returns the Go version, the GOEXPERIMENT the program was built with (when any), the
// platform, the cores in use and backendName: "go1.26.0 GOEXPERIMENT=simd linux/amd64, 2 cores,
// backend go".
func Describe(backendName string) string {
	exp := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOEXPERIMENT" {
				exp = " GOEXPERIMENT=" + s.Value
			}
		}
	}
	return fmt.Sprintf("%s%s %s/%s, %d cores, backend %s", runtime.Version(), exp, runtime.GOOS, runtime.GOARCH,
		runtime.GOMAXPROCS(0), backendName)
}
