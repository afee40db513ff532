// Package xla links GoMLX's XLA backend into a program that uses gorpo, so that
// GOMLX_BACKEND=xla:cuda (or xla:/abs/path/to/pjrt_plugin.so) runs its models on XLA:
//
//	import _ "github.com/gorpo/gorpo/rpo/xla"
//
// in the program's main package. Without it the program links neither cgo nor go-xla's plugin
// installer, and a GOMLX_BACKEND that asks for XLA gets one line on stderr saying the link is
// missing and runs on the Go backend. With it, a plugin that is not installed gets the same one
// line naming the plugin; gorpo never downloads one.
//
// This is GoMLX's own convention (a backend is linked by importing its package) with gorpo's
// rule that no plugin is ever downloaded at run time.
package xla

import _ "github.com/gorpo/gorpo/internal/backend/xla" // registers the opener with internal/backend
