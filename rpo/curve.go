package rpo

import "math"

// The reward curve is drawn by the program that wants it (PlotRewardCurve with rpo/report's
// WriteRewardCurvePNG), so that package rpo links no plotting library.

// RewardPoint is one validation: its step and mean λ_val reward.
type RewardPoint struct {
	Step   int
	Reward float64
}

// RewardCurve returns the validations recorded in m, in order.
func RewardCurve(m *Metrics) []RewardPoint {
	out := make([]RewardPoint, len(m.Validations))
	for i, v := range m.Validations {
		out[i] = RewardPoint{Step: v.Step, Reward: v.Reward}
	}
	return out
}

// BestPoint returns the index of the best point: the first with the highest finite reward, as
// EarlyStopping picks it; -1 when there is none.
func BestPoint(points []RewardPoint) int {
	best := -1
	for i, p := range points {
		if isFinite(p.Reward) && (best < 0 || p.Reward > points[best].Reward) {
			best = i
		}
	}
	return best
}

// CurvePlotter draws the validation rewards, points in step order, to a picture file at path
// (atomically), with title above it. rpo/report's WriteRewardCurvePNG is one; PlotRewardCurve
// installs it in a Trainer.
type CurvePlotter func(path string, points []RewardPoint, title string) error

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
