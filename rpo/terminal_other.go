//go:build !linux && !darwin

package rpo

import "os"

// isTerminal reports whether f is a character device, the closest the standard library comes
// to a terminal test on this system.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// terminalWidth returns 0: unknown here, so the progress bar is not cut to a width.
func terminalWidth(f *os.File) int { return 0 }
