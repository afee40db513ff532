package reward

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// sampleReport: dog has two prompts, cat one; cat's images lack CLIP-T and one has a metric of
// its own.
func sampleReport(t *testing.T) *Report {
	t.Helper()
	var r Report
	add := func(s, p string, m Metrics) {
		if err := r.Add(s, p, m); err != nil {
			t.Fatal(err)
		}
	}
	add("dog", "a [V] dog in the snow", Metrics{MetricDINO: 0.6, MetricCLIPT: 0.3})
	add("dog", "a [V] dog on the beach", Metrics{MetricDINO: 0.5, MetricCLIPT: 0.2})
	add("dog", "a [V] dog in the snow", Metrics{MetricDINO: 0.8, MetricCLIPT: 0.3})
	add("cat", "a [V] cat in the snow", Metrics{MetricDINO: 0.2, "Custom": 1})
	add("cat", "a [V] cat in the snow", Metrics{MetricDINO: 0.4})
	add("cat", "a [V] cat in the snow", Metrics{MetricDINO: 0.3})
	return &r
}

func wantStat(t *testing.T, where string, got map[string]Stat, metric string, mean, std float64, n int) {
	t.Helper()
	s, ok := got[metric]
	if !ok {
		t.Errorf("%s: no %s", where, metric)
		return
	}
	if math.Abs(s.Mean-mean) > 1e-12 || math.Abs(s.Std-std) > 1e-12 || s.N != n {
		t.Errorf("%s %s = %+v, want {Mean:%v Std:%v N:%d}", where, metric, s, mean, std, n)
	}
}

func TestReportSummary(t *testing.T) {
	s := sampleReport(t).Summary()
	if want := []string{MetricDINO, MetricCLIPT, "Custom"}; !slices.Equal(s.Metrics, want) {
		t.Errorf("Metrics = %v, want %v", s.Metrics, want)
	}
	if len(s.PerSubject) != 2 || s.PerSubject[0].Subject != "dog" || s.PerSubject[1].Subject != "cat" {
		t.Fatalf("subjects %+v, want dog then cat (order added)", s.PerSubject)
	}
	dog, cat := s.PerSubject[0], s.PerSubject[1]
	if len(dog.PerPrompt) != 2 || dog.PerPrompt[0].Prompt != "a [V] dog in the snow" {
		t.Fatalf("dog prompts %+v", dog.PerPrompt)
	}
	// Over images: snow DINO {0.6, 0.8}, beach {0.5}.
	wantStat(t, "dog/snow", dog.PerPrompt[0].Images, MetricDINO, 0.7, 0.1, 2)
	wantStat(t, "dog/snow", dog.PerPrompt[0].Images, MetricCLIPT, 0.3, 0, 2)
	wantStat(t, "dog/beach", dog.PerPrompt[1].Images, MetricDINO, 0.5, 0, 1)
	// Over prompts: DINO {0.7, 0.5}, CLIP-T {0.3, 0.2}.
	wantStat(t, "dog over prompts", dog.Prompts, MetricDINO, 0.6, 0.1, 2)
	wantStat(t, "dog over prompts", dog.Prompts, MetricCLIPT, 0.25, 0.05, 2)
	// Pooled: DINO {0.6, 0.5, 0.8}.
	wantStat(t, "dog images", dog.Images, MetricDINO, 1.9/3, math.Sqrt((math.Pow(0.6-1.9/3, 2)+math.Pow(0.5-1.9/3, 2)+math.Pow(0.8-1.9/3, 2))/3), 3)
	// cat: one prompt, DINO {0.2, 0.4, 0.3}; Custom on one image; no CLIP-T.
	wantStat(t, "cat/snow", cat.PerPrompt[0].Images, MetricDINO, 0.3, math.Sqrt(0.02/3), 3)
	wantStat(t, "cat/snow", cat.PerPrompt[0].Images, "Custom", 1, 0, 1)
	wantStat(t, "cat over prompts", cat.Prompts, MetricDINO, 0.3, 0, 1)
	if _, ok := cat.Prompts[MetricCLIPT]; ok {
		t.Errorf("cat has a CLIP-T it never got")
	}
	// Over subjects: DINO {0.6, 0.3}; CLIP-T only from dog.
	wantStat(t, "over subjects", s.Subjects, MetricDINO, 0.45, 0.15, 2)
	wantStat(t, "over subjects", s.Subjects, MetricCLIPT, 0.25, 0, 1)
	wantStat(t, "all images", s.Images, MetricDINO, 2.8/6, math.Sqrt((math.Pow(0.6-2.8/6, 2)+math.Pow(0.5-2.8/6, 2)+math.Pow(0.8-2.8/6, 2)+
		math.Pow(0.2-2.8/6, 2)+math.Pow(0.4-2.8/6, 2)+math.Pow(0.3-2.8/6, 2))/6), 6)
}

func TestReportJSON(t *testing.T) {
	r := sampleReport(t)
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"metrics"`, `"subjects"`, `"per_subject"`, `"per_prompt"`, `"mean"`, `"std"`, `"n"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON lacks %s: %s", key, data)
		}
	}
	var back Summary
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if want := r.Summary(); !reflect.DeepEqual(back, want) {
		t.Errorf("JSON round trip:\n got %+v\nwant %+v", back, want)
	}
	// An empty report marshals too.
	var empty Report
	if data, err := json.Marshal(&empty); err != nil || !strings.Contains(string(data), `"per_subject":[]`) {
		t.Errorf("empty report: %s, %v", data, err)
	}
}

func TestReportMarkdown(t *testing.T) {
	r := sampleReport(t)
	if err := r.Add("cat", "a | pipe", Metrics{MetricDINO: 0.1}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.Summary().WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	want := `| subject | prompt | n | DINO | CLIP-T | Custom |
|---|---|---:|---:|---:|---:|
| dog | a [V] dog in the snow | 2 | 0.700 ± 0.100 | 0.300 ± 0.000 | – |
| dog | a [V] dog on the beach | 1 | 0.500 ± 0.000 | 0.200 ± 0.000 | – |
| dog | *all prompts* | 2 | 0.600 ± 0.100 | 0.250 ± 0.050 | – |
| cat | a [V] cat in the snow | 3 | 0.300 ± 0.082 | – | 1.000 ± 0.000 |
| cat | a \| pipe | 1 | 0.100 ± 0.000 | – | – |
| cat | *all prompts* | 2 | 0.200 ± 0.100 | – | 1.000 ± 0.000 |
| *all subjects* |  | 2 | 0.400 ± 0.200 | 0.250 ± 0.000 | 1.000 ± 0.000 |
`
	if b.String() != want {
		t.Errorf("Markdown:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestReportAddErrors(t *testing.T) {
	var r Report
	for _, m := range []Metrics{{MetricDINO: math.NaN()}, {MetricCLIPT: math.Inf(1)}, {"": 0.5}} {
		if err := r.Add("dog", "p", m); err == nil {
			t.Errorf("Add(%v) accepted", m)
		}
	}
	if s := r.Summary(); len(s.PerSubject) != 0 {
		t.Errorf("a rejected Add recorded something: %+v", s)
	}
	// Add copies its map.
	m := Metrics{MetricDINO: 0.5}
	if err := r.Add("dog", "p", m); err != nil {
		t.Fatal(err)
	}
	m[MetricDINO] = 0.9
	wantStat(t, "after the caller's change", r.Summary().Subjects, MetricDINO, 0.5, 0, 1)
}

func TestReportConcurrentAdd(t *testing.T) {
	var r Report
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				_ = r.Add("dog", "p", Metrics{MetricDINO: float64(i*50 + j)})
			}
		})
	}
	wg.Wait()
	st := r.Summary().Subjects[MetricDINO]
	if st.N != 1 || st.Mean != 199.5 {
		t.Errorf("over subjects %+v, want mean 199.5 of one subject", st)
	}
	if n := r.Summary().Images[MetricDINO].N; n != 400 {
		t.Errorf("%d images, want 400", n)
	}
}
