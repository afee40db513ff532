package basemodel

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/toyworld"
)

// Dataset is a fixed set of captioned renders of generic objects, toyworld.GenericScene(i)
// for i in [0, n): never a subject. Pixels are kept as bytes, NHWC; captions as padded ids; and,
// once Encode has run, the autoencoder's posterior over each render's latents.
type Dataset struct {
	N        int
	Pixels   []uint8 // [N, 32, 32, 3]
	IDs      []int32 // [N, MaxLength]
	Captions []string
	EmptyIDs []int32 // the ids of "": the unconditional caption

	// Mean and LogVar are the posterior's, [N, h, w, c] channels last (Encode), and Scale the
	// VAE's scaling_factor: the U-Net's x0 is (Mean + exp(LogVar/2)·ε)·Scale, a fresh posterior
	// sample each time a render is drawn, as Stable Diffusion's training scripts do.
	Mean, LogVar []float32
	LatentShape  [3]int // h, w, c
	Scale        float32
}

// NewDataset renders scenes 0 … n-1 with as many goroutines as GOMAXPROCS and tokenises their
// captions with tok.
func NewDataset(ctx context.Context, n int, tok *diffusion.CLIPTokenizer) (*Dataset, error) {
	if n <= 0 {
		return nil, fmt.Errorf("basemodel: dataset of %d scenes, want > 0", n)
	}
	const px = toyworld.Size * toyworld.Size * 3
	d := &Dataset{N: n, Pixels: make([]uint8, n*px), IDs: make([]int32, n*tok.MaxLength()), Captions: make([]string, n)}
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if i%1024 == 0 && ctx.Err() != nil {
					errs[w] = ctx.Err()
					return
				}
				s := toyworld.GenericScene(uint64(i))
				img, _, err := toyworld.Render(s)
				if err != nil {
					errs[w] = fmt.Errorf("basemodel: scene %d: %w", i, err)
					return
				}
				c, err := toyworld.Caption(s)
				if err != nil {
					errs[w] = fmt.Errorf("basemodel: scene %d: %w", i, err)
					return
				}
				copy(d.Pixels[i*px:(i+1)*px], img.Pix)
				d.Captions[i] = c
				ids, _ := tok.EncodePadded(c)
				for j, id := range ids {
					d.IDs[i*tok.MaxLength()+j] = int32(id)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	ids, _ := tok.EncodePadded("")
	for _, id := range ids {
		d.EmptyIDs = append(d.EmptyIDs, int32(id))
	}
	return d, nil
}

// encodeBatch is how many renders Encode passes to the VAE at once.
const encodeBatch = 64

// Encode runs vae's encoder over every render once and keeps the posteriors (Mean, LogVar) and
// the scaling factor, so that training never runs the encoder.
func (d *Dataset) Encode(ctx context.Context, vae *diffusion.AutoencoderKL) error {
	const side, px = toyworld.Size, toyworld.Size * toyworld.Size
	d.Mean, d.LogVar = nil, nil
	x := make([]float32, encodeBatch*3*px)
	for start := 0; start < d.N; start += encodeBatch {
		k := min(encodeBatch, d.N-start)
		clear(x)
		for i := range k {
			pix := d.Pixels[(start+i)*3*px : (start+i+1)*3*px]
			for p := range px {
				for c := range 3 {
					x[(i*3+c)*px+p] = float32(pix[p*3+c])/127.5 - 1
				}
			}
		}
		mean, logvar, ls, err := vae.Encode(ctx, x, [4]int{encodeBatch, 3, side, side})
		if err != nil {
			return fmt.Errorf("basemodel: encoding renders %d…: %w", start, err)
		}
		c, h, w := ls[1], ls[2], ls[3]
		d.LatentShape = [3]int{h, w, c}
		if d.Mean == nil {
			d.Mean, d.LogVar = make([]float32, d.N*h*w*c), make([]float32, d.N*h*w*c)
		}
		for i := range k {
			for ci := range c {
				for p := range h * w {
					src, dst := (i*c+ci)*h*w+p, ((start+i)*h*w+p)*c+ci
					d.Mean[dst], d.LogVar[dst] = mean[src], logvar[src]
				}
			}
		}
	}
	d.Scale = float32(vae.ScalingFactor())
	return nil
}

// LatentSize is the number of latent values of one image (h·w·c).
func (d *Dataset) LatentSize() int { return d.LatentShape[0] * d.LatentShape[1] * d.LatentShape[2] }

// Batch is one training step's inputs.
type Batch struct {
	X0    []float32 // [B, h, w, c]: scaled latents, posterior samples
	IDs   []int32   // [B, MaxLength]; dropped captions are ""
	Noise []float32 // [B, h, w, c], N(0, 1)
	T     []int32   // [B], uniform in [0, T)
}

// batchStream is the PCG stream of the batch draws, apart from every other use of the seed.
const batchStream = 0x62617463685f7374 // "batch_st"

// Batch draws step's batch from seed alone (so a resumed run draws what the uninterrupted one
// would have): batch scene indices uniformly with replacement, a posterior sample of each
// render's latents (scaled), each caption replaced by "" with probability drop (for
// classifier-free guidance), one timestep per image uniformly in [0, numTrain), and standard
// normal noise. Encode must have run.
func (d *Dataset) Batch(seed uint64, step, batch int, drop float64, numTrain int) Batch {
	r := rand.New(rand.NewPCG(seed^batchStream, uint64(step)))
	n := d.LatentSize()
	l := len(d.EmptyIDs)
	b := Batch{X0: make([]float32, batch*n), IDs: make([]int32, batch*l), Noise: make([]float32, batch*n), T: make([]int32, batch)}
	for i := range batch {
		k := r.IntN(d.N)
		mean, logvar := d.Mean[k*n:(k+1)*n], d.LogVar[k*n:(k+1)*n]
		for j := range n {
			z := float64(mean[j]) + math.Exp(float64(logvar[j])/2)*r.NormFloat64()
			b.X0[i*n+j] = float32(z) * d.Scale
		}
		ids := d.IDs[k*l : (k+1)*l]
		if r.Float64() < drop {
			ids = d.EmptyIDs
		}
		copy(b.IDs[i*l:], ids)
		b.T[i] = int32(r.IntN(numTrain))
	}
	for i := range b.Noise {
		b.Noise[i] = float32(r.NormFloat64())
	}
	return b
}
