package main

import (
	"fmt"
	"strconv"
	"strings"
)

// shard is the share of the bench's subjects one process runs: the subjects whose position in
// the bench's sorted list is Index modulo Count.
type shard struct {
	Index, Count int
	From         string // where the index came from, for the headline: "--shard", an env variable
}

// Environment variables that carry a job array's task index.
const (
	envK8sIndex    = "JOB_COMPLETION_INDEX" // a Kubernetes Indexed Job's pod, 0 to completions-1
	envSlurmTask   = "SLURM_ARRAY_TASK_ID"  // a Slurm array task, as --array numbers it
	envSlurmMin    = "SLURM_ARRAY_TASK_MIN" // the array's first task id
	envSlurmCount  = "SLURM_ARRAY_TASK_COUNT"
	shardFlagUsage = "--shard i/n"
)

// resolveShard picks this process's shard: --shard i/n when given; otherwise the task index of a
// Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or a Slurm array (SLURM_ARRAY_TASK_ID, counted
// from SLURM_ARRAY_TASK_MIN), out of --shards n (for Slurm, SLURM_ARRAY_TASK_COUNT when --shards
// is 0); otherwise the whole bench (0/1). getenv is os.Getenv.
func resolveShard(flag string, shards int, getenv func(string) string) (shard, error) {
	if flag != "" {
		if shards != 0 {
			return shard{}, fmt.Errorf("--shard %s and --shards %d: choose one (--shards goes with a job array's index)", flag, shards)
		}
		i, n, ok := strings.Cut(flag, "/")
		idx, err1 := strconv.Atoi(strings.TrimSpace(i))
		cnt, err2 := strconv.Atoi(strings.TrimSpace(n))
		if !ok || err1 != nil || err2 != nil || cnt < 1 || idx < 0 || idx >= cnt {
			return shard{}, fmt.Errorf("--shard %q: want i/n with 0 ≤ i < n (0/4 is the first of four shares)", flag)
		}
		return shard{idx, cnt, "--shard"}, nil
	}
	if shards < 0 {
		return shard{}, fmt.Errorf("--shards %d: want the number of array tasks, at least 1", shards)
	}
	for _, name := range []string{envK8sIndex, envSlurmTask} {
		v := getenv(name)
		if v == "" {
			continue
		}
		idx, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || idx < 0 {
			return shard{}, fmt.Errorf("%s=%q: want a task index, 0 or more", name, v)
		}
		n := shards
		if name == envSlurmTask {
			if m := getenv(envSlurmMin); m != "" {
				lo, err := strconv.Atoi(strings.TrimSpace(m))
				if err != nil || lo < 0 || lo > idx {
					return shard{}, fmt.Errorf("%s=%q with %s=%q: want the array's first task id, at most the task's", envSlurmMin, m, name, v)
				}
				idx -= lo
			}
			if n == 0 {
				if c := getenv(envSlurmCount); c != "" {
					if n, err = strconv.Atoi(strings.TrimSpace(c)); err != nil || n < 1 {
						return shard{}, fmt.Errorf("%s=%q: want the number of array tasks", envSlurmCount, c)
					}
				}
			}
		}
		if n == 0 {
			return shard{}, fmt.Errorf("%s=%d is set but the number of tasks is not: give --shards N (the job's completions / the array's size) or %s", name, idx, shardFlagUsage)
		}
		if idx >= n {
			return shard{}, fmt.Errorf("%s=%d with --shards %d: the index must be below the number of tasks", name, idx, n)
		}
		return shard{idx, n, name}, nil
	}
	if shards > 1 {
		return shard{}, fmt.Errorf("--shards %d without a task index: run it as a Kubernetes Indexed Job (%s) or a Slurm array (%s), or give %s", shards, envK8sIndex, envSlurmTask, shardFlagUsage)
	}
	return shard{0, 1, ""}, nil
}

// pick returns the names of this shard: every Count-th from Index.
func (s shard) pick(names []string) []string {
	var out []string
	for k, n := range names {
		if k%s.Count == s.Index {
			out = append(out, n)
		}
	}
	return out
}

func (s shard) String() string {
	if s.Count == 1 {
		return "the whole bench"
	}
	from := ""
	if s.From != "" && s.From != "--shard" {
		from = " (from " + s.From + ")"
	}
	return fmt.Sprintf("shard %d/%d%s", s.Index, s.Count, from)
}
