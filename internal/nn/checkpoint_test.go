package nn

import (
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/graphtest"
)

// ckptBlock is a small block with what a U-Net block has: an input, a second (embedding-like)
// input, a node captured from outside, trainable layers, a GroupNorm and a frozen variable.
func ckptBlock(scope *model.Scope, captured *Node) func(in []*Node) *Node {
	return func(in []*Node) *Node {
		s := scope.ResetVisited()
		h := Linear(s.In("a"), in[0], 6, true)           // [3, 6]
		h = Add(h, Linear(s.In("emb"), in[1], 6, false)) // + [3, 6]
		h = Mul(SiLU(h), captured)                       // captured [3, 6]
		h = Reshape(GroupNorm(s.In("norm"), Reshape(h, 3, 1, 1, 6), 2, 1e-5), 3, 6)
		frozen := s.In("frozen").VariableWithValue("weight", [][]float32{
			{0.5, -1, 0.25, 2, -0.5, 1}, {1, 0.5, -0.25, 0, 1.5, -1}, {-1, 2, 0.5, -0.5, 0, 0.25}, {0.75, 0, -1, 1, 0.5, -0.5},
		}).SetTrainable(false)
		return LinearWith(h, frozen.NodeValue(h), nil) // [3, 4]
	}
}

// ckptStore holds ckptBlock's variables, initialised (as a loaded model's are: a variable created
// while a graph is built gets its value from an initialiser in that graph, and reading it again in
// the same graph cuts the gradient of what was built before).
func ckptStore(t *testing.T, inputs ...graphtest.Array) *model.Store {
	t.Helper()
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(7))
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, in []*Node) *Node {
		return ckptBlock(scope.In("block"), Tanh(in[2]))(in[:2])
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in.Tensor()
	}
	if _, err := exec.Exec(args...); err != nil {
		t.Fatal(err)
	}
	return store
}

// A checkpointed block gives the gradients the plain one gives, with respect to its inputs, a
// node it captured and its trainable variables, also when the loss reads the inputs again after
// the block (so the arriving gradient depends on them); frozen variables get none; and nothing
// built for the backward pass reads the forward pass's intermediate values.
func TestCheckpointGradients(t *testing.T) {
	x, c, z := graphtest.Random(1, 3, 4), graphtest.Random(2, 3, 5), graphtest.Random(3, 3, 6)
	store := ckptStore(t, x, c, z)
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, in []*Node) []*Node {
		g := in[0].Graph()
		captured := Tanh(in[2])
		loss := func(y *Node) *Node {
			return Add(ReduceAllSum(Mul(y, in[0])),
				Mul(ReduceAllSum(Square(y)), ReduceAllSum(in[1])))
		}
		plain := loss(ckptBlock(scope.In("block"), captured)(in[:2]))

		first := NodeId(len(g.Nodes()))
		var fwdEnd NodeId = -1
		block := ckptBlock(scope.Shared("block"), captured)
		y := Checkpoint(scope.Store(), func(in []*Node) *Node {
			out := block(in)
			if fwdEnd < 0 {
				fwdEnd = out.Id()
			}
			return out
		}, in[0], in[1])
		ckpt := loss(y)
		vars := []string{"/block/a/weight", "/block/a/bias", "/block/emb/weight", "/block/norm/weight", "/block/frozen/weight"}
		wrt := []*Node{in[0], in[1], in[2]}
		for _, path := range vars {
			wrt = append(wrt, scope.Store().GetVariable(path).NodeValue(g))
		}
		afterForward := NodeId(len(g.Nodes()))
		gradsPlain := Gradient(plain, wrt...)
		gradsCkpt := Gradient(ckpt, wrt...)
		for _, n := range g.Nodes()[afterForward:] {
			for _, input := range n.Inputs() {
				if input.Id() >= first && input.Id() <= fwdEnd {
					t.Errorf("the backward pass reads %s (node %d) of the checkpointed forward pass", input.Type(), input.Id())
				}
			}
		}
		return append(append([]*Node{plain, ckpt}, gradsPlain...), gradsCkpt...)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	outs, err := exec.Exec(x.Tensor(), c.Tensor(), z.Tensor())
	if err != nil {
		t.Fatal(err)
	}
	arr := make([]graphtest.Array, len(outs))
	for i, o := range outs {
		arr[i] = graphtest.FromTensor(o)
	}
	graphtest.AssertClose(t, "loss", arr[1].Data, arr[0].Data, 1e-6)
	names := []string{"x", "c", "captured's input", "a/weight", "a/bias", "emb/weight", "norm/weight", "frozen/weight"}
	n := len(names)
	for i, name := range names[:n-1] {
		plain, ckpt := arr[2+i], arr[2+n+i]
		if blkMaxAbs(plain.Data) == 0 {
			t.Fatalf("d%s is zero: the test does not exercise it", name)
		}
		graphtest.AssertClose(t, "d"+name, ckpt.Data, plain.Data, 1e-5)
	}
	if blkMaxAbs(arr[2+n+n-1].Data) != 0 {
		t.Error("the frozen variable got a gradient through the checkpoint")
	}
}

// Without a gradient pass, a checkpointed block computes what the block computes.
func TestCheckpointForwardOnly(t *testing.T) {
	x, c, z := graphtest.Random(4, 3, 4), graphtest.Random(5, 3, 5), graphtest.Random(6, 3, 6)
	store := ckptStore(t, x, c, z)
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, in []*Node) []*Node {
		captured := Tanh(in[2])
		plain := ckptBlock(scope.In("block"), captured)(in[:2])
		ckpt := Checkpoint(scope.Store(), ckptBlock(scope.Shared("block"), captured), in[0], in[1])
		return []*Node{plain, ckpt}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	outs, err := exec.Exec(x.Tensor(), c.Tensor(), z.Tensor())
	if err != nil {
		t.Fatal(err)
	}
	graphtest.AssertClose(t, "forward", graphtest.FromTensor(outs[1]).Data, graphtest.FromTensor(outs[0]).Data, 0)
}
