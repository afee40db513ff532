package rpo

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestRewardCurvePNG(t *testing.T) {
	points := []RewardPoint{{40, 0.52}, {80, 0.58}, {120, math.NaN()}, {160, 0.61}, {200, 0.61}, {240, 0.57}}
	if b := BestPoint(points); b != 3 {
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
	if err := WriteRewardCurvePNG(path, []RewardPoint{{40, math.NaN()}}, ""); err == nil {
		t.Error("a curve without finite rewards was drawn")
	}
}
