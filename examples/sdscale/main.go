// Command sdscale measures what Stable Diffusion at full size costs on this machine: the models
// built from their published config.json files with random weights (no download: the weights do
// not change the cost), each measurement in its own child process so that its peak memory is its
// own. For each it reports the wall time (the first call, which compiles, and the next), the peak
// resident memory (the process's VmHWM, after building the models and at the end), the analytic
// FLOPs (matmuls and convolutions, see flops.go) and the GFLOP/s achieved, as a Markdown table:
//
//	GOEXPERIMENT=simd go run ./examples/sdscale                     # SD-1.5 at 512 px, every phase
//	GOEXPERIMENT=simd go run ./examples/sdscale --model sd21-base --phases unet,vae
//	GOMLX_BACKEND=xla:cuda ./sdscale --sample-steps 50               # on a GPU (see scripts/gpu-check.sh)
//
// The phases:
//
//	text    the text encoder on a guided batch (prompt and negative prompt, 77 tokens)
//	unet    one U-Net forward on a guided batch (2 × 4 × size/8 × size/8 latents)
//	vae     the VAE encoding one size×size image and decoding its latents
//	sample  the pipeline drawing one image: --sample-steps guided U-Net steps, then decoding
//	align   ALIGN-base embedding 8 images and one prompt, as the reward scores a validation
//	        round (--align names another config)
//	rpo-lora  one RPO optimiser step (rpo.MeasureStep: one pair, the trained U-Net with LoRA
//	        rank 4 adapters and the same U-Net without them as the frozen model, AdamW), twice
//	rpo-full  the same as a full fine-tune: every U-Net weight trained, a frozen copy beside it
//	checkpoint  a full fine-tune's checkpoint (U-Net and AdamW's moments, ≈10 GB for SD-1.5)
//	        written as the trainer writes it (streamed, atomic) into --scratch, and read back
//
// --precision chooses the RPO steps' compute dtype (rpo.Config.Precision);
// --gradient-checkpointing (on by default) recomputes the trained U-Net's blocks in the
// backward pass (rpo.Config.GradientCheckpointing), which is what makes a 512 px step fit.
// --model is sd15, sd21-base, or a diffusers folder whose unet/, vae/ and text_encoder/
// config.json are read (the weights are not). Set GODEBUG=asyncpreemptoff=1 on the Go backend
// (see the README's Performance section).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/gorpo/gorpo/internal/backend"
)

// options are the command line's settings, passed on unchanged to the child processes.
type options struct {
	Model       string `json:"model"`
	Align       string `json:"align"`
	Size        int    `json:"size"`
	SampleSteps int    `json:"sample_steps"`
	Precision   string `json:"precision"`
	Checkpoint  bool   `json:"gradient_checkpointing"`
	Scratch     string `json:"scratch"`
	Seed        int64  `json:"seed"`
}

// result is one phase's measurements, written by the child as one JSON line.
type result struct {
	Phase       string  `json:"phase"`
	What        string  `json:"what"`
	Params      int64   `json:"params"`    // parameters of the models the phase built
	BuildSec    float64 `json:"build_s"`   // building the models (random initialisation)
	BuildRSS    int64   `json:"build_rss"` // VmHWM after building, bytes
	FirstSec    float64 `json:"first_s"`   // the first call: compilation included
	SteadySec   float64 `json:"steady_s"`  // the second call (0 when not run)
	PeakRSS     int64   `json:"peak_rss"`  // VmHWM at the end, bytes
	FLOPs       float64 `json:"flops"`     // analytic FLOPs of one call
	Note        string  `json:"note,omitempty"`
	Failed      string  `json:"failed,omitempty"` // why the child failed (set by the parent)
	GoMaxProcs  int     `json:"gomaxprocs"`
	BackendName string  `json:"backend"`
}

// phases is every phase in the order they run.
var phases = []string{"text", "unet", "vae", "sample", "align", "rpo-lora", "rpo-full", "checkpoint"}

// The child processes are this program again, told their phase and options by environment
// variables (so that a test binary can be the child too: see main_test.go's TestMain).
const (
	childEnv        = "SDSCALE_CHILD_PHASE"
	childOptionsEnv = "SDSCALE_CHILD_OPTIONS"
)

// childMain runs the phase the environment names, if any, and reports whether it did; the
// process then exits (with status 1 on error).
func childMain() bool {
	phase := os.Getenv(childEnv)
	if phase == "" {
		return false
	}
	var o options
	err := json.Unmarshal([]byte(os.Getenv(childOptionsEnv)), &o)
	if err == nil {
		err = runChild(phase, o, os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sdscale: %s: %v\n", phase, err)
		os.Exit(1)
	}
	return true
}

func main() {
	var o options
	flag.StringVar(&o.Model, "model", "sd15", "sd15, sd21-base, or a diffusers folder (its configs are read, not its weights)")
	flag.StringVar(&o.Align, "align", "align-base", "align-base, or an ALIGN checkpoint folder (its config.json is read)")
	flag.IntVar(&o.Size, "size", 512, "image side in pixels (latents are size/8)")
	flag.IntVar(&o.SampleSteps, "sample-steps", 50, "sampler steps of the sample phase")
	flag.Int64Var(&o.Seed, "seed", 1, "seed of the random weights and inputs")
	flag.StringVar(&o.Precision, "precision", "fp32", "compute dtype of the RPO steps: fp32, bf16 or fp16")
	flag.BoolVar(&o.Checkpoint, "gradient-checkpointing", true, "RPO steps recompute the trained U-Net's blocks in the backward pass instead of keeping their activations")
	flag.StringVar(&o.Scratch, "scratch", os.TempDir(), "folder for the checkpoint phase's files (removed after)")
	list := flag.String("phases", strings.Join(phases, ","), "comma-separated phases to run: "+strings.Join(phases, ", "))
	flag.Parse()

	if childMain() {
		return
	}
	want, err := parsePhases(*list)
	if err == nil {
		_, err = run(o, want, os.Stdout)
	}
	// The child's exit status for "killed" (the kernel's out-of-memory killer, usually) is
	// reported in the table; the parent still fails so that scripts notice.
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdscale:", err)
		os.Exit(1)
	}
}

// parsePhases checks a --phases list.
func parsePhases(list string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		known := false
		for _, k := range phases {
			known = known || k == p
		}
		if !known {
			return nil, fmt.Errorf("--phases: unknown phase %q, want some of %s", p, strings.Join(phases, ", "))
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("--phases: no phase given")
	}
	return out, nil
}

// run measures each phase in a child process (this program again) and prints the table.
func run(o options, want []string, w io.Writer) ([]result, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, err := backend.Default()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "sdscale: model %s, %d px, backend %s, %d cores (GOMAXPROCS), %s/%s\n\n",
		o.Model, o.Size, b.Name(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	var results []result
	failed := 0
	for _, phase := range want {
		start := time.Now()
		r, err := runPhase(self, phase, o)
		if err != nil {
			// One phase out of memory says what this machine cannot do; the others still tell.
			fmt.Fprintf(os.Stderr, "sdscale: %v\n", err)
			r = result{Phase: phase, Failed: err.Error()}
			failed++
		}
		fmt.Fprintf(os.Stderr, "sdscale: %s done in %s\n", phase, time.Since(start).Round(time.Second))
		results = append(results, r)
	}
	writeTable(w, results)
	if failed > 0 {
		return results, fmt.Errorf("%d of %d phases failed", failed, len(want))
	}
	return results, nil
}

// runPhase runs one phase in a child process and reads its result line.
func runPhase(self, phase string, o options) (result, error) {
	opts, err := json.Marshal(o)
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"="+phase, childOptionsEnv+"="+string(opts))
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("phase %s: %w", phase, err)
	}
	var r result
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte("{")) {
			if err := json.Unmarshal(line, &r); err != nil {
				return result{}, fmt.Errorf("phase %s: reading its result: %w", phase, err)
			}
		}
	}
	if r.Phase != phase {
		return result{}, fmt.Errorf("phase %s: the child wrote no result", phase)
	}
	return r, nil
}

// writeTable prints the results as a Markdown table.
func writeTable(w io.Writer, rs []result) {
	fmt.Fprintln(w, "| phase | what | parameters | build | RSS after build | first call (compiles) | next call | peak RSS | GFLOP | GFLOP/s |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		if r.Failed != "" {
			fmt.Fprintf(w, "| %s | failed: %s | | | | | | | | |\n", r.Phase, r.Failed)
			continue
		}
		steady, rate := "—", "—"
		sec := r.FirstSec
		if r.SteadySec > 0 {
			steady = fmt.Sprintf("%.1f s", r.SteadySec)
			sec = r.SteadySec
		}
		if r.FLOPs > 0 && sec > 0 {
			rate = fmt.Sprintf("%.1f", r.FLOPs/sec/1e9)
		}
		what := r.What
		if r.Note != "" {
			what += " (" + r.Note + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %.1fM | %.1f s | %s | %.1f s | %s | %s | %.1f | %s |\n",
			r.Phase, what, float64(r.Params)/1e6, r.BuildSec, gib(r.BuildRSS), r.FirstSec, steady, gib(r.PeakRSS),
			r.FLOPs/1e9, rate)
	}
}

// gib formats bytes as GiB.
func gib(n int64) string { return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30)) }
