package rpo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gorpo/gorpo/internal/safetensors"
)

// metrics.jsonl holds one JSON object per line: one per optimiser step and one per validation,
// each written whole and unbuffered as it happens, so a killed run loses at most the line being
// written. Non-finite numbers (a diverged loss) are written as the strings "NaN", "+Inf", "-Inf".
//
//	{"kind":"step","step":12,"time":"…","losses":{"l_pre":0.69,"l_sim":0.11,"loss":0.80,…},"lr":5e-06,"grad_norm":0.42}
//	{"kind":"validation","step":40,"time":"…","reward":0.61,"prompt_rewards":[…],"best":true,"best_step":40,"best_reward":0.61,"graphs":12}

// Record kinds in metrics.jsonl.
const (
	KindStep       = "step"
	KindValidation = "validation"
)

// StepMetrics is what one optimiser step logs.
type StepMetrics struct {
	Step         int
	Losses       Losses
	LearningRate float64
	GradNorm     float64 // before clipping
}

// ValidationMetrics is what one validation logs.
type ValidationMetrics struct {
	Step          int
	Reward        float64   // mean λ_val reward over the validation prompts
	PromptRewards []float64 // per validation prompt (optional)
	Best          bool      // this validation is the new best
	BestStep      int       // the best so far, this one included
	BestReward    float64
	// Graphs is the number of graphs the run (this Run or Resume call) has compiled so far, this
	// validation's included (0: not recorded). It should stop growing after the first
	// validation: each later one compiling again means a shape changed (see GraphCounts).
	Graphs int
}

// Metrics is a metrics.jsonl read back.
type Metrics struct {
	Steps       []StepMetrics
	Validations []ValidationMetrics
}

// MetricsWriter appends records to a metrics.jsonl file.
type MetricsWriter struct {
	mu   sync.Mutex
	path string
	f    *os.File
	now  func() time.Time
}

// CreateMetrics starts a new metrics file at path, replacing any old one.
func CreateMetrics(path string) (*MetricsWriter, error) {
	if err := safetensors.WriteAtomic(path, func(io.Writer) error { return nil }); err != nil {
		return nil, fmt.Errorf("rpo: metrics: %w", err)
	}
	return openMetrics(path)
}

// ResumeMetrics continues the metrics file of a run resumed after step: it keeps the records of
// steps ≤ step, drops the later ones (written by the interrupted run after its last checkpoint,
// and about to be redone) and a torn last line, then appends. The rewrite is atomic. A missing
// file is started anew.
func ResumeMetrics(path string, step int) (*MetricsWriter, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return CreateMetrics(path)
	}
	if err != nil {
		return nil, fmt.Errorf("rpo: metrics: %w", err)
	}
	var kept bytes.Buffer
	for i, ln := range splitLines(data) {
		var l metricsLine
		if err := json.Unmarshal(ln.text, &l); err != nil {
			if ln.last && !ln.terminated {
				break // torn by a crash mid-write
			}
			return nil, fmt.Errorf("rpo: metrics: %s: line %d: %w", path, i+1, err)
		}
		if l.Step <= step {
			kept.Write(ln.text)
			kept.WriteByte('\n')
		}
	}
	if err := safetensors.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(kept.Bytes()); return err }); err != nil {
		return nil, fmt.Errorf("rpo: metrics: %w", err)
	}
	return openMetrics(path)
}

func openMetrics(path string) (*MetricsWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("rpo: metrics: %w", err)
	}
	return &MetricsWriter{path: path, f: f, now: time.Now}, nil
}

// Path is the file written.
func (w *MetricsWriter) Path() string { return w.path }

// WriteStep appends a step record.
func (w *MetricsWriter) WriteStep(m StepMetrics) error {
	losses := make(map[string]jsonFloat, len(m.Losses))
	for k, v := range m.Losses {
		losses[k] = jsonFloat(v)
	}
	lr, norm := jsonFloat(m.LearningRate), jsonFloat(m.GradNorm)
	return w.write(metricsLine{Kind: KindStep, Step: m.Step, Losses: losses, LearningRate: &lr, GradNorm: &norm}, false)
}

// WriteValidation appends a validation record and syncs the file.
func (w *MetricsWriter) WriteValidation(m ValidationMetrics) error {
	reward, bestReward := jsonFloat(m.Reward), jsonFloat(m.BestReward)
	best, bestStep := m.Best, m.BestStep
	var graphs *int
	if m.Graphs > 0 {
		graphs = &m.Graphs
	}
	var per []jsonFloat
	for _, r := range m.PromptRewards {
		per = append(per, jsonFloat(r))
	}
	return w.write(metricsLine{Kind: KindValidation, Step: m.Step, Reward: &reward, PromptRewards: per,
		Best: &best, BestStep: &bestStep, BestReward: &bestReward, Graphs: graphs}, true)
}

func (w *MetricsWriter) write(l metricsLine, sync bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("rpo: metrics: %s: writer is closed", w.path)
	}
	l.Time = w.now().UTC()
	data, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("rpo: metrics: %s: %w", w.path, err)
	}
	if _, err := w.f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("rpo: metrics: %w", err)
	}
	if sync {
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("rpo: metrics: %w", err)
		}
	}
	return nil
}

// Close syncs and closes the file.
func (w *MetricsWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := errors.Join(w.f.Sync(), w.f.Close())
	w.f = nil
	if err != nil {
		return fmt.Errorf("rpo: metrics: %s: %w", w.path, err)
	}
	return nil
}

// ReadMetrics reads a metrics.jsonl file, ignoring a torn last line.
func ReadMetrics(path string) (*Metrics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rpo: metrics: %w", err)
	}
	m := &Metrics{}
	for i, ln := range splitLines(data) {
		var l metricsLine
		if err := json.Unmarshal(ln.text, &l); err != nil {
			if ln.last && !ln.terminated {
				break
			}
			return nil, fmt.Errorf("rpo: metrics: %s: line %d: %w", path, i+1, err)
		}
		switch l.Kind {
		case KindStep:
			s := StepMetrics{Step: l.Step, Losses: Losses{}, LearningRate: l.LearningRate.value(), GradNorm: l.GradNorm.value()}
			for k, v := range l.Losses {
				s.Losses[k] = float64(v)
			}
			m.Steps = append(m.Steps, s)
		case KindValidation:
			v := ValidationMetrics{Step: l.Step, Reward: l.Reward.value(), BestReward: l.BestReward.value()}
			if l.Best != nil {
				v.Best = *l.Best
			}
			if l.BestStep != nil {
				v.BestStep = *l.BestStep
			}
			if l.Graphs != nil {
				v.Graphs = *l.Graphs
			}
			for _, r := range l.PromptRewards {
				v.PromptRewards = append(v.PromptRewards, float64(r))
			}
			m.Validations = append(m.Validations, v)
		default:
			return nil, fmt.Errorf("rpo: metrics: %s: line %d: unknown kind %q", path, i+1, l.Kind)
		}
	}
	return m, nil
}

// metricsLine is one line of metrics.jsonl.
type metricsLine struct {
	Kind          string               `json:"kind"`
	Step          int                  `json:"step"`
	Time          time.Time            `json:"time"`
	Losses        map[string]jsonFloat `json:"losses,omitempty"`
	LearningRate  *jsonFloat           `json:"lr,omitempty"`
	GradNorm      *jsonFloat           `json:"grad_norm,omitempty"`
	Reward        *jsonFloat           `json:"reward,omitempty"`
	PromptRewards []jsonFloat          `json:"prompt_rewards,omitempty"`
	Best          *bool                `json:"best,omitempty"`
	BestStep      *int                 `json:"best_step,omitempty"`
	BestReward    *jsonFloat           `json:"best_reward,omitempty"`
	Graphs        *int                 `json:"graphs,omitempty"`
}

type line struct {
	text             []byte
	last, terminated bool
}

// splitLines splits data into its non-empty lines, marking the last one and whether it ended
// with a newline.
func splitLines(data []byte) []line {
	var out []line
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		if t := bytes.TrimSpace(sc.Bytes()); len(t) > 0 {
			out = append(out, line{text: append([]byte(nil), t...)})
		}
	}
	if n := len(out); n > 0 {
		out[n-1].last = true
		out[n-1].terminated = bytes.HasSuffix(bytes.TrimRight(data, " \t\r"), []byte("\n"))
	}
	return out
}

// jsonFloat is a float64 that JSON-encodes non-finite values as "NaN", "+Inf" and "-Inf".
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("number %q: %w", s, err)
		}
		*f = jsonFloat(v)
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

func (f *jsonFloat) value() float64 {
	if f == nil {
		return math.NaN()
	}
	return float64(*f)
}
