package autoencoder

import (
	"context"
	"fmt"
	"image"
	"math"
	"slices"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/toyworld"
	"github.com/gorpo/gorpo/internal/toyworld/judge"
)

// Held-out seeds: GenericScene and SubjectScene seeds far above MaxTrainScene. ScaleSeed's scenes
// measure the scaling factor, HeldOutSeed's are the round-trip evaluation's.
const (
	HeldOutSeed = 1 << 42
	ScaleSeed   = 1<<42 + 1<<30
)

// evalBatch is the batch the host-side encoder and decoder are compiled for.
const evalBatch = 50

// EvalScenes is the round-trip evaluation's scenes: n in all, a quarter of them subject scenes
// (each of the six subjects equally often, only in contexts outside its reference photos', as a
// fine-tune asks for them), the rest generic scenes.
func EvalScenes(n int) ([]toyworld.Scene, error) {
	subjects := toyworld.Subjects()
	per := n / 4 / len(subjects)
	var out []toyworld.Scene
	for _, s := range subjects {
		refs := s.ReferenceContexts()
		for seed := uint64(HeldOutSeed); count(out, s.Name) < per; seed++ {
			sc, err := toyworld.SubjectScene(s.Name, seed)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(refs, sc.Context) {
				out = append(out, sc)
			}
		}
	}
	for i := uint64(0); len(out) < n; i++ {
		out = append(out, toyworld.GenericScene(HeldOutSeed+i))
	}
	return out, nil
}

func count(scenes []toyworld.Scene, subject string) int {
	n := 0
	for _, s := range scenes {
		if s.Subject == subject {
			n++
		}
	}
	return n
}

// Report is how well the autoencoder's round trip (encode to the posterior's mean, decode)
// keeps held-out renders, by PSNR and as the toy world's judge reads them.
type Report struct {
	N, Subjects int
	// PSNR in dB (8-bit scale), averaged over images: generic scenes, subject scenes, and
	// inside the subject's box (Labels.Box) of the subject scenes.
	PSNRGeneric, PSNRSubjects, PSNRSubjectBox float64
	// Agreement is the share of images whose round trip the judge reads as it reads the original,
	// per head: "context", "class", "colour".
	Agreement map[string]float64
	// SubjectSeen counts the subject scenes in which the judge recognises the subject in the
	// original; SubjectKept the share of those in which it also does in the round trip.
	SubjectSeen int
	SubjectKept float64
	// Rows are, for the first images of each kind, the originals and their round trips.
	Originals, RoundTrips []image.Image
}

// RoundTrip encodes and decodes scenes with vae and compares, with j.
func RoundTrip(ctx context.Context, vae *diffusion.AutoencoderKL, j *judge.Judge, scenes []toyworld.Scene) (*Report, error) {
	const side, px = toyworld.Size, toyworld.Size * toyworld.Size
	r := &Report{N: len(scenes), Agreement: map[string]float64{}}
	var orig, round []image.Image
	var psnrG, psnrS, psnrB []float64
	for start := 0; start < len(scenes); start += evalBatch {
		part := scenes[start:min(start+evalBatch, len(scenes))]
		x := make([]float32, evalBatch*3*px)
		labels := make([]toyworld.Labels, len(part))
		for i, s := range part {
			img, l, err := toyworld.Render(s)
			if err != nil {
				return nil, err
			}
			labels[i] = l
			toNCHW(img.Pix, x[i*3*px:(i+1)*3*px])
			orig = append(orig, img)
		}
		y, err := roundTrip(ctx, vae, x)
		if err != nil {
			return nil, err
		}
		imgs, err := diffusion.ImagesFromNCHW(y, [4]int{evalBatch, 3, side, side})
		if err != nil {
			return nil, err
		}
		for i, s := range part {
			round = append(round, imgs[i])
			a, b := orig[start+i], imgs[i]
			p := psnr(a, b, a.Bounds())
			if s.Subject == "" {
				psnrG = append(psnrG, p)
			} else {
				psnrS = append(psnrS, p)
				psnrB = append(psnrB, psnr(a, b, labels[i].Box))
			}
		}
	}
	r.PSNRGeneric, r.PSNRSubjects, r.PSNRSubjectBox = mean(psnrG), mean(psnrS), mean(psnrB)
	r.Subjects = len(psnrS)
	po, err := j.Predict(ctx, orig)
	if err != nil {
		return nil, err
	}
	pr, err := j.Predict(ctx, round)
	if err != nil {
		return nil, err
	}
	var agree [3]int
	kept := 0
	for i := range po {
		if po[i].Context == pr[i].Context {
			agree[0]++
		}
		if po[i].Class == pr[i].Class {
			agree[1]++
		}
		if po[i].Color == pr[i].Color {
			agree[2]++
		}
		if s := scenes[i].Subject; s != "" && po[i].Subject == s {
			r.SubjectSeen++
			if pr[i].Subject == s {
				kept++
			}
		}
	}
	n := float64(len(po))
	r.Agreement["context"], r.Agreement["class"], r.Agreement["colour"] = float64(agree[0])/n, float64(agree[1])/n, float64(agree[2])/n
	if r.SubjectSeen > 0 {
		r.SubjectKept = float64(kept) / float64(r.SubjectSeen)
	}
	r.Originals, r.RoundTrips = orig, round
	return r, nil
}

// roundTrip runs one batch of evalBatch NCHW images through the encoder's mean and the decoder.
func roundTrip(ctx context.Context, vae *diffusion.AutoencoderKL, x []float32) ([]float32, error) {
	const side = toyworld.Size
	m, _, ls, err := vae.Encode(ctx, x, [4]int{evalBatch, 3, side, side})
	if err != nil {
		return nil, err
	}
	y, _, err := vae.Decode(ctx, m, ls)
	return y, err
}

// MeasureScale returns Stable Diffusion's scaling_factor for vae: 1 / the standard deviation of
// posterior samples over n held-out generic renders (GenericScene(ScaleSeed+i)), so that the
// U-Net's latents have unit variance, as Rombach et al. chose 0.18215 for SD's VAE.
func MeasureScale(ctx context.Context, vae *diffusion.AutoencoderKL, n int) (float64, error) {
	const side, px = toyworld.Size, toyworld.Size * toyworld.Size
	var sum, sq float64
	var count int
	for start := 0; start < n; start += evalBatch {
		x := make([]float32, evalBatch*3*px)
		k := min(evalBatch, n-start)
		for i := range k {
			img, _, err := toyworld.Render(toyworld.GenericScene(ScaleSeed + uint64(start+i)))
			if err != nil {
				return 0, err
			}
			toNCHW(img.Pix, x[i*3*px:(i+1)*3*px])
		}
		m, lv, ls, err := vae.Encode(ctx, x, [4]int{evalBatch, 3, side, side})
		if err != nil {
			return 0, err
		}
		z, err := vae.Sample(m, lv, uint64(start))
		if err != nil {
			return 0, err
		}
		per := ls[1] * ls[2] * ls[3]
		for _, v := range z[:k*per] {
			sum += float64(v)
			sq += float64(v) * float64(v)
			count++
		}
	}
	mu := sum / float64(count)
	std := math.Sqrt(sq/float64(count) - mu*mu)
	if !(std > 0) || math.IsInf(std, 0) {
		return 0, fmt.Errorf("autoencoder: latents' standard deviation %v", std)
	}
	return 1 / std, nil
}

// toNCHW writes 8-bit HWC RGB pixels into dst as CHW floats in [-1, 1].
func toNCHW(pix []uint8, dst []float32) {
	const px = toyworld.Size * toyworld.Size
	for k := range px {
		for c := range 3 {
			dst[c*px+k] = float32(pix[k*3+c])/127.5 - 1
		}
	}
}

// psnr is the peak signal-to-noise ratio of b against a inside rect, in dB on the 8-bit scale
// (capped at 60 dB for identical images).
func psnr(a, b image.Image, rect image.Rectangle) float64 {
	var se float64
	var n int
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			for _, d := range [3]float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				se += d * d
				n++
			}
		}
	}
	if n == 0 {
		return math.NaN()
	}
	mse := se / float64(n)
	if mse == 0 {
		return 60
	}
	return min(60, 10*math.Log10(255*255/mse))
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
