package judge

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"

	"github.com/gorpo/gorpo/internal/nn"
)

// Config is the network's shape, kept in judge.json beside the weights.
type Config struct {
	// ImageSize is the side of the square input (the toy world's 32).
	ImageSize int `json:"image_size"`
	// Channels are the widths of the stages; every stage after the first halves the resolution
	// with a stride-2 convolution.
	Channels []int `json:"channels"`
	// Blocks is the number of residual 3×3 conv blocks of each stage, after its first convolution.
	Blocks []int `json:"blocks"`
	// Groups is the number of GroupNorm groups.
	Groups int `json:"groups"`
}

// DefaultConfig is the shipped judge's shape: 16 channels at 32², 48 at 16², 96 at 8² and 128 at
// 4², one residual block in each stage but the first (about 430k parameters, 1.7 MB in float32).
func DefaultConfig() Config {
	return Config{ImageSize: 32, Channels: []int{16, 48, 96, 128}, Blocks: []int{0, 1, 1, 1}, Groups: 8}
}

func (c Config) validate() error {
	if c.ImageSize < 8 || len(c.Channels) == 0 || len(c.Blocks) != len(c.Channels) || c.Groups <= 0 {
		return fmt.Errorf("judge: bad config %+v (want an image size ≥ 8, and as many blocks as channels)", c)
	}
	for i, ch := range c.Channels {
		if ch <= 0 || ch%c.Groups != 0 {
			return fmt.Errorf("judge: config: %d channels are not a positive multiple of %d groups", ch, c.Groups)
		}
		if c.Blocks[i] < 0 {
			return fmt.Errorf("judge: config: negative number of blocks %d", c.Blocks[i])
		}
	}
	return nil
}

// Logits is the judge's network on x: [batch, ImageSize, ImageSize, 3], RGB in [-1, 1]. It
// returns one node of logits per head, [batch, sizes[h]].
//
// One shared trunk feeds every head: stages of conv 3×3 → GroupNorm → SiLU (stride 2 from the
// second stage on), each followed by Blocks residual conv blocks; then the average and the
// maximum over the positions, concatenated, feed one Linear per head. The variables live under
// "stages/<i>/{down,blocks/<j>}/{conv,norm}" and "heads/<head>".
func (c Config) Logits(scope *model.Scope, x *Node, sizes [NumHeads]int) []*Node {
	if d := x.Shape().Dimensions; len(d) != 4 || d[1] != c.ImageSize || d[2] != c.ImageSize || d[3] != 3 {
		exceptions.Panicf("judge: input shape %s, want [batch, %d, %d, 3]", x.Shape(), c.ImageSize, c.ImageSize)
	}
	h := x
	stages := scope.In("stages")
	for i, ch := range c.Channels {
		s := stages.In("%d", i)
		stride := 2
		if i == 0 {
			stride = 1
		}
		h = c.convNormAct(s.In("down"), h, ch, stride)
		blocks := s.In("blocks")
		for j := range c.Blocks[i] {
			h = Add(h, c.convNormAct(blocks.In("%d", j), h, ch, 1))
		}
	}
	feat := Concatenate([]*Node{ReduceMean(h, 1, 2), ReduceMax(h, 1, 2)}, -1) // [batch, 2·C]
	heads := scope.In("heads")
	out := make([]*Node, NumHeads)
	for k := range NumHeads {
		out[k] = nn.Linear(heads.In("%s", Head(k)), feat, sizes[k], true)
	}
	return out
}

func (c Config) convNormAct(scope *model.Scope, x *Node, ch, stride int) *Node {
	x = nn.Conv2D(scope.In("conv"), x, ch).Kernel(3).Stride(stride).Padding(1).Done()
	return nn.SiLU(nn.GroupNorm(scope.In("norm"), x, c.Groups, 1e-5))
}
