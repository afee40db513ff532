package rpo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/fixtures"
	"github.com/gorpo/gorpo/preference"
	"github.com/gorpo/gorpo/schedule"
)

// The Trainer's tests run whole fine-tunes of the tiny random-weight Stable Diffusion (16×16
// images, 8×8 latents, 2-step PNDM sampling) with a fake embedder on the default backend.

// testGeneration is the tests' sampling: tiny and fast.
var testGeneration = Generation{Steps: 2, Guidance: 7.5, Height: 16, Width: 16, BatchSize: 4}

// testConfig is a 12-step run validating every 4 steps on 2 training prompts × 2 images, with a
// learning rate large enough that the weights and rewards move.
func testConfig(obj Objective) Config {
	cfg := DefaultConfig()
	cfg.Class = "dog"
	cfg.Objective = obj
	cfg.TrainingTemplates = []string{"a {V} {class} on the moon", "a {V} {class} in the snow"}
	cfg.ImagesPerPrompt = 2
	cfg.Steps = 12
	cfg.ValidateEvery = 4
	cfg.ValidationImagesPerPrompt = 1
	cfg.LearningRate = 2e-3
	cfg.NumClassImages = 3
	cfg.Seed = 7
	return cfg
}

// tinyEnv is a tiny SD folder shared by a test's runs; each run loads its own pipeline, since a
// run trains the U-Net in place.
type tinyEnv struct{ dir string }

func newTinyEnv(t *testing.T) *tinyEnv {
	t.Helper()
	dir := t.TempDir()
	if err := fixtures.WriteTinySD(dir); err != nil {
		t.Fatal(err)
	}
	return &tinyEnv{dir: dir}
}

func (e *tinyEnv) pipe(t *testing.T) *diffusion.Pipeline {
	t.Helper()
	p, err := loadTinySD(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// quiet are the options every test run takes.
func quiet(out string, extra ...TrainerOption) []TrainerOption {
	return append([]TrainerOption{OutDir(out), WithGeneration(testGeneration), Logger(io.Discard)}, extra...)
}

// storeWeights copies every variable under scope, by path relative to it.
func storeWeights(t *testing.T, store *model.Store, scope string) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for v := range store.IterVariables() {
		if rel, ok := strings.CutPrefix(v.Path(), scope+"/"); ok {
			out[rel] = tensors.MustCopyFlatData[float32](v.MustValue())
		}
	}
	if len(out) == 0 {
		t.Fatalf("no variables under %s", scope)
	}
	return out
}

// savedUNetWeights loads a checkpoint's unet/ folder and returns its weights.
func savedUNetWeights(t *testing.T, checkpoint string) map[string][]float32 {
	t.Helper()
	u, err := diffusion.LoadUNet(filepath.Join(checkpoint, CheckpointUNetDir))
	if err != nil {
		t.Fatal(err)
	}
	return storeWeights(t, u.Store(), diffusion.UNetScope)
}

// weightsDiff returns "" when a and b hold the same tensors bit for bit, else the first difference.
func weightsDiff(a, b map[string][]float32) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d tensors against %d", len(a), len(b))
	}
	names := make([]string, 0, len(a))
	for n := range a {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		x, y := a[n], b[n]
		if len(x) != len(y) {
			return fmt.Sprintf("%s: %d values against %d", n, len(x), len(y))
		}
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				return fmt.Sprintf("%s[%d]: %v against %v", n, i, x[i], y[i])
			}
		}
	}
	return ""
}

// sameFile fails the test unless two files hold the same bytes.
func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s and %s differ", a, b)
	}
}

// stepLosses returns the losses recorded in a run's metrics.jsonl, step by step.
func stepLosses(t *testing.T, out string) []Losses {
	t.Helper()
	m, err := ReadMetrics(filepath.Join(out, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var l []Losses
	for i, s := range m.Steps {
		if s.Step != i+1 {
			t.Fatalf("%s: step record %d is step %d", out, i, s.Step)
		}
		l = append(l, s.Losses)
	}
	return l
}

// RPO end to end: set-up, 12 steps, 3 validations; the best checkpoint on disk holds the weights
// of the best validation; the outputs exist; only the trained U-Net changed; the pipeline is left
// with the best weights.
func TestTrainerRPO(t *testing.T) {
	env := newTinyEnv(t)
	pipe := env.pipe(t)
	store := pipe.UNet.Store()
	initial := storeWeights(t, store, diffusion.UNetScope)
	vaeBefore := storeWeights(t, pipe.VAE.Store(), diffusion.VAEScope)

	out := t.TempDir()
	cfg := testConfig(ObjectiveRPO)
	recorded := map[int]map[string][]float32{}
	var steps []int
	var validated, bests []int
	var log bytes.Buffer
	hooks := Hooks{
		OnStep: func(step int, l Losses) {
			steps = append(steps, step)
			for _, name := range []string{LossTotal, LossSim, LossPre, LossLogit, LossMSEGen, LossMSEBaseRef, LossMSEBaseGen} {
				if _, ok := l[name]; !ok {
					t.Errorf("step %d: no %s in %v", step, name, l)
				}
			}
		},
		OnValidate: func(step int, reward float64, images []image.Image) bool {
			validated = append(validated, step)
			recorded[step] = storeWeights(t, store, diffusion.UNetScope)
			if d := weightsDiff(storeWeights(t, store, BaseUNetScope), initial); d != "" {
				t.Errorf("step %d: the frozen base U-Net changed: %s", step, d)
			}
			if len(images) != len(cfg.TrainingTemplates)*cfg.ValidationImagesPerPrompt {
				t.Errorf("step %d: %d validation images", step, len(images))
			}
			return false
		},
		OnBest: func(step int, reward float64) { bests = append(bests, step) },
	}
	tr, err := NewTrainer(cfg, pipe, newFakeEmbedder(), testReferences(3),
		OutDir(out), WithGeneration(testGeneration), Logger(&log), Display(DisplayLines), WithHooks(hooks),
		PlotRewardCurve(testCurvePlotter))
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("result: %+v", *res)

	if res.StepsTrained != 12 || res.StopReason != StopSteps || !slices.Equal(steps, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Errorf("trained %d steps (%s), hooks saw %v", res.StepsTrained, res.StopReason, steps)
	}
	if !slices.Equal(validated, []int{4, 8, 12}) || len(res.Rewards) != 3 {
		t.Fatalf("validations at %v, rewards %v", validated, res.Rewards)
	}
	best := BestPoint(res.Rewards)
	if res.BestStep != res.Rewards[best].Step || res.BestReward != res.Rewards[best].Reward {
		t.Errorf("best %d/%v, rewards %v", res.BestStep, res.BestReward, res.Rewards)
	}
	if bests[len(bests)-1] != res.BestStep || bests[0] != 4 {
		t.Errorf("OnBest at %v, best step %d", bests, res.BestStep)
	}
	if res.BestDir != filepath.Join(out, BestCheckpoint) || res.WeightsDir != res.BestDir || res.FinalDir != "" {
		t.Errorf("dirs: best %q, weights %q, final %q", res.BestDir, res.WeightsDir, res.FinalDir)
	}

	// The checkpoint is the best validation's weights, and differs from the others'.
	onDisk := savedUNetWeights(t, res.BestDir)
	if d := weightsDiff(onDisk, recorded[res.BestStep]); d != "" {
		t.Errorf("best checkpoint differs from the weights validated at step %d: %s", res.BestStep, d)
	}
	for step, w := range recorded {
		if step != res.BestStep && weightsDiff(onDisk, w) == "" {
			t.Errorf("the weights did not change between steps %d and %d", step, res.BestStep)
		}
	}
	state, err := LoadCheckpointState(res.BestDir)
	if err != nil {
		t.Fatal(err)
	}
	if state.Step != res.BestStep || state.BestStep != res.BestStep || state.BestReward != res.BestReward {
		t.Errorf("best/state.json: %+v", state)
	}
	// The pipeline holds the best weights, no longer the frozen copy and the optimiser's state;
	// the VAE is unchanged.
	if d := weightsDiff(storeWeights(t, store, diffusion.UNetScope), onDisk); d != "" {
		t.Errorf("the pipeline's U-Net is not the best checkpoint: %s", d)
	}
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), BaseUNetScope+"/") || strings.HasPrefix(v.Path(), DefaultOptimizerScope+"/") {
			t.Fatalf("%s is still in the U-Net's Store after Run", v.Path())
		}
	}
	if d := weightsDiff(storeWeights(t, pipe.VAE.Store(), diffusion.VAEScope), vaeBefore); d != "" {
		t.Errorf("the VAE changed: %s", d)
	}

	// Observability.
	m, err := ReadMetrics(filepath.Join(out, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Steps) != 12 || len(m.Validations) != 3 {
		t.Errorf("metrics.jsonl: %d steps, %d validations", len(m.Steps), len(m.Validations))
	}
	for i, v := range m.Validations {
		if v.Step != res.Rewards[i].Step || v.Reward != res.Rewards[i].Reward || len(v.PromptRewards) != 2 {
			t.Errorf("validation record %+v, result %+v", v, res.Rewards[i])
		}
	}
	for _, name := range []string{"reward_curve.png", "validation/step-0004.png", "validation/step-0008.png", "validation/step-0012.png"} {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(f); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		f.Close()
	}
	for _, name := range []string{RunFile, SetupFile, LatestCheckpoint + "/" + CheckpointOptimizerFile, LatestCheckpoint + "/" + trainerStateFile} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	for _, want := range []string{"rpo: train 12/12 loss", "rpo: validation at step 12: reward", "rpo: done: 12 steps"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, log.String())
		}
	}
}

// The same seed gives the same labels, losses and weights; a second run reads I_gen from the
// cache; a run cancelled between steps, or during a validation, and resumed reaches the same
// weights, optimiser state and rewards as the uninterrupted one; a run stopped by OnValidate
// resumes too.
func TestTrainerDeterminismCacheResume(t *testing.T) {
	env := newTinyEnv(t)
	cache := t.TempDir()
	cfg := testConfig(ObjectiveRPO)
	refs := testReferences(3)
	generated := func(n *int) TrainerOption {
		return Progress(func(ev ProgressEvent) {
			if ev.Phase == PhaseGenerate {
				*n++
			}
		})
	}

	// A: uninterrupted.
	outA := filepath.Join(t.TempDir(), "a")
	var genA int
	resA, err := mustTrainer(t, cfg, env.pipe(t), refs, quiet(outA, CacheDir(cache), generated(&genA))...).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// B: the same seed in another folder, I_gen from the cache.
	outB := filepath.Join(t.TempDir(), "b")
	var genB int
	resB, err := mustTrainer(t, cfg, env.pipe(t), refs, quiet(outB, CacheDir(cache), generated(&genB))...).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if genA == 0 || genB != 0 {
		t.Errorf("generation events: %d in the first run, %d in the second (want > 0 and 0)", genA, genB)
	}
	if !slices.Equal(stepLossList(stepLosses(t, outA)), stepLossList(stepLosses(t, outB))) {
		t.Errorf("the same seed gave other losses (labels)")
	}
	compareRuns(t, outA, outB, resA, resB)

	// Another seed draws other labels and noise.
	other := cfg
	other.Seed++
	outS := filepath.Join(t.TempDir(), "s")
	if _, err := mustTrainer(t, other, env.pipe(t), refs, quiet(outS, CacheDir(cache))...).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(stepLossList(stepLosses(t, outA)), stepLossList(stepLosses(t, outS))) {
		t.Errorf("another seed gave the same losses")
	}

	// C and D: cancelled from OnStep at a plain step and at a validation step, then resumed.
	for _, at := range []int{6, 8} {
		out := filepath.Join(t.TempDir(), fmt.Sprintf("cancel%d", at))
		ctx, cancel := context.WithCancel(context.Background())
		_, err := mustTrainer(t, cfg, env.pipe(t), refs, quiet(out, CacheDir(cache),
			WithHooks(Hooks{OnStep: func(step int, _ Losses) {
				if step == at {
					cancel()
				}
			}}))...).Run(ctx)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled at step %d: err = %v, want context.Canceled", at, err)
		}
		state, err := LoadCheckpointState(filepath.Join(out, LatestCheckpoint))
		if err != nil || state.Step != at {
			t.Fatalf("latest after cancelling at %d: step %d, %v", at, state.Step, err)
		}
		if bs, err := LoadCheckpointState(filepath.Join(out, BestCheckpoint)); err != nil || bs.Step != 4 {
			t.Fatalf("best after cancelling at %d: step %d, %v", at, bs.Step, err)
		}
		rp, err := loadResumePoint(filepath.Join(out, LatestCheckpoint))
		if err != nil || rp.trainer.ValidatedStep != 4 || len(rp.trainer.Rewards) != 1 {
			// At step 8 the validation was interrupted: Resume must redo it.
			t.Fatalf("latest after cancelling at %d: %+v, %v", at, rp, err)
		}
		res, err := Resume(context.Background(), out, env.pipe(t), newFakeEmbedder(), refs, quiet(out, CacheDir(cache))...)
		if err != nil {
			t.Fatal(err)
		}
		compareRuns(t, outA, out, resA, res)
		if !slices.Equal(stepLossList(stepLosses(t, outA)), stepLossList(stepLosses(t, out))) {
			t.Errorf("resumed after step %d: other losses", at)
		}
	}

	// E: stopped by OnValidate at step 4, resumed without the hook.
	outE := filepath.Join(t.TempDir(), "e")
	resE, err := mustTrainer(t, cfg, env.pipe(t), refs, quiet(outE, CacheDir(cache),
		WithHooks(Hooks{OnValidate: func(step int, _ float64, _ []image.Image) bool { return true }}))...).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resE.StopReason != StopHook || resE.StepsTrained != 4 {
		t.Fatalf("OnValidate stop: %+v", *resE)
	}
	resE, err = Resume(context.Background(), outE, env.pipe(t), newFakeEmbedder(), refs, quiet(outE, CacheDir(cache))...)
	if err != nil {
		t.Fatal(err)
	}
	compareRuns(t, outA, outE, resA, resE)

	// A finished run resumes to its result without training.
	var steps int
	again, err := Resume(context.Background(), outA, env.pipe(t), newFakeEmbedder(), refs,
		quiet(outA, CacheDir(cache), WithHooks(Hooks{OnStep: func(int, Losses) { steps++ }}))...)
	if err != nil {
		t.Fatal(err)
	}
	if steps != 0 || again.StepsTrained != 12 || again.BestStep != resA.BestStep || again.BestReward != resA.BestReward {
		t.Errorf("resuming a finished run: %d steps, %+v", steps, *again)
	}
}

func mustTrainer(t *testing.T, cfg Config, pipe *diffusion.Pipeline, refs []image.Image, opts ...TrainerOption) *Trainer {
	t.Helper()
	tr, err := NewTrainer(cfg, pipe, newFakeEmbedder(), refs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// stepLossList flattens losses for comparison, in a fixed order.
func stepLossList(ls []Losses) []float64 {
	var out []float64
	for _, l := range ls {
		names := make([]string, 0, len(l))
		for n := range l {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, l[n])
		}
	}
	return out
}

// compareRuns checks that two runs of one configuration ended in the same state.
func compareRuns(t *testing.T, outA, outB string, a, b *Result) {
	t.Helper()
	if !slices.Equal(a.Rewards, b.Rewards) || a.BestStep != b.BestStep || a.BestReward != b.BestReward || a.StepsTrained != b.StepsTrained {
		t.Errorf("%s: rewards %v best %d/%v; %s: rewards %v best %d/%v", outA, a.Rewards, a.BestStep, a.BestReward,
			outB, b.Rewards, b.BestStep, b.BestReward)
	}
	for _, name := range []string{
		"latest/unet/diffusion_pytorch_model.safetensors", "latest/optimizer.safetensors",
		"best/unet/diffusion_pytorch_model.safetensors",
	} {
		sameFile(t, filepath.Join(outA, name), filepath.Join(outB, name))
	}
	sa, err := LoadCheckpointState(filepath.Join(outA, LatestCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := LoadCheckpointState(filepath.Join(outB, LatestCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	if sa.Step != sb.Step || !bytes.Equal(sa.SamplerRNG, sb.SamplerRNG) || !slices.Equal(sa.GraphRNG, sb.GraphRNG) {
		t.Errorf("latest states differ: %+v against %+v", sa, sb)
	}
}

// Patience ends a run once that many validations in a row brought no new best, consistently
// with the rewards; without improvement the weights are those of the best validation.
func TestTrainerPatience(t *testing.T) {
	env := newTinyEnv(t)
	cfg := testConfig(ObjectiveSimEarlyStopping)
	cfg.Steps, cfg.ValidateEvery, cfg.Patience = 12, 2, 1
	out := t.TempDir()
	res, err := mustTrainer(t, cfg, env.pipe(t), testReferences(2), quiet(out)...).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *res)
	// Replay the policy over the rewards.
	e := NewEarlyStopping(cfg.Patience)
	stopAt := 0
	for _, p := range res.Rewards {
		if _, stop := e.Observe(p.Step, p.Reward); stop {
			stopAt = p.Step
			break
		}
	}
	switch {
	case stopAt > 0 && (res.StopReason != StopPatience || res.StepsTrained != stopAt):
		t.Errorf("the policy stops at step %d, the run: %s after %d steps", stopAt, res.StopReason, res.StepsTrained)
	case stopAt == 0 && (res.StopReason != StopSteps || res.StepsTrained != cfg.Steps):
		t.Errorf("the policy never stops, the run: %s after %d steps", res.StopReason, res.StepsTrained)
	}
	if res.BestStep != e.BestStep {
		t.Errorf("best step %d, the policy's %d", res.BestStep, e.BestStep)
	}
}

// firstOnly is a StoppingPolicy that calls the first validation best and stops at the second.
type firstOnly struct{ seen []int }

func (f *firstOnly) Observe(step int, reward float64) (best, stop bool) {
	f.seen = append(f.seen, step)
	return len(f.seen) == 1, len(f.seen) == 2
}

// WithStopping replaces the paper's rule: the run keeps the weights the policy calls best, stops
// when it says so (StopPatience), and the policy is built from a fresh CheckpointState.
func TestTrainerStoppingPolicy(t *testing.T) {
	env := newTinyEnv(t)
	cfg := testConfig(ObjectiveSimEarlyStopping)
	cfg.Steps, cfg.ValidateEvery = 12, 2
	policy := &firstOnly{}
	var resumed []CheckpointState
	out := t.TempDir()
	res, err := mustTrainer(t, cfg, env.pipe(t), testReferences(2), quiet(out,
		WithStopping(func(s CheckpointState) StoppingPolicy { resumed = append(resumed, s); return policy }))...).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(resumed) != 1 || resumed[0].Step != 0 || resumed[0].HasBest {
		t.Errorf("policy built from %+v, want one fresh state", resumed)
	}
	if !slices.Equal(policy.seen, []int{2, 4}) || res.StopReason != StopPatience || res.StepsTrained != 4 {
		t.Errorf("policy saw %v; run: %s after %d steps, want patience after 4", policy.seen, res.StopReason, res.StepsTrained)
	}
	st, err := LoadCheckpointState(filepath.Join(out, LatestCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	if !st.HasBest || st.BestStep != 2 || st.SinceBest != 1 {
		t.Errorf("latest/ records best %v at %d, %d since; want step 2, 1 since", st.HasBest, st.BestStep, st.SinceBest)
	}
	if _, err := NewTrainer(cfg, env.pipe(t), newFakeEmbedder(), testReferences(2), WithStopping(nil)); err == nil {
		t.Error("WithStopping(nil) accepted")
	}
}

// Every objective runs, with the loss terms it defines and the weights it keeps: the L_sim ones
// (also without a validation, and so without an embedder), RPO without early stopping (its last
// weights in final/), DreamBooth with class images (cached as I_gen is); also under the paper's
// Eq. 8 conditioning and for a v-prediction model.
func TestTrainerObjectives(t *testing.T) {
	env := newTinyEnv(t)
	cases := []struct {
		name   string
		cfg    func() Config
		pipe   func(*diffusion.Pipeline)
		losses []string
		noEmb  bool
	}{
		{name: "sim", cfg: func() Config {
			c := testConfig(ObjectiveSim)
			c.Steps, c.ValidateEvery = 4, 0
			return c
		}, losses: []string{LossTotal, LossSim}, noEmb: true},
		{name: "sim_early_stopping", cfg: func() Config {
			c := testConfig(ObjectiveSimEarlyStopping)
			c.Steps, c.ValidateEvery = 4, 2
			return c
		}, losses: []string{LossTotal, LossSim}},
		{name: "rpo_no_early_stopping", cfg: func() Config {
			c := testConfig(ObjectiveRPONoEarlyStopping)
			c.Steps, c.ValidateEvery = 4, 2
			return c
		}, losses: []string{LossTotal, LossSim, LossPre}},
		{name: "dreambooth", cfg: func() Config {
			c := testConfig(ObjectiveDreamBooth)
			c.Steps, c.ValidateEvery, c.BatchSize = 4, 0, 2
			return c
		}, losses: []string{LossTotal, LossSim, LossPrior}, noEmb: true},
		{name: "rpo_eq8_vprediction", cfg: func() Config {
			c := testConfig(ObjectiveRPO)
			c.Steps, c.ValidateEvery, c.Conditioning = 4, 2, ConditionTrainingPrompt
			return c
		}, pipe: func(p *diffusion.Pipeline) { p.Scheduler.PredictionType = schedule.PredictV },
			losses: []string{LossTotal, LossSim, LossPre}},
		{name: "sim_eq8", cfg: func() Config {
			c := testConfig(ObjectiveSim)
			c.Steps, c.ValidateEvery, c.Conditioning = 3, 0, ConditionTrainingPrompt
			return c
		}, losses: []string{LossTotal, LossSim}, noEmb: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg()
			pipe := env.pipe(t)
			if c.pipe != nil {
				c.pipe(pipe)
			}
			before := storeWeights(t, pipe.UNet.Store(), diffusion.UNetScope)
			out := t.TempDir()
			var emb *FakeEmbedder
			if !c.noEmb {
				emb = newFakeEmbedder()
			}
			var last Losses
			opts := quiet(out, WithHooks(Hooks{OnStep: func(_ int, l Losses) { last = l }}))
			var tr *Trainer
			var err error
			if emb == nil {
				tr, err = NewTrainer(cfg, pipe, nil, testReferences(2), opts...)
			} else {
				tr, err = NewTrainer(cfg, pipe, emb, testReferences(2), opts...)
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := tr.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for n, v := range last {
				names = append(names, n)
				if !isFinite(v) {
					t.Errorf("%s = %v", n, v)
				}
			}
			for _, n := range c.losses {
				if !slices.Contains(names, n) {
					t.Errorf("losses %v lack %s", names, n)
				}
			}
			if cfg.Objective != ObjectiveDreamBooth && slices.Contains(names, LossPrior) ||
				!cfg.Objective.Preference() && slices.Contains(names, LossPre) {
				t.Errorf("losses %v have terms of another objective", names)
			}
			after := storeWeights(t, pipe.UNet.Store(), diffusion.UNetScope)
			if weightsDiff(before, after) == "" {
				t.Error("the U-Net did not change")
			}
			if cfg.Objective.EarlyStopping() {
				if res.WeightsDir != res.BestDir || res.BestDir == "" {
					t.Errorf("early stopping keeps %q, best %q", res.WeightsDir, res.BestDir)
				}
			} else {
				if res.WeightsDir != filepath.Join(out, FinalCheckpoint) {
					t.Errorf("kept weights in %q, want final/", res.WeightsDir)
				}
				if d := weightsDiff(savedUNetWeights(t, res.WeightsDir), after); d != "" {
					t.Errorf("final/ is not the last weights: %s", d)
				}
			}
			validations := 0
			if cfg.ValidateEvery > 0 {
				validations = cfg.Steps / cfg.ValidateEvery
			}
			if len(res.Rewards) != validations {
				t.Errorf("%d validations, want %d", len(res.Rewards), validations)
			}
			if cfg.Objective == ObjectiveDreamBooth {
				matches, _ := filepath.Glob(filepath.Join(out, "cache", "class-*", "image-*.png"))
				if len(matches) != cfg.NumClassImages {
					t.Errorf("%d cached class images, want %d", len(matches), cfg.NumClassImages)
				}
			}
		})
	}
}

// Bad input is refused before anything is written, naming what is wrong.
func TestTrainerBadInput(t *testing.T) {
	env := newTinyEnv(t)
	pipe := env.pipe(t)
	emb := newFakeEmbedder()
	refs := testReferences(2)
	good := testConfig(ObjectiveRPO)
	with := func(f func(*Config)) Config { c := good; f(&c); return c }
	cases := []struct {
		name string
		cfg  Config
		pipe *diffusion.Pipeline
		emb  bool
		refs []image.Image
		opts []TrainerOption
		want string
	}{
		{"no references", good, pipe, true, nil, nil, "no reference images"},
		{"nil reference", good, pipe, true, []image.Image{refs[0], nil}, nil, "reference image 1 is nil"},
		{"empty reference", good, pipe, true, []image.Image{image.NewRGBA(image.Rect(0, 0, 0, 0))}, nil, "reference image 0 is empty"},
		{"subject prompt without token", with(func(c *Config) { c.SubjectPrompt = "a photo of a dog" }), pipe, true, refs, nil, "SubjectPrompt"},
		{"training prompt without token", with(func(c *Config) { c.TrainingTemplates = []string{"a dog"} }), pipe, true, refs, nil, "TrainingTemplates[0]"},
		{"lambda_val", with(func(c *Config) { c.LambdaVal = 1.5 }), pipe, true, refs, nil, "LambdaVal"},
		{"lambda_train", with(func(c *Config) { c.LambdaTrain = -0.1 }), pipe, true, refs, nil, "LambdaTrain"},
		{"nil pipeline", good, nil, true, refs, nil, "nil pipeline"},
		{"nil embedder", good, pipe, false, refs, nil, "nil embedder"},
		{"generation", good, pipe, true, refs, []TrainerOption{WithGeneration(Generation{Steps: 0, Guidance: 7.5, BatchSize: 1})}, "steps 0"},
		{"size", good, pipe, true, refs, []TrainerOption{WithGeneration(Generation{Steps: 2, Guidance: 1, Height: 12, Width: 12, BatchSize: 1})}, "multiples of 8"},
		{"empty out dir", good, pipe, true, refs, []TrainerOption{OutDir(" ")}, "OutDir"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			opts := append([]TrainerOption{OutDir(out), Logger(io.Discard), WithGeneration(testGeneration)}, c.opts...)
			var err error
			if c.emb {
				_, err = NewTrainer(c.cfg, c.pipe, emb, c.refs, opts...)
			} else {
				_, err = NewTrainer(c.cfg, c.pipe, nil, c.refs, opts...)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
			if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("%s was written", out)
			}
		})
	}

	// An unreadable checkpoint: Resume says so and changes nothing.
	t.Run("corrupt checkpoint", func(t *testing.T) {
		out := t.TempDir()
		cfg := good
		cfg.Steps = 4
		if _, err := mustTrainer(t, cfg, env.pipe(t), refs, quiet(out)...).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		state := filepath.Join(out, LatestCheckpoint, CheckpointStateFile)
		if err := os.WriteFile(state, []byte("{not json"), 0o644); err != nil {
			t.Fatal(err)
		}
		metricsBefore, _ := os.ReadFile(filepath.Join(out, MetricsFile))
		_, err := Resume(context.Background(), out, env.pipe(t), emb, refs, quiet(out)...)
		if !errors.Is(err, ErrBadCheckpoint) {
			t.Fatalf("err = %v, want ErrBadCheckpoint", err)
		}
		metricsAfter, _ := os.ReadFile(filepath.Join(out, MetricsFile))
		if !bytes.Equal(metricsBefore, metricsAfter) {
			t.Error("metrics.jsonl changed")
		}
		// A folder holding a run is refused by Run, and reused with Overwrite.
		if _, err := mustTrainer(t, cfg, env.pipe(t), refs, quiet(out)...).Run(context.Background()); err == nil ||
			!strings.Contains(err.Error(), "holds an earlier run") {
			t.Fatalf("Run over an earlier run: %v", err)
		}
		if _, err := mustTrainer(t, cfg, env.pipe(t), refs, quiet(out, Overwrite())...).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// Labels come from the seeded Sampler in the seeded visiting order: the same seed draws the same
// sequence, another seed another, and a pair visited again draws its label anew.
func TestPlanLabels(t *testing.T) {
	cfg := testConfig(ObjectiveRPO)
	cfg.BatchSize = 2
	training := []string{"a [V] dog on the moon", "a [V] dog in the snow"}
	// Pair rewards with P(reference preferred) between 0.3 and 0.7.
	pairs := []preference.Pair{
		{Reference: 0, Generated: 0, Prompt: training[0], RewardReference: 0.5, RewardGenerated: 0.4},
		{Reference: 0, Generated: 1, Prompt: training[0], RewardReference: 0.5, RewardGenerated: 0.9},
		{Reference: 1, Generated: 2, Prompt: training[1], RewardReference: 0.2, RewardGenerated: 0.1},
		{Reference: 1, Generated: 3, Prompt: training[1], RewardReference: 0.2, RewardGenerated: 0.5},
	}
	draw := func(seed uint64) (labels []float32, visited []int) {
		c := cfg
		c.Seed = seed
		p := newPlan(c, pairs, []string{"a photo of [V] dog", "a photo of [V] dog"}, "", training, 0)
		for step := 1; step <= 20; step++ {
			vs, err := p.step(step)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				labels = append(labels, v.label)
				visited = append(visited, v.pair)
			}
		}
		return labels, visited
	}
	l1, v1 := draw(1)
	l2, v2 := draw(1)
	l3, v3 := draw(2)
	if !slices.Equal(l1, l2) || !slices.Equal(v1, v2) {
		t.Error("the same seed drew other labels or order")
	}
	if slices.Equal(l1, l3) && slices.Equal(v1, v3) {
		t.Error("another seed drew the same labels and order")
	}
	// Each epoch visits every pair once, and pairs get both labels over the epochs.
	seen := map[int]map[float32]bool{}
	for e := 0; e < len(v1)/4; e++ {
		epoch := slices.Clone(v1[4*e : 4*e+4])
		slices.Sort(epoch)
		if !slices.Equal(epoch, []int{0, 1, 2, 3}) {
			t.Errorf("epoch %d visits %v", e, v1[4*e:4*e+4])
		}
	}
	for i, p := range v1 {
		if seen[p] == nil {
			seen[p] = map[float32]bool{}
		}
		seen[p][l1[i]] = true
	}
	for p, ys := range seen {
		if len(ys) != 2 {
			t.Errorf("pair %d always drew %v over %d visits", p, ys, len(v1)/4)
		}
	}
}

// The reference photos are resized to cover the model's size and centre-cropped, into [-1, 1].
func TestPrepareImage(t *testing.T) {
	refs := testReferences(1)
	px, err := prepareImage(refs[0], 16, 16)
	if err != nil {
		t.Fatal(err)
	}
	if len(px) != 3*16*16 {
		t.Fatalf("%d values, want %d", len(px), 3*16*16)
	}
	for _, v := range px {
		if v < -1 || v > 1 {
			t.Fatalf("value %v outside [-1, 1]", v)
		}
	}
	// An image of the model's size is only mapped: v/255·2 − 1.
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	px, err = prepareImage(img, 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range px {
		if v != 1 {
			t.Fatalf("white maps to %v, want 1", v)
		}
	}
	// Non-square sizes cover and crop too.
	if px, err = prepareImage(refs[0], 8, 16); err != nil || len(px) != 3*8*16 {
		t.Fatalf("8×16: %d values, %v", len(px), err)
	}
}

// With LoRARank > 0 only the adapters train: the U-Net's weights stay the base ones, the best
// checkpoint is the adapter file (which LoadLoRA reads), and an interrupted run resumes to the
// same adapters and optimiser state.
func TestTrainerLoRA(t *testing.T) {
	env := newTinyEnv(t)
	cfg := testConfig(ObjectiveRPO)
	cfg.Steps, cfg.ValidateEvery, cfg.LoRARank, cfg.LoRAAlpha = 8, 4, 2, 4
	refs := testReferences(2)
	cache := t.TempDir()

	pipe := env.pipe(t)
	before := storeWeights(t, pipe.UNet.Store(), diffusion.UNetScope)
	outA := filepath.Join(t.TempDir(), "a")
	resA, err := mustTrainer(t, cfg, pipe, refs, quiet(outA, CacheDir(cache))...).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := weightsDiff(storeWeights(t, pipe.UNet.Store(), diffusion.UNetScope), before); d != "" {
		t.Errorf("LoRA training changed the U-Net: %s", d)
	}
	if pipe.UNet.Store().GetVariable(BaseUNetScope+"/conv_in/weight") != nil {
		t.Error("a LoRA run made a frozen copy of the U-Net")
	}
	file := filepath.Join(resA.WeightsDir, CheckpointLoRAFile)
	l, err := LoadLoRA(env.pipe(t).UNet, file)
	if err != nil {
		t.Fatalf("the best adapters do not load: %v", err)
	}
	if l.Rank() != 2 || l.Alpha() != 4 {
		t.Errorf("rank %d alpha %g, want 2 and 4", l.Rank(), l.Alpha())
	}
	// The pipeline holds the best adapters, trained away from lora_B = 0.
	adapters := storeWeights(t, pipe.UNet.Store(), LoRAScope)
	trained := false
	for name, v := range adapters {
		if strings.Contains(name, "lora_B") && slices.ContainsFunc(v, func(x float32) bool { return x != 0 }) {
			trained = true
		}
	}
	if !trained {
		t.Error("every lora_B is still zero")
	}
	if d := weightsDiff(adapters, storeWeights(t, l.unet.Store(), LoRAScope)); d != "" {
		t.Errorf("the pipeline's adapters are not the best ones: %s", d)
	}

	outB := filepath.Join(t.TempDir(), "b")
	ctx, cancel := context.WithCancel(context.Background())
	_, err = mustTrainer(t, cfg, env.pipe(t), refs, quiet(outB, CacheDir(cache),
		WithHooks(Hooks{OnStep: func(step int, _ Losses) {
			if step == 6 {
				cancel()
			}
		}}))...).Run(ctx)
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	resB, err := Resume(context.Background(), outB, env.pipe(t), newFakeEmbedder(), refs, quiet(outB, CacheDir(cache))...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(resA.Rewards, resB.Rewards) {
		t.Errorf("rewards %v, resumed %v", resA.Rewards, resB.Rewards)
	}
	for _, name := range []string{"latest/" + CheckpointLoRAFile, "latest/optimizer.safetensors", "best/" + CheckpointLoRAFile} {
		sameFile(t, filepath.Join(outA, name), filepath.Join(outB, name))
	}
}

// testCurvePlotter stands in for rpo/report's WriteRewardCurvePNG (which imports rpo): a PNG one
// pixel high with a pixel per point, so that a test sees the Trainer call its CurvePlotter.
func testCurvePlotter(path string, points []RewardPoint, title string) error {
	return WriteImageGrid(path, []image.Image{image.NewGray(image.Rect(0, 0, len(points), 1))}, 1)
}
