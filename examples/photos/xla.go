package main

// GOMLX_BACKEND=xla:cuda (or xla:/abs/path/to/pjrt_plugin.so) runs this program on XLA; gorpo's
// packages link XLA only into the programs that import this.
import _ "github.com/gorpo/gorpo/rpo/xla"
