package rpo

import (
	"image"

	"github.com/gorpo/gorpo/diffusion"
	"github.com/gorpo/gorpo/reward/rewardtest"
)

// Test fixtures of the Trainer: a tiny Stable Diffusion folder made of the random-weight parity
// fixtures (fixtures.WriteTinySD), and package rewardtest's fake embedder and synthetic
// reference photos (the examples use rewardtest and diffusiontest directly).

// FakeEmbedder is rewardtest's deterministic stand-in for ALIGN.
type FakeEmbedder = rewardtest.FakeEmbedder

func newFakeEmbedder() *FakeEmbedder { return rewardtest.NewFakeEmbedder() }

// testReferences returns n synthetic "photos" of a subject, 20×24 (so they are resized and
// cropped to the model's size): rewardtest.References.
func testReferences(n int) []image.Image { return rewardtest.References(n) }

// loadTinySD loads the tiny pipeline from dir.
func loadTinySD(dir string) (*diffusion.Pipeline, error) { return diffusion.LoadPipeline(dir) }
