package autoencoder

import (
	"fmt"
	"math/rand/v2"

	"github.com/gorpo/gorpo/internal/toyworld"
)

// batchStream is the PCG stream of the batch draws, apart from every other use of the seed.
const batchStream = 0x7661655f62617463 // "vae_batc"

// MaxTrainScene bounds the GenericScene seeds training draws from: far below the held-out
// seeds (HeldOutSeed) and basemodel's.
const MaxTrainScene = 1 << 38

// batch is one step's inputs: fresh renders (every step draws new scenes, so the autoencoder
// never sees the same picture twice in practice) and the posterior's noise.
type batch struct {
	X     []float32 // [B, 32, 32, 3] in [-1, 1]
	Noise []float32 // [B, 16, 16, latent channels]... as the latent shape, N(0, 1)
}

// drawBatch renders step's batch from seed alone, so a resumed run draws what an uninterrupted
// one would have: n generic scenes GenericScene(k), k uniform in [0, MaxTrainScene), and latent
// noise of latentSize numbers per image.
func drawBatch(seed uint64, step, n, latentSize int) (batch, error) {
	r := rand.New(rand.NewPCG(seed^batchStream, uint64(step)))
	const px = toyworld.Size * toyworld.Size * 3
	b := batch{X: make([]float32, n*px), Noise: make([]float32, n*latentSize)}
	for i := range n {
		k := r.Uint64N(MaxTrainScene)
		img, _, err := toyworld.Render(toyworld.GenericScene(k))
		if err != nil {
			return b, fmt.Errorf("autoencoder: scene %d: %w", k, err)
		}
		for j, p := range img.Pix {
			b.X[i*px+j] = float32(p)/127.5 - 1
		}
	}
	for i := range b.Noise {
		b.Noise[i] = float32(r.NormFloat64())
	}
	return b, nil
}
