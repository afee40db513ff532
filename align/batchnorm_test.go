package align

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/gorpo/gorpo/internal/backend"
	"github.com/gorpo/gorpo/internal/graphtest"
	"github.com/gorpo/gorpo/internal/nn"
)

// A train-mode conv + BatchNorm (AlignVisionModelTraining's layer) normalises each channel by
// the batch's statistics and moves the running statistics as PyTorch does, against a host
// reference of a 1×1 convolution (a matmul): running_mean = 0.1·mean, running_var = 0.9 +
// 0.1·unbiased variance from the initial 0 and 1; a second step moves them again.
func TestConvBatchNormTraining(t *testing.T) {
	const b, h, w, cin, cout = 3, 4, 5, 3, 2
	x := graphtest.Random(11, b, h, w, cin)
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(5))
	exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, in *Node) *Node {
		return convBatchNormTraining(scope.In("conv"), scope.In("bn"), in, cout, 1, nn.ConvConfig{}, 1e-5)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	var got []float32
	runningMean, runningVar := []float64{0, 0}, []float64{1, 1}
	for step := 1; step <= 2; step++ {
		outs, err := exec.Exec(x.Tensor())
		if err != nil {
			t.Fatal(err)
		}
		got = tensors.MustCopyFlatData[float32](outs[0])
		kernel := tensors.MustCopyFlatData[float32](store.GetVariable("/conv/weight").MustValue()) // [cout, cin, 1, 1]

		n := b * h * w
		for c := range cout {
			y := make([]float64, n)
			var mean, out, outSq float64
			for p := range n {
				for k := range cin {
					y[p] += float64(x.Data[p*cin+k]) * float64(kernel[c*cin+k])
				}
				mean += y[p] / float64(n)
				out += float64(got[p*cout+c]) / float64(n)
				outSq += float64(got[p*cout+c]) * float64(got[p*cout+c]) / float64(n)
			}
			var ss float64
			for _, v := range y {
				ss += (v - mean) * (v - mean)
			}
			runningMean[c] = 0.9*runningMean[c] + 0.1*mean
			runningVar[c] = 0.9*runningVar[c] + 0.1*ss/float64(n-1)
			if math.Abs(out) > 1e-5 || math.Abs(outSq-1) > 1e-3 {
				t.Errorf("step %d, channel %d: output mean %.3g, mean square %.5f; want 0 and 1 (weight 1, bias 0)", step, c, out, outSq)
			}
		}
		for path, want := range map[string][]float64{"/bn/running_mean": runningMean, "/bn/running_var": runningVar} {
			have := tensors.MustCopyFlatData[float32](store.GetVariable(path).MustValue())
			for c := range cout {
				if math.Abs(float64(have[c])-want[c]) > 1e-5*math.Max(1, math.Abs(want[c])) {
					t.Errorf("step %d: %s[%d] = %.7f, want %.7f", step, path, c, have[c], want[c])
				}
			}
		}
	}
}
