package rpo

import (
	"fmt"

	"github.com/gomlx/gomlx/support/exceptions"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/gorpo/gorpo/schedule"
)

// The losses are graph-building functions over tensors a training step has already computed (the
// models' predictions and their targets), so they know nothing of the models. Like all graph code
// they panic on shape errors. Shapes: every prediction and target is [B, …] (B images, e.g.
// [B, 4, 64, 64] latents in NCHW); labels are [B].

// Target is what a model of the given prediction type is trained to output for the clean input
// x0, the noise and the timesteps t ([B] integers) — ε itself for schedule.PredictEpsilon, and
// v = √ᾱ_t·ε − √(1−ᾱ_t)·x0 (schedule.VelocityGraph) for schedule.PredictV, as diffusers' training
// scripts and the official RPO code do. alphasCumprod is [T] (schedule.AlphasCumprodConst). Other
// prediction types panic; check them beforehand with CheckPrediction.
func Target(prediction string, alphasCumprod, x0, noise, t *Node) *Node {
	if err := CheckPrediction(prediction); err != nil {
		exceptions.Panicf("%v", err)
	}
	if prediction == schedule.PredictV {
		return schedule.VelocityGraph(alphasCumprod, x0, noise, t)
	}
	return noise
}

// CheckPrediction reports whether a model's prediction type (scheduler_config.json's
// prediction_type) can be fine-tuned: "epsilon" or "v_prediction".
func CheckPrediction(prediction string) error {
	if prediction != schedule.PredictEpsilon && prediction != schedule.PredictV {
		return fmt.Errorf("rpo: prediction type %q cannot be trained, want %q or %q",
			prediction, schedule.PredictEpsilon, schedule.PredictV)
	}
	return nil
}

// MSEPerImage is each image's mean squared error over all its values (channels and pixels):
// pred, target [B, …] → [B]. The official code averages (torch.mean over dims 1..3), it does not
// sum.
func MSEPerImage(pred, target *Node) *Node {
	if !pred.Shape().Equal(target.Shape()) {
		exceptions.Panicf("rpo: prediction %s and target %s differ in shape", pred.Shape(), target.Shape())
	}
	if pred.Rank() < 2 {
		exceptions.Panicf("rpo: prediction %s: want [batch, …] with at least one axis beside the batch", pred.Shape())
	}
	axes := make([]int, pred.Rank()-1)
	for i := range axes {
		axes[i] = i + 1
	}
	return ReduceMean(Square(Sub(pred, target)), axes...)
}

// PairPredictions are one RPO step's predictions for B (reference, generated) pairs. Each image
// was noised with its own noise and timestep; Target* is what the model should output for it
// (see Target).
type PairPredictions struct {
	Ref, Gen             *Node // the trained model on the noised reference and generated images
	BaseRef, BaseGen     *Node // the frozen base model on the same inputs (no gradient flows into them)
	TargetRef, TargetGen *Node // ε (or v) for the reference and generated images
}

// RPOLoss is RPO's loss (Eq. 7–9 of the paper, as the official code computes it), for labels
// y ∈ {0, 1} ([B], 1 = the reference is preferred) and β > 0:
//
//	L_sim = mean_b mse(ε_θ(x_ref), ε_ref)
//	ℓ_b   = (mse(ε_base(x_ref)) − mse(ε_θ(x_ref))) − (mse(ε_base(x_gen)) − mse(ε_θ(x_gen)))
//	L_pre = mean_b BCE(σ(β·ℓ_b), y_b), computed from the logit β·ℓ without forming σ
//	L     = L_sim + L_pre
//
// where mse is MSEPerImage. A positive ℓ says the trained model improved on the reference image
// more than on the generated one, so y = 1 pulls ε_θ toward the target on the reference image and
// away from it on the generated one, and y = 0 the reverse. The base predictions pass through
// StopGradient here, so a caller cannot leak gradient into the frozen model.
func RPOLoss(p PairPredictions, labels *Node, beta float64) LossNodes {
	for _, f := range []struct {
		name string
		node *Node
	}{{"Ref", p.Ref}, {"Gen", p.Gen}, {"BaseRef", p.BaseRef}, {"BaseGen", p.BaseGen},
		{"TargetRef", p.TargetRef}, {"TargetGen", p.TargetGen}, {"labels", labels}} {
		if f.node == nil {
			exceptions.Panicf("rpo: RPOLoss: %s is nil", f.name)
		}
	}
	mseRef := MSEPerImage(p.Ref, p.TargetRef)
	mseGen := MSEPerImage(p.Gen, p.TargetGen)
	baseRef := MSEPerImage(StopGradient(p.BaseRef), p.TargetRef)
	baseGen := MSEPerImage(StopGradient(p.BaseGen), p.TargetGen)
	batch := mseRef.Shape().Dimensions[0]
	if !labels.Shape().Equal(mseRef.Shape()) {
		if labels.Rank() != 1 || labels.Shape().Dimensions[0] != batch {
			exceptions.Panicf("rpo: labels %s: want [%d], one per pair", labels.Shape(), batch)
		}
		labels = ConvertDType(labels, mseRef.DType())
	}

	ell := Sub(Sub(baseRef, mseRef), Sub(baseGen, mseGen)) // [B]
	logit := MulScalar(ell, beta)
	sim := ReduceAllMean(mseRef)
	pre := ReduceAllMean(BinaryCrossEntropyWithLogit(logit, labels))
	return LossNodes{
		Total:      Add(sim, pre),
		Sim:        sim,
		Pre:        pre,
		Logit:      ReduceAllMean(logit),
		MSEGen:     ReduceAllMean(mseGen),
		MSEBaseRef: ReduceAllMean(baseRef),
		MSEBaseGen: ReduceAllMean(baseGen),
	}
}

// SimLoss is L_sim alone: the mean over the batch of MSEPerImage(pred, target) on the reference
// images (the "pure L_sim" objectives).
func SimLoss(pred, target *Node) LossNodes {
	sim := ReduceAllMean(MSEPerImage(pred, target))
	return LossNodes{Total: sim, Sim: sim}
}

// DreamBoothLoss is DreamBooth's prior-preservation loss: the mean squared error on the instance
// (reference) images plus priorWeight times the mean squared error on the class images the base
// model generated from the class prompt (diffusers' train_dreambooth.py with
// --with_prior_preservation; with equally sized images, its mean over all elements equals the
// mean of MSEPerImage). Prior is reported unweighted.
func DreamBoothLoss(pred, target, classPred, classTarget *Node, priorWeight float64) LossNodes {
	sim := ReduceAllMean(MSEPerImage(pred, target))
	prior := ReduceAllMean(MSEPerImage(classPred, classTarget))
	return LossNodes{Total: Add(sim, MulScalar(prior, priorWeight)), Sim: sim, Prior: prior}
}

// ObjectiveLoss is the loss of cfg.Objective: RPOLoss with cfg.Beta for the RPO objectives,
// SimLoss(p.Ref, p.TargetRef) for the L_sim ones, and DreamBoothLoss with p.Gen/p.TargetGen as
// the class image and cfg.PriorLossWeight for DreamBooth. Fields an objective does not use may be
// nil (the base predictions and labels for all but RPO).
func ObjectiveLoss(cfg Config, p PairPredictions, labels *Node) LossNodes {
	switch cfg.Objective {
	case ObjectiveRPO, ObjectiveRPONoEarlyStopping:
		return RPOLoss(p, labels, cfg.Beta)
	case ObjectiveSim, ObjectiveSimEarlyStopping:
		return SimLoss(p.Ref, p.TargetRef)
	case ObjectiveDreamBooth:
		return DreamBoothLoss(p.Ref, p.TargetRef, p.Gen, p.TargetGen, cfg.PriorLossWeight)
	}
	exceptions.Panicf("rpo: unknown objective %q", cfg.Objective)
	return LossNodes{}
}

// BinaryCrossEntropyWithLogit is −[y·log σ(z) + (1−y)·log σ(−z)] = softplus(z) − y·z, element-wise
// and stable for any logit z (torch's F.logsigmoid formulation in the official code). Its
// gradient with respect to z is σ(z) − y, also at z = 0 exactly, where a fine-tune starts (the
// trained and frozen models agree, so ℓ = 0).
func BinaryCrossEntropyWithLogit(logit, labels *Node) *Node {
	return Sub(softplus(logit), Mul(labels, logit))
}

// softplus is log(1 + eᶻ) without overflow: z + log1p(e⁻ᶻ) for z > 0, log1p(eᶻ) otherwise. Each
// branch sees only the inputs it is selected for (the other gets 0), so neither overflows and no
// NaN leaks into the gradient of the branch not taken.
func softplus(z *Node) *Node {
	zero := ZerosLike(z)
	positive := GreaterThan(z, zero)
	zPos := Where(positive, z, zero)
	zNeg := Where(positive, zero, z)
	return Where(positive,
		Add(zPos, Log1p(Exp(Neg(zPos)))),
		Log1p(Exp(zNeg)))
}
