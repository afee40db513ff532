// Command toyworld draws gorpo's toy world so a person can look at it: contact sheets of every
// context with every class, every class in every colour, the live classes and subjects wearing
// every accessory, and each subject's reference photos beside a generic object of its class.
//
//	go run ./examples/toyworld [-out out/toyworld] [-seed 1] [-scale 4]
package main

import (
	"flag"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"github.com/gorpo/gorpo/internal/toyworld"
)

func main() {
	out := flag.String("out", "out/toyworld", "folder to write the sheets to")
	seed := flag.Uint64("seed", 1, "seed of the renders' jitter")
	scale := flag.Int("scale", 4, "magnification of each 32×32 render (nearest neighbour)")
	flag.Parse()
	if err := run(*out, *seed, *scale); err != nil {
		fmt.Fprintln(os.Stderr, "toyworld:", err)
		os.Exit(1)
	}
}

func run(out string, seed uint64, scale int) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	contexts := toyworld.ContextSheet(seed)
	subjects := toyworld.SubjectSheet(seed)
	sheets := []struct {
		name string
		rows [][]image.Image
		what string
	}{
		{"sheet.png", append(append(append([][]image.Image{}, contexts...), nil), subjects...),
			"all contexts × classes, then the subject rows of subjects.png"},
		{"contexts.png", contexts, "rows: contexts in the order below; columns: classes"},
		{"subjects.png", subjects, "rows: subjects; references, gap, generic object of the class, gap, subject in the snow/on the beach/on the Moon/with a city, in purple and green, with a santa hat and a rainbow scarf"},
		{"colors.png", toyworld.ColorSheet(seed, "on a table"), "rows: classes; columns: colours"},
		{"accessories.png", toyworld.AccessorySheet(seed, "on top of a wooden floor"), "rows: generic live classes, then live subjects; columns: bare, then accessories"},
	}
	for _, s := range sheets {
		path := filepath.Join(out, s.name)
		if err := toyworld.WritePNG(path, toyworld.Grid(s.rows, scale, 2)); err != nil {
			return err
		}
		fmt.Printf("%s: %s\n", path, s.what)
	}
	fmt.Println("\ncontexts (rows of contexts.png):")
	for i, c := range toyworld.Contexts() {
		fmt.Printf("  %2d  %-50s %s\n", i, c.Phrase, c.Use)
	}
	fmt.Print("classes (columns):")
	for _, c := range toyworld.Classes() {
		fmt.Print(" ", c.Word)
	}
	fmt.Print("\ncolours (columns of colors.png):")
	for _, c := range toyworld.Colors() {
		fmt.Print(" ", c)
	}
	fmt.Println("\nsubjects (rows of subjects.png):")
	for _, s := range toyworld.Subjects() {
		fmt.Printf("  %-17s %-8s %s\n", s.Name, s.Class, s.Description)
	}
	return nil
}
