package safetensors

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gorpo/gorpo/internal/modelfs"
)

// shardIndex is the "*.safetensors.index.json" written by save_pretrained for large models.
type shardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// OpenSharded reads every shard named by an index file and merges them into one File whose
// Path is the index. Each tensor must be in the shard the index names.
func OpenSharded(indexPath string) (*File, error) { return OpenShardedIn(modelfs.OS, indexPath) }

// OpenShardedIn is OpenSharded on the file system m (see OpenIn).
func OpenShardedIn(m modelfs.FS, indexPath string) (_ *File, err error) {
	raw, err := m.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var idx shardIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("safetensors: %s: corrupt index JSON: %w", indexPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("safetensors: %s: index has an empty weight_map", indexPath)
	}
	shards := map[string]bool{}
	for _, s := range idx.WeightMap {
		shards[s] = true
	}
	names := make([]string, 0, len(shards))
	for s := range shards {
		names = append(names, s)
	}
	sort.Strings(names)
	merged := &File{Path: indexPath, tensors: map[string]*Tensor{}}
	var closers []func() error
	merged.unmap = func() error {
		var first error
		for _, c := range closers {
			if err := c(); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	defer func() {
		if err != nil {
			_ = merged.Close()
		}
	}()
	dir := m.Dir(indexPath)
	for _, shard := range names {
		f, err := OpenIn(m, m.Join(dir, shard))
		if err != nil {
			return nil, err
		}
		if f.unmap != nil {
			closers = append(closers, f.unmap)
		}
		for name, t := range f.tensors {
			if want, ok := idx.WeightMap[name]; ok && want != shard {
				return nil, fmt.Errorf("safetensors: %s: tensor %q found in %s but the index puts it in %s", indexPath, name, shard, want)
			}
			if _, dup := merged.tensors[name]; dup {
				return nil, fmt.Errorf("safetensors: %s: tensor %q is in two shards (%s and another)", indexPath, name, shard)
			}
			merged.tensors[name] = t
		}
	}
	for name, shard := range idx.WeightMap {
		if _, ok := merged.tensors[name]; !ok {
			return nil, fmt.Errorf("safetensors: %s: tensor %q listed in shard %s: %w", indexPath, name, shard, ErrMissingTensor)
		}
	}
	return merged, nil
}

// OpenWeights opens the weights a save_pretrained folder holds under a base name such as
// "diffusion_pytorch_model" or "model": "<base>.safetensors", else the sharded
// "<base>.safetensors.index.json", else (if variant is not "") "<base>.<variant>.safetensors"
// and its sharded form. It names what it looked for when nothing is there.
func OpenWeights(dir, base, variant string) (*File, error) {
	return OpenWeightsIn(modelfs.OS, dir, base, variant)
}

// OpenWeightsIn is OpenWeights on the file system m (see OpenIn).
func OpenWeightsIn(m modelfs.FS, dir, base, variant string) (*File, error) {
	candidates := []string{base + ".safetensors", base + ".safetensors.index.json"}
	if variant != "" {
		candidates = append([]string{base + "." + variant + ".safetensors", base + "." + variant + ".safetensors.index.json"}, candidates...)
	}
	for _, c := range candidates {
		p := m.Join(dir, c)
		if !m.Exists(p) {
			continue
		}
		if strings.HasSuffix(c, ".json") {
			return OpenShardedIn(m, p)
		}
		return OpenIn(m, p)
	}
	return nil, fmt.Errorf("safetensors: %s: no weights found, looked for %v", dir, candidates)
}
