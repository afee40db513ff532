// Package report draws the pictures of an RPO run that the programs around a Trainer want and the
// Trainer itself does not need: the validation reward curve (with gonum.org/v1/plot, pure Go,
// fonts embedded). Keeping them here keeps the plotting stack out of every program that imports
// package rpo; install the curve in a run with
//
//	rpo.PlotRewardCurve(report.WriteRewardCurvePNG)
//
// and the Trainer redraws OutDir/reward_curve.png after each validation.
package report

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gorpo/gorpo/internal/safetensors"
	"github.com/gorpo/gorpo/rpo"
)

// WriteRewardCurvePNG is an rpo.CurvePlotter: it draws the validation reward against the
// training step, marks the best validation (rpo.BestPoint), and writes the picture as a PNG
// (6×4 in at 96 dpi) to path, atomically. Non-finite rewards are left out; with no finite reward
// at all it is an error.
func WriteRewardCurvePNG(path string, points []rpo.RewardPoint, title string) error {
	var xys plotter.XYs
	for _, p := range points {
		if isFinite(p.Reward) {
			xys = append(xys, plotter.XY{X: float64(p.Step), Y: p.Reward})
		}
	}
	best := rpo.BestPoint(points)
	if best < 0 {
		return fmt.Errorf("rpo: reward curve %s: no finite validation reward to draw", path)
	}

	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = "validation reward"
	p.Add(plotter.NewGrid())

	line, dots, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("rpo: reward curve %s: %w", path, err)
	}
	line.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	dots.Color = line.Color
	dots.Shape = draw.CircleGlyph{}
	dots.Radius = vg.Points(2.5)

	bp := points[best]
	mark, err := plotter.NewScatter(plotter.XYs{{X: float64(bp.Step), Y: bp.Reward}})
	if err != nil {
		return fmt.Errorf("rpo: reward curve %s: %w", path, err)
	}
	mark.Shape = draw.CircleGlyph{}
	mark.Radius = vg.Points(5)
	mark.Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	label, err := plotter.NewLabels(plotter.XYLabels{
		XYs:    plotter.XYs{{X: float64(bp.Step), Y: bp.Reward}},
		Labels: []string{fmt.Sprintf("  best %.4f @ %d", bp.Reward, bp.Step)},
	})
	if err != nil {
		return fmt.Errorf("rpo: reward curve %s: %w", path, err)
	}
	p.Add(line, dots, mark, label)
	p.Legend.Add("reward", line, dots)
	p.Legend.Add("best", mark)
	// Leave room right of the data for the label and the legend, and above it for the label.
	p.Legend.Top = true
	if p.X.Max <= p.X.Min {
		p.X.Min, p.X.Max = p.X.Min-1, p.X.Max+1
	}
	if p.Y.Max <= p.Y.Min {
		p.Y.Min, p.Y.Max = p.Y.Min-0.01, p.Y.Max+0.01
	}
	p.X.Max += 0.3 * (p.X.Max - p.X.Min)
	p.Y.Max += 0.1 * (p.Y.Max - p.Y.Min)

	wt, err := p.WriterTo(6*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("rpo: reward curve %s: %w", path, err)
	}
	if err := safetensors.WriteAtomic(path, func(w io.Writer) error { _, err := wt.WriteTo(w); return err }); err != nil {
		return fmt.Errorf("rpo: reward curve: %w", err)
	}
	return nil
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
