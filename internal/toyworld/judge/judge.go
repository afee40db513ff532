package judge

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/hostexec"
	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/internal/weights"
)

// The shipped judge, written by examples/toyjudge.
var (
	//go:embed weights/judge.safetensors
	embeddedWeights []byte
	//go:embed weights/judge.json
	embeddedMeta []byte
)

// File names of a judge folder (Save, Open).
const (
	WeightsFile  = "judge.safetensors"
	MetadataFile = "judge.json"
)

// ErrStale is wrapped by the error Load and Open return when the weights were trained on another
// vocabulary than the toy world's current one (a context, class, colour, subject or accessory
// was added, removed or reordered): retrain with examples/toyjudge.
var ErrStale = errors.New("judge: weights trained on another toy-world vocabulary")

// Metadata is judge.json: the network's shape, each head's labels, and how the weights were made.
type Metadata struct {
	Format   int                 `json:"format"`
	Config   Config              `json:"config"`
	Labels   map[string][]string `json:"labels"` // by head name, in output order
	Training *TrainingRecord     `json:"training,omitempty"`
	HeldOut  *Report             `json:"held_out,omitempty"`
}

// TrainingRecord says how a judge was trained, so it can be reproduced.
type TrainingRecord struct {
	Command      string  `json:"command"`
	Seed         uint64  `json:"seed"`
	Steps        int     `json:"steps"`
	Batch        int     `json:"batch"`
	LearningRate float64 `json:"learning_rate"`
	Seeds        string  `json:"seeds"` // the training examples' seeds, in words
	Started      string  `json:"started"`
	Seconds      float64 `json:"seconds"`
	Machine      string  `json:"machine"` // Go version, OS/arch, cores, backend
}

const metadataFormat = 1

// Judge is a trained judge, ready to Predict. Its methods may be called from several goroutines.
type Judge struct {
	cfg     Config
	vocab   Vocabulary
	meta    Metadata
	backend compute.Backend

	mu    sync.Mutex
	store *model.Store
	exec  *hostexec.Exec
}

// Load returns the judge shipped with gorpo (embedded in the binary: no file is read), on the
// default backend.
func Load() (*Judge, error) {
	return load(embeddedWeights, embeddedMeta, "embedded "+WeightsFile)
}

// Open loads a judge written by Save (judge.safetensors and judge.json) from dir.
func Open(dir string) (*Judge, error) {
	w, err := os.ReadFile(filepath.Join(dir, WeightsFile))
	if err != nil {
		return nil, fmt.Errorf("judge: %w", err)
	}
	m, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if err != nil {
		return nil, fmt.Errorf("judge: %w", err)
	}
	return load(w, m, filepath.Join(dir, WeightsFile))
}

func load(weightBytes, metaBytes []byte, name string) (*Judge, error) {
	var meta Metadata
	dec := json.NewDecoder(bytes.NewReader(metaBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		return nil, fmt.Errorf("judge: %s: %w", MetadataFile, err)
	}
	if meta.Format != metadataFormat {
		return nil, fmt.Errorf("judge: %s: format %d, want %d", MetadataFile, meta.Format, metadataFormat)
	}
	if err := meta.Config.validate(); err != nil {
		return nil, fmt.Errorf("judge: %s: %w", MetadataFile, err)
	}
	var vocab Vocabulary
	for _, h := range Heads() {
		vocab[h] = meta.Labels[h.String()]
	}
	if world := WorldVocabulary(); !vocab.Equal(world) {
		for _, h := range Heads() {
			if len(vocab[h]) != len(world[h]) {
				return nil, fmt.Errorf("%w: %s head has %d labels, the world %d", ErrStale, h, len(vocab[h]), len(world[h]))
			}
		}
		return nil, fmt.Errorf("%w: labels differ", ErrStale)
	}
	f, err := safetensors.Parse(weightBytes)
	if err != nil {
		return nil, fmt.Errorf("judge: %s: %w", name, err)
	}
	f.Path = name
	b, err := backend.Default()
	if err != nil {
		return nil, err
	}
	store := model.NewStore()
	sizes := vocab.Sizes()
	cfg := meta.Config
	err = weights.Declare(b, store, func(scope *model.Scope, in []*Node) {
		cfg.Logits(scope.In("judge"), in[0], sizes)
	}, shapes.Make(dtypes.Float32, 1, cfg.ImageSize, cfg.ImageSize, 3))
	if err != nil {
		return nil, err
	}
	if err := weights.Bind(store, modelScope, f, weights.BindOptions{}); err != nil {
		return nil, err
	}
	j := newJudge(b, store, cfg, vocab)
	j.meta = meta
	return j, nil
}

// newJudge wraps a store holding the network's variables under modelScope.
func newJudge(b compute.Backend, store *model.Store, cfg Config, vocab Vocabulary) *Judge {
	sizes := vocab.Sizes()
	exec := hostexec.New(b, store, "toy judge", func(scope *model.Scope, in []*Node) []*Node {
		logits := cfg.Logits(scope.In("judge"), in[0], sizes)
		out := make([]*Node, len(logits))
		for i, l := range logits {
			out[i] = Softmax(l, -1)
		}
		return out
	})
	j := &Judge{cfg: cfg, vocab: vocab, backend: b, store: store, exec: exec}
	j.meta = Metadata{Format: metadataFormat, Config: cfg, Labels: map[string][]string{}}
	for _, h := range Heads() {
		j.meta.Labels[h.String()] = vocab[h]
	}
	return j
}

// Labels returns head h's labels, in the order of Prediction.Probs[h].
func (j *Judge) Labels(h Head) []string { return append([]string(nil), j.vocab[h]...) }

// Metadata returns the judge's judge.json (for the shipped judge: how it was trained and its
// held-out accuracy).
func (j *Judge) Metadata() Metadata { return j.meta }

// Finalize releases the compiled graph and the weights; j must not be used afterwards.
func (j *Judge) Finalize() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.exec != nil {
		j.exec.Finalize()
		j.exec = nil
	}
	if j.store != nil {
		j.store.Finalize()
		j.store = nil
	}
}

// Prediction is what the judge sees in one picture: each head's most likely label, with the
// field names and conventions of toyworld.Labels, so that a prediction compares field by field
// with the truth of a render.
type Prediction struct {
	Context string
	Class   string
	Color   string
	// Subject is a built-in subject's name, or "" when the judge sees a generic object.
	Subject string
	// Accessory is an accessory phrase, or "" when the judge sees none.
	Accessory string
	// Prob is each head's probability of its label, indexed by Head.
	Prob [NumHeads]float64
	// Probs is each head's whole distribution, in the order of Judge.Labels(head).
	Probs [NumHeads][]float32
}

// Label returns head h's label (Context, Class, ...).
func (p Prediction) Label(h Head) string {
	switch h {
	case Context:
		return p.Context
	case Class:
		return p.Class
	case Color:
		return p.Color
	case Subject:
		return p.Subject
	case Accessory:
		return p.Accessory
	}
	return ""
}

// maxChunk is the largest batch one graph call takes; smaller ones are padded to a power of two,
// so at most 7 shapes are ever compiled.
const maxChunk = 64

// Predict judges images. Each is converted to RGB (alpha dropped) and, if it is not
// ImageSize×ImageSize (32×32), resized to it with a Pillow-exact bilinear filter; the network
// sees RGB scaled to [-1, 1]. A nil image or one with no pixels is an error that gives its index.
func (j *Judge) Predict(ctx context.Context, images []image.Image) ([]Prediction, error) {
	size := j.cfg.ImageSize
	pix := make([]float32, len(images)*size*size*3)
	for i, img := range images {
		if img == nil {
			return nil, fmt.Errorf("judge: predict: image %d is nil", i)
		}
		if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
			return nil, fmt.Errorf("judge: predict: image %d has no pixels (%dx%d)", i, b.Dx(), b.Dy())
		}
		rgb, err := imaging.FromImage(img)
		if err != nil {
			return nil, fmt.Errorf("judge: predict: image %d: %w", i, err)
		}
		if rgb.W != size || rgb.H != size {
			if rgb, err = imaging.Resize(rgb, size, size, imaging.Bilinear); err != nil {
				return nil, fmt.Errorf("judge: predict: image %d: %w", i, err)
			}
		}
		dst := pix[i*size*size*3 : (i+1)*size*size*3]
		for k, v := range rgb.Pix {
			dst[k] = float32(v)/127.5 - 1
		}
	}
	return j.predictPixels(ctx, pix, len(images))
}

// predictPixels judges n channels-last images in [-1, 1].
func (j *Judge) predictPixels(ctx context.Context, pix []float32, n int) ([]Prediction, error) {
	size := j.cfg.ImageSize
	per := size * size * 3
	out := make([]Prediction, 0, n)
	for start := 0; start < n; start += maxChunk {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("judge: predict: %w", err)
		}
		m := min(maxChunk, n-start)
		chunk := 1
		for chunk < m {
			chunk *= 2
		}
		data := make([]float32, chunk*per)
		copy(data, pix[start*per:(start+m)*per])
		probs, err := j.run(tensors.FromFlatDataAndDimensions(data, chunk, size, size, 3))
		if err != nil {
			return nil, err
		}
		for i := range m {
			var p Prediction
			for h := range NumHeads {
				k := len(j.vocab[h])
				row := probs[h][i*k : (i+1)*k : (i+1)*k]
				best := 0
				for c, v := range row {
					if v > row[best] {
						best = c
					}
				}
				p.Probs[h] = row
				p.Prob[h] = float64(row[best])
				label := j.vocab[h][best]
				switch Head(h) {
				case Context:
					p.Context = label
				case Class:
					p.Class = label
				case Color:
					p.Color = label
				case Subject:
					p.Subject = label
				case Accessory:
					p.Accessory = label
				}
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// run executes the network on x and returns each head's probabilities, flat [batch·labels].
func (j *Judge) run(x *tensors.Tensor) (probs [NumHeads][]float32, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	defer func() { _ = x.FinalizeAll() }()
	if j.exec == nil {
		return probs, errors.New("judge: predict: the judge was finalized")
	}
	outs, err := j.exec.Call(x)
	if err != nil {
		return probs, fmt.Errorf("judge: predict: %w", err)
	}
	for h, t := range outs {
		probs[h], err = tensors.CopyFlatData[float32](t)
		_ = t.FinalizeAll()
		if err != nil {
			return probs, fmt.Errorf("judge: predict: %w", err)
		}
	}
	return probs, nil
}

// Save writes the judge to dir as judge.safetensors (the network's variables under their scope
// names, "stages.0.down.conv.weight") and judge.json (Metadata, with rec and report when given),
// each atomically.
func (j *Judge) Save(dir string, rec *TrainingRecord, report *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("judge: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.store == nil {
		return errors.New("judge: save: the judge was finalized")
	}
	meta := j.meta
	if rec != nil {
		meta.Training = rec
	}
	if report != nil {
		meta.HeldOut = report
	}
	if err := weights.Save(j.store, modelScope, filepath.Join(dir, WeightsFile), map[string]string{"format": "gorpo toy judge"}); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(meta); err != nil {
		return fmt.Errorf("judge: %w", err)
	}
	data := buf.Bytes()
	if err := safetensors.WriteAtomic(filepath.Join(dir, MetadataFile), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}); err != nil {
		return fmt.Errorf("judge: %w", err)
	}
	j.meta = meta
	return nil
}
