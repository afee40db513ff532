package main

import (
	"strings"
	"testing"
)

func TestResolveShard(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, c := range []struct {
		flag   string
		shards int
		env    func(string) string
		want   string // "i/n", or an error's words
	}{
		{"", 0, env(), "0/1"},
		{"1/3", 0, env(envK8sIndex, "0"), "1/3"}, // the flag wins
		{"", 4, env(envK8sIndex, "2"), "2/4"},
		{"", 0, env(envSlurmTask, "5", envSlurmMin, "4", envSlurmCount, "3"), "1/3"},
		{"", 3, env(envSlurmTask, "2"), "2/3"},
		{"3/3", 0, env(), "--shard"},
		{"a/b", 0, env(), "--shard"},
		{"1/2", 2, env(), "choose one"},
		{"", 0, env(envK8sIndex, "1"), "--shards"},
		{"", 2, env(envK8sIndex, "2"), "below"},
		{"", 2, env(), "without a task index"},
		{"", 2, env(envK8sIndex, "x"), envK8sIndex},
	} {
		s, err := resolveShard(c.flag, c.shards, c.env)
		got := ""
		if err != nil {
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("resolveShard(%q, %d): %v, want an error with %q", c.flag, c.shards, err, c.want)
			}
			continue
		}
		got = strings.Join([]string{itoa(s.Index), itoa(s.Count)}, "/")
		if got != c.want {
			t.Errorf("resolveShard(%q, %d) = %s, want %s", c.flag, c.shards, got, c.want)
		}
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

// Every subject lands in exactly one shard.
func TestShardPickPartitions(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e", "f", "g"}
	for n := 1; n <= 8; n++ {
		seen := map[string]int{}
		for i := range n {
			for _, s := range (shard{Index: i, Count: n}).pick(names) {
				seen[s]++
			}
		}
		for _, s := range names {
			if seen[s] != 1 {
				t.Errorf("%d shards: %s in %d of them, want 1", n, s, seen[s])
			}
		}
	}
}

func TestParseRuns(t *testing.T) {
	runs, err := parseRuns("base,rpo,sim,sim-es", "0.3,0.5,0.7")
	if err != nil {
		t.Fatal(err)
	}
	want := "base, rpo-lambda0.3, rpo-lambda0.5, rpo-lambda0.7, sim, sim_early_stopping-lambda0.3, sim_early_stopping-lambda0.5, sim_early_stopping-lambda0.7"
	if got := runNames(runs); got != want {
		t.Errorf("runs %s, want %s", got, want)
	}
	for _, bad := range [][2]string{{"rpo,nope", "0.3"}, {"rpo", "1.5"}, {"rpo", ""}, {"rpo,rpo", "0.3"}} {
		if _, err := parseRuns(bad[0], bad[1]); err == nil {
			t.Errorf("parseRuns(%q, %q): no error", bad[0], bad[1])
		}
	}
}
