package safetensors

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// mapAll makes Open map every file, whatever its size, for the duration of the test.
func mapAll(t *testing.T) {
	t.Helper()
	old := mapThreshold
	mapThreshold = 0
	t.Cleanup(func() { mapThreshold = old })
}

// A mapped file reads back what a read one does, its tensors stay readable after a conversion
// has handed their pages back, and Close leaves no dangling data behind.
func TestOpenMapped(t *testing.T) {
	mapAll(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "m.safetensors")
	ts := mixedTensors()
	if err := Write(p, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if canMap && f.unmap == nil {
		t.Fatal("Open did not map the file")
	}
	raw, _ := os.ReadFile(p)
	read, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" || strings.Join(f.Names(), ",") != strings.Join(read.Names(), ",") {
		t.Fatalf("mapped: metadata %v names %v", f.Metadata, f.Names())
	}
	for _, name := range f.Names() {
		a, _ := f.Tensor(name)
		b, _ := read.Tensor(name)
		for range 2 { // the second time through, after release
			if !bytes.Equal(a.Data, b.Data) || a.DType != b.DType || fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
				t.Fatalf("tensor %q differs when mapped", name)
			}
			if strings.HasPrefix(a.DType, "F") {
				if _, err := a.Float32(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	w, _ := f.Tensor("up_blocks.0.resnets.0.conv1.weight")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Float32(); err == nil || !strings.Contains(err.Error(), "0 bytes of data") {
		t.Fatalf("Float32 after Close: %v, want a data-length error", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Mapping does not loosen validation: every hostile header and corrupt file is refused through a
// mapped Open with the same error as by Parse, naming the file.
func TestOpenMappedRefusesHostileFiles(t *testing.T) {
	mapAll(t)
	dir := t.TempDir()
	files := map[string][]byte{
		"short":   {1, 2, 3},
		"empty":   {},
		"hugehdr": append([]byte{0, 0, 0, 0, 0, 1, 0, 0}, '{', '}'),
		"overlap": withHeader(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12),
		"gap":     withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8),
		"past":    withHeader(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8),
		"wraps":   withHeader(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}`, 0),
		"twice":   withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8),
	}
	for name, data := range files {
		p := filepath.Join(dir, name+".safetensors")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(p)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
			continue
		}
		if _, perr := Parse(data); perr == nil || !strings.Contains(err.Error(), perr.Error()) {
			t.Errorf("%s: mapped error %q, Parse's %v", name, err, perr)
		}
	}
}

// Loading a mapped file as weights.Bind does (a NaN scan of every tensor, then every tensor
// converted and kept) leaves the file's pages out of the resident set: without the release
// after each read, the 64 MB file would be resident on top of its 64 MB of converted values.
func TestOpenMappedReleasesPages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pages are released on Linux only")
	}
	mapAll(t)
	p := filepath.Join(t.TempDir(), "big.safetensors")
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i % 61)
	}
	var srcs []Source
	for i := range 16 {
		srcs = append(srcs, Source{Name: fmt.Sprintf("t%02d", i), DType: "F32", Shape: []int{1 << 20},
			WriteData: func(w io.Writer) error { _, err := w.Write(data); return err }})
	}
	if err := WriteSources(p, srcs, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := rssFileKB(t)
	if bad := f.NonFinite(); len(bad) != 0 {
		t.Fatalf("NonFinite: %v", bad)
	}
	var kept [][]float32
	for _, name := range f.Names() {
		v, _, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, v)
	}
	grew := rssFileKB(t) - before
	t.Logf("file-backed resident memory grew by %d KB reading a 64 MB file", grew)
	if grew > 16<<10 {
		t.Errorf("file-backed resident memory grew by %d MB reading a 64 MB mapped file, want under 16 MB (pages not released after reading)", grew>>10)
	}
	if len(kept) != 16 || kept[15][1] != kept[0][1] || kept[15][1] == 0 {
		t.Fatalf("converted values: %d tensors", len(kept))
	}
}

// rssFileKB is the process's resident file-backed memory (RssFile in /proc/self/status).
func rssFileKB(t *testing.T) int {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("RssFile %q: %v", v, err)
			}
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}
