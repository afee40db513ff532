package rewardmodel

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/align"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/hostexec"
	"github.com/gorpo/gorpo/internal/nn"
	"github.com/gorpo/gorpo/internal/optim"
	"github.com/gorpo/gorpo/internal/trainrun"
	"github.com/gorpo/gorpo/internal/weights"
)

// Where the training store keeps the model and the optimiser's state.
const (
	modelScope     = "/model"
	optimizerScope = "/optimizer"
)

// labelSmoothing is ALIGN's: transformers' align_loss uses cross-entropy with label_smoothing=0.1.
const labelSmoothing = 0.1

// TrainOptions configures Train. Zero fields take the defaults noted.
type TrainOptions struct {
	Steps int    // optimiser steps (required)
	Batch int    // renders per step (required); each brings its caption and a hard negative
	Seed  uint64 // drives the initial weights and the training examples (TrainSeed)

	LearningRate float64 // AdamW's peak learning rate: 2e-3
	WarmupSteps  int     // linear warm-up from 0: 5% of Steps
	WeightDecay  float64 // decoupled, on matrices and kernels only: 1e-2
	// The learning rate falls from its peak to 2% of it along a cosine after the warm-up.

	Backend compute.Backend // backend.Default()
	// Progress, when set, is called after every step.
	Progress func(TrainProgress)
}

// TrainProgress is where a training run stands after a step.
type TrainProgress struct {
	Step, Steps int
	Loss        float64 // this step's symmetric contrastive loss
	// On this step's batch: image→text and text→image top-1 among the batch, and the share of
	// images whose caption scores above its hard negative.
	ImageToText, TextToImage, HardNegative float64
	Temperature                            float64
	LearningRate                           float64
	Elapsed, StepTime                      time.Duration
}

// Trained is a freshly trained reward model, ready to Save.
type Trained struct {
	Config *align.AlignConfig
	Vocab  []string
	store  *model.Store
}

// Train trains the reward model from scratch with ALIGN's objective: for a batch of renders and
// their captions, the symmetric cross-entropy (label smoothing 0.1) of the image·text cosines
// divided by the learned temperature, image→text over the batch's captions plus one hard negative
// per render (its caption with one attribute swapped, see Example), text→image over the batch's
// renders. Every example is fresh (toyworld.GenericScene of TrainSeed(Seed, k)). The image
// tower trains with batch statistics and keeps PyTorch's running averages for inference
// (align.AlignVisionModelTraining). The same options on the same backend give the same weights.
func Train(ctx context.Context, opts TrainOptions) (tr *Trained, err error) {
	if opts.Steps <= 0 || opts.Batch <= 0 {
		return nil, fmt.Errorf("rewardmodel: train: steps (%d) and batch (%d) must be positive", opts.Steps, opts.Batch)
	}
	if opts.LearningRate == 0 {
		opts.LearningRate = 2e-3
	}
	if opts.WarmupSteps == 0 {
		opts.WarmupSteps = max(1, opts.Steps/20)
	}
	if opts.WeightDecay == 0 {
		opts.WeightDecay = 1e-2
	}
	if opts.Backend == nil {
		if opts.Backend, err = backend.Default(); err != nil {
			return nil, err
		}
	}
	vocab := Vocabulary()
	cfg := NewConfig(len(vocab))
	tok, err := tokenizer(vocab)
	if err != nil {
		return nil, err
	}
	proc, err := align.ParseImageProcessor(preprocessorJSON())
	if err != nil {
		return nil, fmt.Errorf("rewardmodel: %w", err)
	}
	m := &align.ALIGN{Config: cfg}

	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(opts.Seed&math.MaxInt64))
	if err := declare(opts.Backend, store, m); err != nil {
		return nil, err
	}
	B := opts.Batch
	step := hostexec.New(opts.Backend, store, "rewardmodel: train", func(scope *model.Scope, in []*Node) []*Node {
		pixels, ids, mask, lr := in[0], in[1], in[2], in[3]
		net := scope.In("model")
		_, img := align.AlignVisionModelTraining(net.In("vision_model"), cfg.VisionConfig, TransposeAllAxes(pixels, 0, 2, 3, 1))
		txt := m.TextFeatures(net, ids, mask, nil)
		logits := m.LogitsPerImage(net, img, txt) // [B, 2B]: captions, then hard negatives
		i2t := smoothedCE(logits)
		t2i := smoothedCE(Transpose(Slice(logits, AxisRange(), AxisRange(0, B)), 0, 1))
		loss := DivScalar(Add(i2t, t2i), 2)
		// AdamW (β = 0.9, 0.999, ε = 1e-8) at the host's learning rate, decaying matrices and
		// kernels only; the temperature is kept in [0.01, 1] after its update.
		optim.AdamW{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: opts.WeightDecay, DecayMatricesOnly: true,
			Scope: optimizerScope}.UpdateWithLearningRate(net, loss, lr)
		if temp := scope.Store().GetVariable(modelScope + "/temperature"); temp != nil && temp.InUseByGraph(loss.Graph()) {
			temp.SetNodeValue(MinScalar(MaxScalar(temp.NodeValue(loss.Graph()), 0.01), 1.0))
		}

		diag := Iota(loss.Graph(), shapes.Make(dtypes.Int32, B), 0)
		hits := func(l *Node) *Node {
			return ReduceAllMean(ConvertDType(Equal(ArgMax(l, -1, dtypes.Int32), diag), dtypes.Float32))
		}
		pos := Slice(logits, AxisRange(), AxisRange(0, B))
		neg := Slice(logits, AxisRange(), AxisRange(B, 2*B))
		eye := ConvertDType(Equal(ExpandAxes(diag, -1), ExpandAxes(diag, 0)), dtypes.Float32)
		hard := ReduceAllMean(ConvertDType(GreaterThan(ReduceSum(Mul(pos, eye), -1), ReduceSum(Mul(neg, eye), -1)), dtypes.Float32))
		temp := store.GetVariable(modelScope + "/temperature").NodeValue(loss.Graph())
		return []*Node{loss, hits(pos), hits(Transpose(pos, 0, 1)), hard, temp}
	})
	defer step.Finalize()

	type batch struct{ pixels, ids, mask *tensors.Tensor }
	start := time.Now()
	loop := trainrun.Loop[batch]{Name: "rewardmodel: train", Steps: opts.Steps,
		Draw: func(s int) (b batch, err error) {
			seeds := make([]uint64, B)
			for i := range seeds {
				seeds[i] = TrainSeed(opts.Seed, s*B+i)
			}
			b.pixels, b.ids, b.mask, err = encodeBatch(seeds, proc, tok)
			return b, err
		},
		Train: func(s int, b batch) error {
			t0 := time.Now()
			lr := learningRate(opts, s)
			outs, err := step.Call(b.pixels, b.ids, b.mask, float32(lr))
			if err != nil {
				return fmt.Errorf("rewardmodel: train: step %d: %w", s, err)
			}
			p := TrainProgress{Step: s + 1, Steps: opts.Steps, LearningRate: lr}
			vals := make([]float64, len(outs))
			for i, o := range outs {
				vals[i] = float64(tensors.ToScalar[float32](o))
				_ = o.FinalizeAll()
			}
			p.Loss, p.ImageToText, p.TextToImage, p.HardNegative, p.Temperature = vals[0], vals[1], vals[2], vals[3], vals[4]
			if math.IsNaN(p.Loss) || math.IsInf(p.Loss, 0) {
				return fmt.Errorf("rewardmodel: train: step %d: loss is %v", s+1, p.Loss)
			}
			p.Elapsed, p.StepTime = time.Since(start), time.Since(t0)
			if opts.Progress != nil {
				opts.Progress(p)
			}
			return nil
		},
	}
	if err := loop.Run(ctx, 0); err != nil {
		return nil, err
	}
	if err := store.DeleteVariablesInScope(optimizerScope); err != nil {
		return nil, fmt.Errorf("rewardmodel: train: %w", err)
	}
	return &Trained{Config: cfg, Vocab: vocab, store: store}, nil
}

// declare creates and initialises the model's variables under modelScope and marks the
// BatchNorms' running statistics non-trainable (they are averaged, not learned).
func declare(b compute.Backend, store *model.Store, m *align.ALIGN) error {
	tc, vc := m.Config.TextConfig, m.Config.VisionConfig
	ids := shapes.Make(dtypes.Int32, 1, tc.MaxPositionEmbeddings)
	err := weights.Declare(b, store, func(scope *model.Scope, in []*Node) {
		net := scope.In("model")
		m.LogitsPerImage(net, m.ImageFeatures(net, in[0]), m.TextFeatures(net, in[1], in[2], nil))
	}, shapes.Make(dtypes.Float32, 1, vc.ImageSize, vc.ImageSize, vc.NumChannels), ids, ids)
	if err != nil {
		return fmt.Errorf("rewardmodel: %w", err)
	}
	// Initialise now: building a graph again would replace the initialisers nn.Variable set.
	if err := nn.InitializeVariables(b, store); err != nil {
		return fmt.Errorf("rewardmodel: initialising the weights: %w", err)
	}
	for v := range store.IterVariables() {
		if strings.HasSuffix(v.Path(), "/running_mean") || strings.HasSuffix(v.Path(), "/running_var") {
			v.SetTrainable(false)
		}
	}
	return nil
}

// smoothedCE is the mean over rows of the cross-entropy of logits [n, k] against target i for
// row i, with label smoothing.
func smoothedCE(logits *Node) *Node {
	n, k := logits.Shape().Dim(0), logits.Shape().Dim(1)
	logp := LogSoftmax(logits, -1)
	target := OneHot(Iota(logits.Graph(), shapes.Make(dtypes.Int32, n), 0), k, dtypes.Float32)
	target = AddScalar(MulScalar(target, 1-labelSmoothing), labelSmoothing/float64(k))
	return Neg(ReduceAllMean(ReduceSum(Mul(target, logp), -1)))
}

// encodeBatch renders the examples of seeds and returns their preprocessed pixels
// [n, 3, 32, 32] and the token ids and attention masks [2n, TextLength] of their captions
// followed by their hard negatives.
func encodeBatch(seeds []uint64, proc align.ImageProcessor, tok *align.WordPiece) (pixels, ids, mask *tensors.Tensor, err error) {
	ex, err := NewExamples(seeds)
	if err != nil {
		return nil, nil, nil, err
	}
	n := len(ex)
	texts := make([]string, 2*n)
	for i, e := range ex {
		texts[i], texts[n+i] = e.Caption, e.Negative
	}
	px, shape, err := preprocess(proc, ex)
	if err != nil {
		return nil, nil, nil, err
	}
	idRows, maskRows, _ := tok.BatchEncode(texts, TextLength)
	flat := func(rows [][]int) []int32 {
		out := make([]int32, 0, len(rows)*TextLength)
		for _, r := range rows {
			for _, v := range r {
				out = append(out, int32(v))
			}
		}
		return out
	}
	return tensors.FromFlatDataAndDimensions(px, shape...),
		tensors.FromFlatDataAndDimensions(flat(idRows), 2*n, TextLength),
		tensors.FromFlatDataAndDimensions(flat(maskRows), 2*n, TextLength), nil
}

// learningRate is the schedule of step s (0-based): linear warm-up, then a cosine from the peak
// down to 2% of it.
func learningRate(o TrainOptions, s int) float64 {
	return trainrun.CosineToFloor(s, o.Steps, o.WarmupSteps, o.LearningRate, 0.02)
}

// tokenizer builds the WordPiece tokenizer of vocab as LoadALIGN will read it from the folder.
func tokenizer(vocab []string) (*align.WordPiece, error) {
	dir, err := os.MkdirTemp("", "rewardmodel-tokenizer-")
	if err != nil {
		return nil, fmt.Errorf("rewardmodel: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), vocabTxt(vocab), 0o644); err != nil {
		return nil, fmt.Errorf("rewardmodel: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), tokenizerJSON(), 0o644); err != nil {
		return nil, fmt.Errorf("rewardmodel: %w", err)
	}
	tok, err := align.LoadWordPiece(dir)
	if err != nil {
		return nil, fmt.Errorf("rewardmodel: %w", err)
	}
	return tok, nil
}
