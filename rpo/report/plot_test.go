package report

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gorpo/gorpo/rpo"
)

func TestRewardCurvePNG(t *testing.T) {
	points := []rpo.RewardPoint{{Step: 40, Reward: 0.52}, {Step: 80, Reward: 0.58}, {Step: 120, Reward: math.NaN()},
		{Step: 160, Reward: 0.61}, {Step: 200, Reward: 0.61}, {Step: 240, Reward: 0.57}}
	if b := rpo.BestPoint(points); b != 3 {
		t.Errorf("best point %d, want 3 (the first of the tied maxima)", b)
	}
	path := filepath.Join(t.TempDir(), "reward.png")
	if err := WriteRewardCurvePNG(path, points, "RPO: dog"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 576 || b.Dy() != 384 {
		t.Errorf("picture is %v, want 576×384", b)
	}
	// A single point draws too; no finite reward is an error.
	if err := WriteRewardCurvePNG(path, points[:1], ""); err != nil {
		t.Error(err)
	}
	if err := WriteRewardCurvePNG(path, []rpo.RewardPoint{{Step: 40, Reward: math.NaN()}}, ""); err == nil {
		t.Error("a curve without finite rewards was drawn")
	}
}
