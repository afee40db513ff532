package machine

import (
	"runtime"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	d := Describe("go")
	if !strings.HasPrefix(d, runtime.Version()) || !strings.HasSuffix(d, " cores, backend go") ||
		!strings.Contains(d, " "+runtime.GOOS+"/"+runtime.GOARCH+", ") {
		t.Errorf("Describe: %q", d)
	}
	t.Log(d)
}
