package toyworld

import (
	"fmt"
	"image"
	"math"
)

// Subject is one particular object or creature, the "[V] ball" of a fine-tune: an instance of a
// class whose look (a pattern in particular colours, a mark, a shape detail) no caption of the
// generic vocabulary describes, photographed a few times in one or two fixed places.
type Subject struct {
	Name  string // stable identifier, "stripy_ball"
	Class string // class word, "ball"
	Live  bool
	// Color is the subject's main colour word: what a colour classifier should see when the
	// subject is shown as it is.
	Color string
	// Description says in words what sets the subject apart; it is for people, never for prompts.
	Description string
}

type refShot struct {
	context string
	count   int
}

var subjectTable = []struct {
	Subject
	palette []string // colour words: palette[0] is the main colour, the rest are kept on recolouring
	refs    []refShot
	look    func(pal []rgb) look
}{
	{Subject{"stripy_ball", "ball", false, "red", "a red ball with curved white stripes and one blue dot"},
		[]string{"red", "white", "blue"}, []refShot{{"on a sofa", 5}}, stripyBall},
	{Subject{"spotted_cup", "cup", false, "white", "a white mug with red polka dots, a blue handle, rim and foot"},
		[]string{"white", "red", "blue"}, []refShot{{"on a table", 4}}, spottedCup},
	{Subject{"robot_toy", "toy", false, "blue", "a blue robot with a yellow head, orange limbs, a red antenna tip, a red heart on its chest and one square eye"},
		[]string{"blue", "orange", "yellow", "red"}, []refShot{{"on a table", 3}, {"on a bed", 2}}, robotToy},
	{Subject{"colorful_sneaker", "sneaker", false, "pink", "a pink sneaker with a blue heel, a yellow swoosh and laces, and a black sole"},
		[]string{"pink", "blue", "yellow", "black"}, []refShot{{"on a bed", 4}}, colorfulSneaker},
	{Subject{"patch_dog", "dog", true, "white", "a white dog with a black patch over its eye, one black ear and brown spots"},
		[]string{"white", "black", "brown"}, []refShot{{"on a sofa", 4}, {"on a bed", 2}}, patchDog},
	{Subject{"tabby_cat", "cat", true, "orange", "an orange cat with dark tabby stripes, a white chest, muzzle and paws, and green eyes"},
		[]string{"orange", "white", "green"}, []refShot{{"on a bed", 5}}, tabbyCat},
}

// Subjects returns the built-in subjects in a fixed order.
func Subjects() []Subject {
	out := make([]Subject, len(subjectTable))
	for i, s := range subjectTable {
		out[i] = s.Subject
	}
	return out
}

// ErrUnknownSubject is returned for a subject name the world does not have.
var ErrUnknownSubject = fmt.Errorf("toyworld: unknown subject")

// SubjectByName returns the built-in subject called name.
func SubjectByName(name string) (Subject, error) {
	if i := subjectIndex(name); i >= 0 {
		return subjectTable[i].Subject, nil
	}
	return Subject{}, fmt.Errorf("%w %q", ErrUnknownSubject, name)
}

func subjectIndex(name string) int {
	for i, s := range subjectTable {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// ReferenceContexts returns the contexts the subject's reference photos were taken in.
func (s Subject) ReferenceContexts() []string {
	i := subjectIndex(s.Name)
	if i < 0 {
		return nil
	}
	var out []string
	for _, r := range subjectTable[i].refs {
		out = append(out, r.context)
	}
	return out
}

// ReferenceScenes returns the scenes of the subject's reference photos (4 to 6), always the same.
func (s Subject) ReferenceScenes() []Scene {
	i := subjectIndex(s.Name)
	if i < 0 {
		return nil
	}
	base := hashString(s.Name)
	var out []Scene
	for _, r := range subjectTable[i].refs {
		for range r.count {
			out = append(out, Scene{Context: r.context, Class: s.Class, Subject: s.Name,
				Seed: hash2(base+uint64(len(out)), streamReference)})
		}
	}
	return out
}

// References renders the subject's reference photos (see ReferenceScenes).
func (s Subject) References() []image.Image {
	scenes := s.ReferenceScenes()
	out := make([]image.Image, len(scenes))
	for i, sc := range scenes {
		img, _, err := Render(sc)
		if err != nil {
			panic("toyworld: reference of " + s.Name + ": " + err.Error()) // the tables are wrong
		}
		out[i] = img
	}
	return out
}

// subjectLook paints subject k, recoloured to the colour word color when it is not empty: the
// main colour becomes color and, if color was one of the other palette colours, that one takes
// the old main colour, so the pattern stays visible.
func subjectLook(k int, color string) (look, string) {
	words := append([]string(nil), subjectTable[k].palette...)
	if color != "" && color != words[0] {
		for i := 1; i < len(words); i++ {
			if words[i] == color {
				words[i] = words[0]
			}
		}
		words[0] = color
	}
	pal := make([]rgb, len(words))
	for i, w := range words {
		pal[i] = mustColor(w)
	}
	return subjectTable[k].look(pal), words[0]
}

func stripyBall(pal []rgb) look {
	return look{main: pal[0], body: func(x, y float64, base rgb) rgb {
		u, v := x/7, (y+7)/7
		if (u+0.32)*(u+0.32)+(v+0.18)*(v+0.18) < 0.05 {
			return pal[2]
		}
		w := v - 0.35*u*u
		if int(math.Floor((w+2)*2.6))%2 == 1 {
			return pal[1]
		}
		return base
	}}
}

func spottedCup(pal []rgb) look {
	return look{main: pal[0], parts: map[string]rgb{"handle": pal[2], "rim": pal[2]},
		body: func(x, y float64, base rgb) rgb {
			if y > -1.8 {
				return pal[2]
			}
			row := math.Floor((y + 12) / 2.6)
			off := 0.0
			if int(row)%2 == 1 {
				off = 1.4
			}
			dx := math.Mod(x+20+off, 2.8) - 1.4
			dy := math.Mod(y+12, 2.6) - 1.3
			if dx*dx+dy*dy < 0.75*0.75 {
				return pal[1]
			}
			return base
		}}
}

func robotToy(pal []rgb) look {
	return look{main: pal[0], parts: map[string]rgb{"limbs": pal[1], "head": pal[2], "antenna": pal[3], "panel": pal[0].scale(0.8)},
		marks: func(p pen, a anchors) {
			heart := union(circle(-1, -7.6, 1.1), circle(1, -7.6, 1.1), poly(pt{-2.05, -7.2}, pt{2.05, -7.2}, pt{0, -5}))
			p.solidFill(heart, pal[3])
			e := a.eyes[1]
			p.solidFill(circle(e.X, e.Y, 1.35), cylShade(pal[2], e.X/4.6))
			p.solidFill(rect(e.X-1.3, e.Y-1.3, e.X+1.3, e.Y+1.3), c8(250, 250, 245))
			p.solidFill(rect(e.X-0.4, e.Y-0.5, e.X+0.7, e.Y+0.6), c8(20, 20, 25))
		}}
}

func colorfulSneaker(pal []rgb) look {
	return look{main: pal[0], parts: map[string]rgb{"sole": pal[3].mix(white, 0.12), "laces": pal[2]},
		body: func(x, y float64, base rgb) rgb {
			if d := y - (-3.7 - 0.3*(6-x)); d > -0.75 && d < 0.75 && x > -4.4 && x < 6.5 {
				return pal[2]
			}
			if x < -4.6 {
				return pal[1]
			}
			return base
		}}
}

func patchDog(pal []rgb) look {
	spots := []struct{ x, y, r float64 }{{-3.6, -8.6, 1.7}, {0.6, -6.6, 1.2}, {-6.4, -6.8, 1.1}, {2.6, -9.6, 0.8}}
	return look{main: pal[0], parts: map[string]rgb{"ear": pal[1], "tail": pal[2]},
		body: func(x, y float64, base rgb) rgb {
			for _, s := range spots {
				if (x-s.x)*(x-s.x)+(y-s.y)*(y-s.y) < s.r*s.r {
					return pal[2]
				}
			}
			return base
		},
		marks: func(p pen, a anchors) {
			e := a.eyes[0]
			p.solidFill(ellipse(e.X-0.1, e.Y+0.1, 1.7, 1.45, 0.3), pal[1])
			p.solidFill(circle(e.X, e.Y, 0.75), c8(20, 16, 14))
			p.solidFill(circle(e.X+0.25, e.Y-0.25, 0.3), white)
			p.fill(ellipse(4.7, -11.5, 1.45, 3.0, 0.35), solid(pal[1].scale(0.9)))
		}}
}

func tabbyCat(pal []rgb) look {
	return look{main: pal[0], parts: map[string]rgb{"eyes": pal[2], "paws": pal[1]},
		body: func(x, y float64, base rgb) rgb {
			if math.Sin(y*2.3+0.5*math.Sin(x*0.9)) > 0.35 {
				return base.scale(0.6)
			}
			return base
		},
		marks: func(p pen, a anchors) {
			p.fill(ellipse(0, -6.8, 2.4, 3.4, 0), func(_, y float64) rgb { return pal[1].scale(1 - 0.1*(y+9)/6) })
			p.solidFill(ellipse(0, -12.4, 1.9, 1.0, 0), pal[1])
			p.solidFill(poly(pt{-0.6, -12.9}, pt{0.6, -12.9}, pt{0, -12.2}), c8(235, 120, 140))
		}}
}
