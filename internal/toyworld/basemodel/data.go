package basemodel

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/internal/toyworld"
)

// Dataset is a fixed set of captioned renders of generic objects, toyworld.GenericScene(i)
// for i in [0, n): never a subject. Pixels are kept as bytes, NHWC; captions as padded ids.
type Dataset struct {
	N        int
	Pixels   []uint8 // [N, 32, 32, 3]
	IDs      []int32 // [N, MaxLength]
	Captions []string
	EmptyIDs []int32 // the ids of "": the unconditional caption
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

// Batch is one training step's inputs.
type Batch struct {
	X0    []float32 // [B, 32, 32, 3] in [-1, 1]
	IDs   []int32   // [B, MaxLength]; dropped captions are ""
	Noise []float32 // [B, 32, 32, 3], N(0, 1)
	T     []int32   // [B], uniform in [0, T)
}

// batchStream is the PCG stream of the batch draws, apart from every other use of the seed.
const batchStream = 0x62617463685f7374 // "batch_st"

// Batch draws step's batch from seed alone (so a resumed run draws what the uninterrupted one
// would have): batch scene indices uniformly with replacement, each caption replaced by ""
// with probability drop (for classifier-free guidance), one timestep per image uniformly in
// [0, numTrain), and standard normal noise.
func (d *Dataset) Batch(seed uint64, step, batch int, drop float64, numTrain int) Batch {
	r := rand.New(rand.NewPCG(seed^batchStream, uint64(step)))
	const px = toyworld.Size * toyworld.Size * 3
	l := len(d.EmptyIDs)
	b := Batch{X0: make([]float32, batch*px), IDs: make([]int32, batch*l), Noise: make([]float32, batch*px), T: make([]int32, batch)}
	for i := range batch {
		k := r.IntN(d.N)
		for j, p := range d.Pixels[k*px : (k+1)*px] {
			b.X0[i*px+j] = float32(p)/127.5 - 1
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
