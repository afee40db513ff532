package reward

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
)

// Names of the metrics this package computes, as Report columns.
const (
	MetricDINO   = "DINO"
	MetricCLIPI  = "CLIP-I"
	MetricCLIPT  = "CLIP-T"
	MetricAlignI = "ALIGN-I"
	MetricAlignT = "ALIGN-T"
	MetricReward = "Reward"
)

// metricOrder is the column order of the known metrics; other names follow, sorted.
var metricOrder = []string{MetricDINO, MetricCLIPI, MetricCLIPT, MetricAlignI, MetricAlignT, MetricReward}

// Metrics holds one generated image's values by metric name: any of the Metric constants, or
// names of one's own. An image may lack a metric; it then does not count towards that metric.
type Metrics map[string]float64

// Report collects per-image metrics of an evaluation, keyed by subject and prompt, and summarises
// them the way DreamBooth-style tables are made: for each prompt the mean over its images, for each
// subject the mean over its prompts, and overall the mean over subjects, each with its standard
// deviation. DreamBench runs 30 subjects × 25 prompts × 4 images.
//
// The zero Report is empty and ready to use. It is safe for concurrent use; do not copy it after
// first use. Marshalled to JSON it gives its Summary.
type Report struct {
	mu       sync.Mutex
	subjects []*reportSubject
}

type reportSubject struct {
	name    string
	prompts []*reportPrompt
}

type reportPrompt struct {
	name   string
	images []Metrics
}

// Add records one generated image's metrics under its subject and prompt (the prompt as it was
// given to the generator, or any label for the prompt). It copies m. It returns an error, and
// records nothing, for a value that is NaN or infinite or a metric without a name.
func (r *Report) Add(subject, prompt string, m Metrics) error {
	c := make(Metrics, len(m))
	for k, v := range m {
		if k == "" {
			return fmt.Errorf("reward: Report.Add(%q, %q): metric with an empty name", subject, prompt)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("reward: Report.Add(%q, %q): %s = %v, want a finite value", subject, prompt, k, v)
		}
		c[k] = v
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.IndexFunc(r.subjects, func(s *reportSubject) bool { return s.name == subject })
	if i < 0 {
		i = len(r.subjects)
		r.subjects = append(r.subjects, &reportSubject{name: subject})
	}
	s := r.subjects[i]
	j := slices.IndexFunc(s.prompts, func(p *reportPrompt) bool { return p.name == prompt })
	if j < 0 {
		j = len(s.prompts)
		s.prompts = append(s.prompts, &reportPrompt{name: prompt})
	}
	s.prompts[j].images = append(s.prompts[j].images, c)
	return nil
}

// Stat is a mean with its standard deviation over N values. Std is the population standard
// deviation (divided by N, numpy's default); it is 0 for one value.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int     `json:"n"`
}

// Summary is a Report's aggregate. Each map goes from metric name to a Stat, and its field name
// says what the mean and deviation are taken over.
type Summary struct {
	// Metrics lists the metric names found: DINO, CLIP-I, CLIP-T, ALIGN-I, ALIGN-T, Reward in that
	// order where present, then any others, sorted.
	Metrics []string `json:"metrics"`
	// Subjects: over subjects, of each subject's mean over its prompts. The headline number.
	Subjects map[string]Stat `json:"subjects"`
	// Images: pooled over every image of every subject and prompt.
	Images map[string]Stat `json:"images"`
	// PerSubject: one entry per subject, in the order first added.
	PerSubject []SubjectSummary `json:"per_subject"`
}

// SubjectSummary aggregates one subject.
type SubjectSummary struct {
	Subject string `json:"subject"`
	// Prompts: over this subject's prompts, of each prompt's mean over its images.
	Prompts map[string]Stat `json:"prompts"`
	// Images: pooled over all of this subject's images.
	Images map[string]Stat `json:"images"`
	// PerPrompt: one entry per prompt, in the order first added.
	PerPrompt []PromptSummary `json:"per_prompt"`
}

// PromptSummary aggregates one (subject, prompt).
type PromptSummary struct {
	Prompt string `json:"prompt"`
	// Images: over this prompt's images.
	Images map[string]Stat `json:"images"`
}

// Summary computes means and standard deviations over images, prompts and subjects.
func (r *Report) Summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := map[string]bool{}
	var all []Metrics
	for _, s := range r.subjects {
		for _, p := range s.prompts {
			for _, m := range p.images {
				for k := range m {
					names[k] = true
				}
				all = append(all, m)
			}
		}
	}
	sum := Summary{Metrics: orderMetrics(names), Images: imageStats(all), PerSubject: []SubjectSummary{}}
	subjectMeans := make([]Metrics, 0, len(r.subjects))
	for _, s := range r.subjects {
		ss := SubjectSummary{Subject: s.name, PerPrompt: make([]PromptSummary, 0, len(s.prompts))}
		var images, promptMeans []Metrics
		for _, p := range s.prompts {
			st := imageStats(p.images)
			ss.PerPrompt = append(ss.PerPrompt, PromptSummary{Prompt: p.name, Images: st})
			promptMeans = append(promptMeans, means(st))
			images = append(images, p.images...)
		}
		ss.Prompts = imageStats(promptMeans)
		ss.Images = imageStats(images)
		sum.PerSubject = append(sum.PerSubject, ss)
		subjectMeans = append(subjectMeans, means(ss.Prompts))
	}
	sum.Subjects = imageStats(subjectMeans)
	return sum
}

// MarshalJSON writes the Report's Summary.
func (r *Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(r.Summary())
}

// WriteMarkdown writes the summary as a Markdown table, "mean ± std" to three decimals: one row
// per (subject, prompt) over its images, one per subject over its prompts, and one over subjects.
// The count column is the number of images, prompts or subjects the row's deviation is over (the
// largest, where metrics differ).
func (s Summary) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| subject | prompt | n |")
	for _, m := range s.Metrics {
		fmt.Fprintf(&b, " %s |", mdEscape(m))
	}
	b.WriteString("\n|---|---|---:|")
	for range s.Metrics {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	row := func(subject, prompt string, st map[string]Stat) {
		n := 0
		for _, v := range st {
			n = max(n, v.N)
		}
		fmt.Fprintf(&b, "| %s | %s | %d |", subject, prompt, n)
		for _, m := range s.Metrics {
			if v, ok := st[m]; ok {
				fmt.Fprintf(&b, " %.3f ± %.3f |", v.Mean, v.Std)
			} else {
				b.WriteString(" – |")
			}
		}
		b.WriteString("\n")
	}
	for _, ss := range s.PerSubject {
		for _, p := range ss.PerPrompt {
			row(mdEscape(ss.Subject), mdEscape(p.Prompt), p.Images)
		}
		row(mdEscape(ss.Subject), "*all prompts*", ss.Prompts)
	}
	row("*all subjects*", "", s.Subjects)
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps a cell in its cell.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

// imageStats is the Stat of each metric over the given values; a value missing a metric does not
// count for it. The result is never nil.
func imageStats(ms []Metrics) map[string]Stat {
	vals := map[string][]float64{}
	for _, m := range ms {
		for k, v := range m {
			vals[k] = append(vals[k], v)
		}
	}
	out := make(map[string]Stat, len(vals))
	for k, xs := range vals {
		out[k] = stat(xs)
	}
	return out
}

func means(st map[string]Stat) Metrics {
	m := make(Metrics, len(st))
	for k, v := range st {
		m[k] = v.Mean
	}
	return m
}

func stat(xs []float64) Stat {
	mu := mean(xs)
	var ss float64
	for _, x := range xs {
		ss += (x - mu) * (x - mu)
	}
	return Stat{Mean: mu, Std: math.Sqrt(ss / float64(len(xs))), N: len(xs)}
}

func orderMetrics(names map[string]bool) []string {
	out := []string{}
	for _, m := range metricOrder {
		if names[m] {
			out = append(out, m)
		}
	}
	var rest []string
	for k := range names {
		if !slices.Contains(metricOrder, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}
