package judge

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/hostexec"
	"github.com/gorpo/gorpo/internal/optim"
	"github.com/gorpo/gorpo/internal/trainrun"
)

// Where the store keeps the network and the optimiser's state.
const (
	modelScope     = "/judge"
	optimizerScope = "/optimizer"
)

// TrainOptions configures Train. Zero fields take the defaults noted.
type TrainOptions struct {
	Config Config // DefaultConfig()
	Steps  int    // optimiser steps (required)
	Batch  int    // examples per step (required)
	Seed   uint64 // drives the initial weights and the training examples (TrainSeed)

	LearningRate float64 // Adam's peak learning rate: 2e-3
	WarmupSteps  int     // linear warm-up from 0: 5% of Steps
	WeightDecay  float64 // decoupled, on conv and Linear weights only: 1e-4
	// The learning rate falls from its peak to 2% of it along a cosine after the warm-up.

	Backend compute.Backend // backend.Default()
	// Progress, when set, is called after every step.
	Progress func(TrainProgress)
}

// TrainProgress is where a training run stands after a step.
type TrainProgress struct {
	Step, Steps  int
	Loss         float64           // this step's loss: the sum of the heads' cross-entropies
	Accuracy     [NumHeads]float64 // on this step's batch (fresh, augmented examples)
	LearningRate float64           // this step's
	Elapsed      time.Duration     // since the first step began (rendering included)
	StepTime     time.Duration     // of this step alone
}

// Train trains a judge from scratch on freshly rendered examples (SampleScene of TrainSeed(Seed,
// k), augmented by Augment): every example is seen once. The same options on the same backend
// give the same weights. The result is ready to Predict, Evaluate and Save.
func Train(ctx context.Context, opts TrainOptions) (j *Judge, err error) {
	if opts.Steps <= 0 || opts.Batch <= 0 {
		return nil, fmt.Errorf("judge: train: steps (%d) and batch (%d) must be positive", opts.Steps, opts.Batch)
	}
	if opts.Config.Channels == nil {
		opts.Config = DefaultConfig()
	}
	if err := opts.Config.validate(); err != nil {
		return nil, err
	}
	if opts.LearningRate == 0 {
		opts.LearningRate = 2e-3
	}
	if opts.WarmupSteps == 0 {
		opts.WarmupSteps = max(1, opts.Steps/20)
	}
	if opts.WeightDecay == 0 {
		opts.WeightDecay = 1e-4
	}
	if opts.Backend == nil {
		if opts.Backend, err = backend.Default(); err != nil {
			return nil, err
		}
	}
	vocab := WorldVocabulary()
	sizes := vocab.Sizes()
	cfg := opts.Config

	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(opts.Seed&math.MaxInt64))
	step := hostexec.New(opts.Backend, store, "judge: train", func(scope *model.Scope, in []*Node) []*Node {
		x, labels, lr := in[0], in[1], in[2]
		net := scope.In("judge")
		logits := cfg.Logits(net, x, sizes)
		var loss *Node
		correct := make([]*Node, NumHeads)
		for h, lg := range logits {
			y := Slice(labels, AxisRange(), AxisElem(h)) // [batch, 1]
			y = Reshape(y, y.Shape().Dimensions[0])
			ce := Neg(ReduceAllMean(ReduceSum(Mul(OneHot(y, sizes[h], dtypes.Float32), LogSoftmax(lg, -1)), -1)))
			if loss == nil {
				loss = ce
			} else {
				loss = Add(loss, ce)
			}
			hit := Equal(ArgMax(lg, -1, dtypes.Int32), y)
			correct[h] = ReduceAllSum(ConvertDType(hit, dtypes.Float32))
		}
		// AdamW (β = 0.9, 0.999, ε = 1e-8) at the host's learning rate, decaying conv and Linear
		// weights only.
		optim.AdamW{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: opts.WeightDecay, DecayMatricesOnly: true,
			Scope: optimizerScope}.UpdateWithLearningRate(net, loss, lr)
		return append([]*Node{loss}, correct...)
	})
	defer step.Finalize()

	start := time.Now()
	loop := trainrun.Loop[*Batch]{Name: "judge: train", Steps: opts.Steps,
		Draw: func(s int) (*Batch, error) {
			seeds := make([]uint64, opts.Batch)
			for i := range seeds {
				seeds[i] = TrainSeed(opts.Seed, s*opts.Batch+i)
			}
			return RenderBatch(seeds, vocab, true)
		},
		Train: func(s int, b *Batch) error {
			t0 := time.Now()
			lr := learningRate(opts, s)
			x := tensors.FromFlatDataAndDimensions(b.Pixels, b.N, b.Size, b.Size, 3)
			flat := make([]int32, 0, b.N*NumHeads)
			for _, l := range b.Labels {
				flat = append(flat, l[:]...)
			}
			y := tensors.FromFlatDataAndDimensions(flat, b.N, NumHeads)
			outs, err := step.Call(x, y, float32(lr))
			if err != nil {
				return fmt.Errorf("judge: train: step %d: %w", s, err)
			}
			p := TrainProgress{Step: s + 1, Steps: opts.Steps, LearningRate: lr}
			p.Loss = float64(tensors.ToScalar[float32](outs[0]))
			for h := range NumHeads {
				p.Accuracy[h] = float64(tensors.ToScalar[float32](outs[1+h])) / float64(b.N)
			}
			for _, o := range outs {
				_ = o.FinalizeAll()
			}
			if math.IsNaN(p.Loss) || math.IsInf(p.Loss, 0) {
				return fmt.Errorf("judge: train: step %d: loss is %v", s+1, p.Loss)
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
	// The optimiser's state is not part of the judge.
	if err := store.DeleteVariablesInScope(optimizerScope); err != nil {
		return nil, fmt.Errorf("judge: train: %w", err)
	}
	return newJudge(opts.Backend, store, cfg, vocab), nil
}

// learningRate is the schedule of step s (0-based): linear warm-up, then a cosine from the peak
// down to 2% of it.
func learningRate(o TrainOptions, s int) float64 {
	return trainrun.CosineToFloor(s, o.Steps, o.WarmupSteps, o.LearningRate, 0.02)
}
