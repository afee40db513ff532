package toyworld

// rng is the world's own random stream: SplitMix64, written out here so that a seed gives the
// same scene on every Go release (math/rand/v2 keeps its sources fixed but not every helper).
type rng struct{ s uint64 }

// Stream keys keep the draws of one part of a render (the background, the object, the caption)
// independent of the others, so that changing the class leaves the background as it was.
const (
	streamBackground uint64 = 0xb4c6_17d1_a5e3_0001
	streamObject     uint64 = 0xb4c6_17d1_a5e3_0002
	streamScene      uint64 = 0xb4c6_17d1_a5e3_0003
	streamCaption    uint64 = 0xb4c6_17d1_a5e3_0004
	streamRender     uint64 = 0xb4c6_17d1_a5e3_0005
	streamReference  uint64 = 0xb4c6_17d1_a5e3_0006
)

// mix is SplitMix64's finaliser: a bijective scramble of x.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hash2 derives a new seed from a seed and a key.
func hash2(seed, key uint64) uint64 { return mix(seed ^ mix(key+0x9e3779b97f4a7c15)) }

// hashString derives a seed from a name (FNV-1a, then mixed).
func hashString(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return mix(h)
}

func newRNG(seed, stream uint64) *rng { return &rng{s: hash2(seed, stream)} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix(r.s)
}

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// between returns a number in [a, b).
func (r *rng) between(a, b float64) float64 { return a + (b-a)*r.float() }

// intn returns an integer in [0, n); n must be positive.
func (r *rng) intn(n int) int { return int((r.next() >> 1) % uint64(n)) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }
