package rpo_test

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/rpo"
)

// RPO's loss for one pair of 4-value "images": the trained model is closer to the target than the
// frozen base model on the reference image and farther on the generated one, so ℓ > 0, and a
// label y = 1 (reference preferred) gives a small preference loss.
func ExampleRPOLoss() {
	exec, err := NewExec(backend.MustDefault(), func(g *Graph) []*Node {
		img := func(v ...float32) *Node { return Reshape(Const(g, v), 1, 1, 2, 2) }
		loss := rpo.RPOLoss(rpo.PairPredictions{
			Ref: img(1.5, 0, -1, 2), BaseRef: img(1, 1, -1, 2), TargetRef: img(1, 0, -1, 2),
			Gen: img(1, 1, 0, 0), BaseGen: img(1, 0, 0, 0), TargetGen: img(0, 0, 0, 0),
		}, Const(g, []float32{1}), 1)
		return []*Node{loss.Sim, loss.Logit, loss.Pre, loss.Total}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer exec.Finalize()
	outs, err := exec.Call()
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, name := range []string{"L_sim", "β·ℓ", "L_pre", "L"} {
		fmt.Printf("%-5s %.4f\n", name, outs[i].Value())
	}
	// Output:
	// L_sim 0.0625
	// β·ℓ   0.4375
	// L_pre 0.4981
	// L     0.5606
}
