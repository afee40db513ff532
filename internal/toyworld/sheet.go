package toyworld

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"github.com/gorpo/gorpo/internal/imaging"
)

// WritePNG encodes img as PNG at path, writing a temporary file beside it and renaming it into
// place, so a reader never sees half a file.
func WritePNG(path string, img image.Image) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("toyworld: %w", err)
	}
	tmp := f.Name()
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes files only their owner can read
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("toyworld: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("toyworld: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("toyworld: %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("toyworld: %w", err)
	}
	return nil
}

// Grid lays images out in rows, each magnified scale× (nearest neighbour) with gap pixels of dark
// grey between cells; a nil cell stays empty. Cells are as large as the largest image.
func Grid(rows [][]image.Image, scale, gap int) *imaging.RGB {
	scale = max(1, scale)
	cw, ch, cols := 0, 0, 0
	for _, row := range rows {
		cols = max(cols, len(row))
		for _, img := range row {
			if img != nil {
				cw = max(cw, img.Bounds().Dx())
				ch = max(ch, img.Bounds().Dy())
			}
		}
	}
	W := cols*(cw*scale+gap) + gap
	H := len(rows)*(ch*scale+gap) + gap
	out := imaging.NewRGB(W, H)
	for i := range out.Pix {
		out.Pix[i] = 48
	}
	for r, row := range rows {
		for c, img := range row {
			if img == nil {
				continue
			}
			src, err := imaging.FromImage(img)
			if err != nil {
				continue
			}
			x0, y0 := gap+c*(cw*scale+gap), gap+r*(ch*scale+gap)
			for y := range src.H * scale {
				for x := range src.W * scale {
					si := 3 * ((y/scale)*src.W + x/scale)
					di := 3 * ((y0+y)*W + x0 + x)
					copy(out.Pix[di:di+3], src.Pix[si:si+3])
				}
			}
		}
	}
	return out
}

func mustRender(s Scene) image.Image {
	img, _, err := Render(s)
	if err != nil {
		panic(err) // sheets only use the world's own names
	}
	return img
}

// ContextSheet renders every context (rows, in the order of Contexts()) with every class
// (columns, in the order of Classes()), generic objects in colours drawn from seed.
func ContextSheet(seed uint64) [][]image.Image {
	var rows [][]image.Image
	for i, c := range contextTable {
		var row []image.Image
		for j, cl := range classTable {
			row = append(row, mustRender(Scene{Context: c.Phrase, Class: cl.Word, Seed: hash2(seed, uint64(i*64+j))}))
		}
		rows = append(rows, row)
	}
	return rows
}

// ColorSheet renders every class (rows) in every colour (columns) in one context.
func ColorSheet(seed uint64, context string) [][]image.Image {
	var rows [][]image.Image
	for j, cl := range classTable {
		var row []image.Image
		for k, c := range colorTable {
			row = append(row, mustRender(Scene{Context: context, Class: cl.Word, Color: c.word, Seed: hash2(seed, uint64(j*64+k))}))
		}
		rows = append(rows, row)
	}
	return rows
}

// AccessorySheet renders each live class, generic and as each live subject (rows), wearing each
// accessory (columns, the first column bare).
func AccessorySheet(seed uint64, context string) [][]image.Image {
	var who []Scene
	for _, cl := range classTable {
		if cl.Live {
			who = append(who, Scene{Class: cl.Word, Color: "brown"})
		}
	}
	for _, s := range subjectTable {
		if s.Live {
			who = append(who, Scene{Subject: s.Name})
		}
	}
	var rows [][]image.Image
	for i, w := range who {
		w.Context = context
		row := []image.Image{mustRender(w)}
		for k, a := range accessoryTable {
			w.Accessory, w.Seed = a.Phrase, hash2(seed, uint64(i*64+k))
			row = append(row, mustRender(w))
		}
		rows = append(rows, row)
	}
	return rows
}

// SubjectSheet gives one row per subject: its references, then a generic object of its class in
// its first reference context, then the subject in a few evaluation and training contexts, in two
// other colours and, for live subjects, wearing two accessories.
func SubjectSheet(seed uint64) [][]image.Image {
	var rows [][]image.Image
	for i, s := range subjectTable {
		row := s.References()
		for len(row) < 7 {
			row = append(row, nil)
		}
		first := s.refs[0].context
		row = append(row, mustRender(Scene{Context: first, Class: s.Class, Color: s.Color, Seed: hash2(seed, uint64(i))}))
		row = append(row, nil)
		for k, c := range []string{"in the snow", "on the beach", "on the Moon", "with a city in the background"} {
			row = append(row, mustRender(Scene{Context: c, Subject: s.Name, Seed: hash2(seed, uint64(i*64+k+1))}))
		}
		for k, c := range []string{"purple", "green"} {
			row = append(row, mustRender(Scene{Context: first, Subject: s.Name, Color: c, Seed: hash2(seed, uint64(i*64+k+10))}))
		}
		if s.Live {
			for k, a := range []string{"wearing a santa hat", "wearing a rainbow scarf"} {
				row = append(row, mustRender(Scene{Context: "in the jungle", Subject: s.Name, Accessory: a, Seed: hash2(seed, uint64(i*64+k+20))}))
			}
		}
		rows = append(rows, row)
	}
	return rows
}
