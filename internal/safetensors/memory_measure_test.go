package safetensors

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// TestMeasureLoadMemory is a measurement, not a check: it skips unless asked. It is how Open's
// mapping was chosen (issue 14), and reruns it:
//
//	go test -c -o /tmp/st.test ./internal/safetensors
//	GORPO_RSS_MAKE=/tmp/rss400.safetensors /tmp/st.test -test.run TestMeasureLoadMemory
//	for m in read mmap evict; do
//	  GORPO_RSS_MODE=$m GORPO_RSS_LOAD=/tmp/rss400.safetensors /usr/bin/time -f "$m %e s %M KB" \
//	    /tmp/st.test -test.run TestMeasureLoadMemory
//	done
//
// GORPO_RSS_MAKE writes a 400 MB file of 100 F32 tensors. GORPO_RSS_LOAD opens one and loads it
// as weights.Bind does (a NaN scan of every tensor, then every tensor converted to float32 and
// kept, standing for the model's variables), then prints the process's peak and current
// resident memory. GORPO_RSS_MODE: read (os.ReadFile, the old Open), mmap (mapped, pages kept),
// evict (mapped, pages released after each read: Open as it is).
func TestMeasureLoadMemory(t *testing.T) {
	if p := os.Getenv("GORPO_RSS_MAKE"); p != "" {
		data := make([]byte, 4<<20)
		for i := range data {
			data[i] = byte(i % 61) // finite floats
		}
		var srcs []Source
		for i := range 100 {
			srcs = append(srcs, Source{Name: fmt.Sprintf("t%03d", i), DType: "F32", Shape: []int{1 << 20},
				WriteData: func(w io.Writer) error { _, err := w.Write(data); return err }})
		}
		if err := WriteSources(p, srcs, nil); err != nil {
			t.Fatal(err)
		}
		return
	}
	p := os.Getenv("GORPO_RSS_LOAD")
	if p == "" {
		t.Skip("a measurement: set GORPO_RSS_MAKE or GORPO_RSS_LOAD (see the comment)")
	}
	mode := os.Getenv("GORPO_RSS_MODE")
	switch mode {
	case "read":
		mapThreshold = 1 << 62
	case "mmap":
		mapThreshold, evictAfterRead = 0, false
	case "evict", "":
		mode, mapThreshold = "evict", 0
	default:
		t.Fatalf("GORPO_RSS_MODE %q, want read, mmap or evict", mode)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if bad := f.NonFinite(); len(bad) > 0 {
		t.Fatalf("non-finite values: %v", bad)
	}
	var kept [][]float32
	for _, n := range f.Names() {
		v, _, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, v)
	}
	status, _ := os.ReadFile("/proc/self/status")
	var fields []string
	for _, line := range strings.Split(string(status), "\n") {
		for _, k := range []string{"VmHWM", "VmRSS", "RssAnon", "RssFile"} {
			if strings.HasPrefix(line, k+":") {
				fields = append(fields, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	fmt.Printf("%s: %d tensors loaded; %s\n", mode, len(kept), strings.Join(fields, ", "))
}
