package gorpo_test

import (
	"fmt"
	"log"

	"github.com/gorpo/gorpo"
)

// A backend chosen in code, for models loaded with diffusion.WithBackend or align.WithBackend.
func ExampleNewBackend() {
	b, err := gorpo.NewBackend("go")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Finalize()
	fmt.Println(b.Name())
	// Output: Go Backend
}
