package rpo

import (
	"context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/imaging"
	"github.com/gorpo/gorpo/preference"
)

// The training data: every image the steps see, prepared once (pixels in [-1, 1], VAE posteriors,
// prompt embeddings), and the host-side draws that make each step's batch.

// prepareImage turns a photo into the training input of a height×width model: resized with
// Pillow's bilinear filter so that it covers height×width (for a square size: its shorter side
// to the size, torchvision's Resize(size)), centre-cropped as torchvision's CenterCrop, and
// mapped to [-1, 1] in CHW order (ToTensor, Normalize(0.5, 0.5)): what diffusers' DreamBooth
// dataset and the official RPO code do (with --center_crop).
func prepareImage(img image.Image, height, width int) ([]float32, error) {
	src, err := imaging.FromImage(img)
	if err != nil {
		return nil, err
	}
	if src.W != width || src.H != height {
		var w, h int
		if height == width {
			// torchvision: the shorter side becomes size, the longer int(size·long/short).
			if src.W <= src.H {
				w, h = width, int(float64(width)*float64(src.H)/float64(src.W))
			} else {
				w, h = int(float64(height)*float64(src.W)/float64(src.H)), height
			}
		} else {
			scale := math.Max(float64(height)/float64(src.H), float64(width)/float64(src.W))
			w, h = max(width, int(float64(src.W)*scale)), max(height, int(float64(src.H)*scale))
		}
		if w != src.W || h != src.H {
			if src, err = imaging.Resize(src, w, h, imaging.Bilinear); err != nil {
				return nil, err
			}
		}
		// torchvision's CenterCrop: top = round((H − h)/2), left = round((W − w)/2), half to even.
		top := int(math.RoundToEven(float64(src.H-height) / 2))
		left := int(math.RoundToEven(float64(src.W-width) / 2))
		if src, err = imaging.Crop(src, left, top, width, height); err != nil {
			return nil, err
		}
	}
	return src.ToCHW(nil, imaging.SignedUnitLUT())
}

// x0Source is one training image as the U-Net sees it: a latent posterior (a fresh sample each
// step, as diffusers' training scripts draw latent_dist.sample()) or fixed pixels.
type x0Source struct {
	mean, logvar []float32 // logvar nil: mean is the fixed input (pixel space)
}

// trainData holds what the steps draw from.
type trainData struct {
	shape  [3]int  // channels, height, width of one U-Net input (NCHW without the batch)
	scale  float32 // the VAE's scaling_factor (1 in pixel space)
	refs   []x0Source
	others []x0Source // the generated images (RPO) or class images (DreamBooth)

	embShape [2]int               // tokens, width of one prompt embedding
	emb      map[string][]float32 // prompt → its embedding [tokens·width]

	numTimesteps int
}

// encodeImages turns [-1, 1] CHW images into x0Sources: VAE posteriors one image at a time (one
// compiled shape, and the memory of a single image), or without a VAE the pixels themselves
// (folded when the pipeline folds them).
func encodeImages(ctx context.Context, pipe *diffusion.Pipeline, images [][]float32, height, width int) ([]x0Source, [3]int, error) {
	out := make([]x0Source, len(images))
	var shape [3]int
	for i, px := range images {
		if pipe.VAE == nil { // the pixels, folded as the U-Net sees them
			x, xs, err := pipe.EncodePixels(px, [4]int{1, 3, height, width})
			if err != nil {
				return nil, shape, fmt.Errorf("rpo: image %d: %w", i, err)
			}
			out[i] = x0Source{mean: x}
			shape = [3]int{xs[1], xs[2], xs[3]}
			continue
		}
		mean, logvar, ls, err := pipe.VAE.Encode(ctx, px, [4]int{1, 3, height, width})
		if err != nil {
			return nil, shape, fmt.Errorf("rpo: encoding image %d with the VAE: %w", i, err)
		}
		out[i] = x0Source{mean: mean, logvar: logvar}
		shape = [3]int{ls[1], ls[2], ls[3]}
	}
	return out, shape, nil
}

// embedPrompts encodes each distinct prompt once with the frozen text encoder.
func embedPrompts(ctx context.Context, pipe *diffusion.Pipeline, prompts []string) (map[string][]float32, [2]int, error) {
	var distinct []string
	seen := map[string]bool{}
	for _, p := range prompts {
		if !seen[p] {
			seen[p] = true
			distinct = append(distinct, p)
		}
	}
	ids, _ := pipe.Tokenizer.BatchEncode(distinct)
	states, shape, err := pipe.TextEncoder.Encode(ctx, ids)
	if err != nil {
		return nil, [2]int{}, fmt.Errorf("rpo: encoding the prompts: %w", err)
	}
	if len(shape) != 3 || shape[0] != len(distinct) {
		return nil, [2]int{}, fmt.Errorf("rpo: text encoder output %v for %d prompts, want [%d, tokens, width]", shape, len(distinct), len(distinct))
	}
	size := shape[1] * shape[2]
	out := make(map[string][]float32, len(distinct))
	for i, p := range distinct {
		out[p] = states[i*size : (i+1)*size : (i+1)*size]
	}
	return out, [2]int{shape[1], shape[2]}, nil
}

// visit is one image pair of a step: a reference photo and its prompt, and (RPO, DreamBooth) the
// other image and its prompt, and (RPO) the pair's label.
type visit struct {
	ref, other             int
	refPrompt, otherPrompt string
	pair                   int // index into the pairs (RPO), the reference list (L_sim), -1 otherwise
	label                  float32
}

// order visits n items epoch after epoch, each epoch in a fresh seeded permutation, so the item
// of the i-th visit is a function of the seed and i alone (a resumed run needs no state for it).
type order struct {
	seed  uint64
	n     int
	epoch int
	perm  []int
}

func newOrder(seed uint64, n int) *order { return &order{seed: seed, n: n, epoch: -1} }

// at returns the item of visit i (counted from 0).
func (o *order) at(i int) int {
	epoch := i / o.n
	if epoch != o.epoch {
		o.epoch = epoch
		o.perm = rand.New(rand.NewPCG(o.seed, uint64(epoch))).Perm(o.n)
	}
	return o.perm[i%o.n]
}

// plan says which images a step trains on. Objectives:
//
//   - RPO: BatchSize pairs in a shuffled order (reference i mod N with each image generated for
//     training prompt i), each label redrawn from the Sampler when its pair is visited;
//   - L_sim: BatchSize reference photos in a shuffled order, under the subject prompt (or, with
//     ConditionTrainingPrompt, the (reference i mod N, training prompt i) pairs under the
//     training prompt);
//   - DreamBooth: BatchSize reference photos under the subject prompt and as many class images
//     under the class prompt, each list in its own shuffled order.
type plan struct {
	cfg         Config
	pairs       []preference.Pair
	sampler     *preference.Sampler
	refOrder    *order   // pairs (RPO), the L_sim visits, or references (DreamBooth)
	classOrder  *order   // DreamBooth's class images
	refPrompts  []string // the prompt of each reference photo
	classPrompt string
	simVisits   []visit
	numClass    int
}

func newPlan(cfg Config, pairs []preference.Pair, refPrompts []string, classPrompt string, training []string, numClass int) *plan {
	numRefs := len(refPrompts)
	p := &plan{cfg: cfg, pairs: pairs, refPrompts: refPrompts, classPrompt: classPrompt, numClass: numClass,
		sampler: preference.NewSampler(deriveSeed(cfg.Seed, saltLabels))}
	orderSeed := deriveSeed(cfg.Seed, saltOrder)
	switch {
	case cfg.Objective.Preference():
		p.refOrder = newOrder(orderSeed, len(pairs))
	case cfg.Objective.ClassImages():
		p.refOrder = newOrder(orderSeed, numRefs)
		p.classOrder = newOrder(deriveSeed(cfg.Seed, saltClassOrder), numClass)
	default:
		if cfg.Conditioning == ConditionTrainingPrompt {
			for i, prompt := range training {
				p.simVisits = append(p.simVisits, visit{ref: i % numRefs, refPrompt: prompt, pair: i, other: -1})
			}
		} else {
			for i := range numRefs {
				p.simVisits = append(p.simVisits, visit{ref: i, refPrompt: refPrompts[i], pair: i, other: -1})
			}
		}
		p.refOrder = newOrder(orderSeed, len(p.simVisits))
	}
	return p
}

// step returns the visits of optimiser step (counted from 1), drawing RPO's labels.
func (p *plan) step(step int) ([]visit, error) {
	b := p.cfg.BatchSize
	out := make([]visit, b)
	for k := range b {
		i := (step-1)*b + k
		switch {
		case p.cfg.Objective.Preference():
			idx := p.refOrder.at(i)
			pair := p.pairs[idx]
			y, err := p.sampler.Label(pair)
			if err != nil {
				return nil, fmt.Errorf("rpo: %w", err)
			}
			refPrompt := p.refPrompts[pair.Reference]
			if p.cfg.Conditioning == ConditionTrainingPrompt {
				refPrompt = pair.Prompt
			}
			out[k] = visit{ref: pair.Reference, other: pair.Generated, refPrompt: refPrompt, otherPrompt: pair.Prompt, pair: idx, label: y}
		case p.cfg.Objective.ClassImages():
			ref := p.refOrder.at(i)
			out[k] = visit{ref: ref, other: p.classOrder.at(i), refPrompt: p.refPrompts[ref], otherPrompt: p.classPrompt, pair: -1}
		default:
			out[k] = p.simVisits[p.refOrder.at(i)]
		}
	}
	return out, nil
}

// batch is one step's host inputs. N images: the B references first, then (RPO, DreamBooth) the
// B other images.
type batch struct {
	x0, noise []float32 // [N, C, H, W]
	t         []int32   // [N]
	ctx       []float32 // [N, tokens, width]
	labels    []float32 // [B] (RPO)
}

// makeBatch assembles the inputs of a step's visits, drawing from rng in a fixed order: the N
// timesteps, then for each image its latent sample (when the model has a VAE) and its noise.
func (d *trainData) makeBatch(visits []visit, withOthers, withLabels bool, rng *rand.Rand) *batch {
	b := len(visits)
	n := b
	if withOthers {
		n = 2 * b
	}
	size := d.shape[0] * d.shape[1] * d.shape[2]
	embSize := d.embShape[0] * d.embShape[1]
	out := &batch{x0: make([]float32, n*size), noise: make([]float32, n*size), t: make([]int32, n), ctx: make([]float32, n*embSize)}
	srcs := make([]x0Source, n)
	for k, v := range visits {
		srcs[k] = d.refs[v.ref]
		copy(out.ctx[k*embSize:], d.emb[v.refPrompt])
		if withOthers {
			srcs[b+k] = d.others[v.other]
			copy(out.ctx[(b+k)*embSize:], d.emb[v.otherPrompt])
		}
	}
	if withLabels {
		out.labels = make([]float32, b)
		for k, v := range visits {
			out.labels[k] = v.label
		}
	}
	for i := range out.t {
		out.t[i] = int32(rng.IntN(d.numTimesteps))
	}
	for i, src := range srcs {
		x0 := out.x0[i*size : (i+1)*size]
		if src.logvar == nil {
			copy(x0, src.mean)
		} else {
			// diffusers' DiagonalGaussianDistribution.sample() · scaling_factor, in float32.
			for j := range x0 {
				lv := min(max(src.logvar[j], -30), 20)
				std := float32(math.Exp(float64(0.5 * lv)))
				x0[j] = (src.mean[j] + std*float32(rng.NormFloat64())) * d.scale
			}
		}
		noise := out.noise[i*size : (i+1)*size]
		for j := range noise {
			noise[j] = float32(rng.NormFloat64())
		}
	}
	return out
}
