//go:build !unix

package rpo

import (
	"errors"
	"os"
)

// Without flock the lock is advisory within this process only.
var errWouldBlock = errors.New("would block")

func lockFile(*os.File) error   { return nil }
func unlockFile(*os.File) error { return nil }
