package toyworld

import (
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/gorpo/gorpo/internal/imaging"
)

// Scene says what to draw: one object (a generic one of a class, or a built-in subject) in a
// context. Seed drives every jitter (the object's position, size, pose and shade, the background's
// details), so the same Scene always gives the same picture, and two Scenes that differ only in
// Class or Color share their background and the object's pose.
type Scene struct {
	Context string // a context phrase from Contexts(), e.g. "on the beach"
	// Class is a class word from Classes(); it may be left empty when Subject is set.
	Class string
	// Color is a colour word from Colors(). Empty means: a generic object takes a colour drawn
	// from Seed, a subject keeps its own colours; set on a subject, it recolours the subject's
	// main colour and keeps its pattern ("a red [V] cup").
	Color string
	// Subject is the name of a built-in subject, or empty for a generic object.
	Subject string
	// Accessory is an accessory phrase from Accessories(), for live classes only, or empty.
	Accessory string
	Seed      uint64
}

// Labels is the truth about a render, for training judges and grading generations.
type Labels struct {
	Context string
	Class   string
	// Color is the object's main colour as drawn: the scene's colour, the one drawn from the seed
	// for a generic object, or a subject's own main colour.
	Color     string
	Subject   string // empty for a generic object
	Accessory string
	Live      bool
	// Box is the pixel rectangle the object covers (at least a quarter of each pixel).
	Box image.Rectangle
}

// ErrBadScene is wrapped by every error about a Scene's fields.
var ErrBadScene = errors.New("toyworld: bad scene")

// resolved is a validated scene with its table entries.
type resolved struct {
	Scene
	ctx, class, subject, acc int
	live                     bool
}

func (s Scene) resolve() (resolved, error) {
	out := resolved{Scene: s, subject: -1, acc: -1}
	if out.ctx = contextIndex(s.Context); out.ctx < 0 {
		return out, fmt.Errorf("%w: unknown context %q", ErrBadScene, s.Context)
	}
	if s.Subject != "" {
		if out.subject = subjectIndex(s.Subject); out.subject < 0 {
			return out, fmt.Errorf("%w: unknown subject %q", ErrBadScene, s.Subject)
		}
		sc := subjectTable[out.subject].Class
		if s.Class != "" && s.Class != sc {
			return out, fmt.Errorf("%w: subject %q is a %s, not a %s", ErrBadScene, s.Subject, sc, s.Class)
		}
		out.Class = sc
	}
	if out.class = classIndex(out.Class); out.class < 0 {
		return out, fmt.Errorf("%w: unknown class %q", ErrBadScene, out.Class)
	}
	out.live = classTable[out.class].Live
	if s.Color != "" {
		if _, ok := colorOf(s.Color); !ok {
			return out, fmt.Errorf("%w: unknown colour %q", ErrBadScene, s.Color)
		}
	} else if out.subject < 0 {
		out.Color = colorTable[newRNG(s.Seed, streamScene).intn(len(colorTable))].word
	}
	if s.Accessory != "" {
		if out.acc = accessoryIndex(s.Accessory); out.acc < 0 {
			return out, fmt.Errorf("%w: unknown accessory %q", ErrBadScene, s.Accessory)
		}
		if !out.live {
			return out, fmt.Errorf("%w: a %s cannot wear %q (only live classes wear accessories)", ErrBadScene, out.Class, s.Accessory)
		}
	}
	return out, nil
}

// Render draws the scene at Size×Size and returns it with its labels. An unknown name, or an
// accessory on an object that is not live, is an error wrapping ErrBadScene.
func Render(s Scene) (*imaging.RGB, Labels, error) {
	rs, err := s.resolve()
	if err != nil {
		return nil, Labels{}, err
	}
	bg := newCanvas()
	st := contextTable[rs.ctx].draw(newPen(bg, identity), newRNG(s.Seed, streamBackground))

	r := newRNG(s.Seed, streamObject)
	cls := classTable[rs.class]
	scale := st.scale * r.between(0.88, 1.08)
	w := cls.w * scale
	slack := math.Max(0, math.Min(4, (Size-2-w)/2))
	x := Size/2 + r.between(-slack, slack)
	y := st.ground + r.between(-1, 1)
	tilt := 0.14
	switch {
	case cls.Live:
		tilt = 0.07
	case cls.Word == "star":
		tilt = 0.3
	}
	rot := r.between(-tilt, tilt)
	flip := r.chance(0.5)
	shade := r.between(0.93, 1.06)

	labels := Labels{Context: rs.Context, Class: rs.Class, Color: rs.Color, Subject: rs.Subject, Accessory: rs.Accessory, Live: rs.live}
	var lk look
	if rs.subject >= 0 {
		lk, labels.Color = subjectLook(rs.subject, rs.Color)
	} else {
		lk = look{main: mustColor(rs.Color)}
	}
	lk.main = lk.main.scale(shade)

	obj := newCanvas()
	op := newPen(obj, place(x, y, scale, rot, flip))
	a := cls.draw(op, &lk, r)
	if rs.acc >= 0 {
		accessoryTable[rs.acc].draw(op, a)
	}
	labels.Box = coverBox(obj)

	if st.shadow > 0 {
		shadow(bg, x, y, w*0.5, 1.2*scale, st.shadow, st.shade)
	}
	if st.mirror {
		reflect(bg, obj, y)
	}
	top := y + a.top*scale
	water := math.Inf(1)
	if st.sink > 0 {
		water = y - st.sink*(y-top)
		ripple(newPen(bg, identity), x, water, w*0.62, st.ripple, false)
	}
	for i, al := range obj.a {
		if al == 0 {
			continue
		}
		c := obj.pix[i]
		if float64(i/n)+0.5 > water*ss {
			c = c.mix(st.liquid, st.liquidOp)
		}
		bg.put(i, c, al)
	}
	if st.sink > 0 {
		ripple(newPen(bg, identity), x, water, w*0.62, st.ripple, true)
	}
	if st.front != nil {
		st.front(newPen(bg, identity))
	}
	if st.filter != nil {
		st.filter(bg)
	}
	return bg.downsample(), labels, nil
}

// shadow darkens a soft ellipse around (x, y) towards colour c, by op at the centre and less
// towards the rim.
func shadow(bg *canvas, x, y, rx, ry, op float64, c rgb) {
	for j := max(0, int((y-ry)*ss)); j <= min(n-1, int((y+ry)*ss)); j++ {
		py := (float64(j) + 0.5) / ss
		for i := max(0, int((x-rx)*ss)); i <= min(n-1, int((x+rx)*ss)); i++ {
			px := (float64(i) + 0.5) / ss
			dx, dy := (px-x)/rx, (py-y)/ry
			if d := dx*dx + dy*dy; d < 1 {
				bg.pix[j*n+i] = bg.pix[j*n+i].mix(c, op*(1-d))
			}
		}
	}
}

// reflect mirrors the object layer about the line y onto the floor, faded.
func reflect(bg, obj *canvas, y float64) {
	axis := y * ss
	for j := range n {
		sj := int(math.Floor(2*axis - float64(j) - 1))
		if float64(j) < axis || sj < 0 || sj >= n {
			continue
		}
		for i := range n {
			if al := obj.a[sj*n+i]; al > 0 {
				bg.put(j*n+i, obj.pix[sj*n+i].mix(bg.pix[j*n+i], 0.35), al*0.6)
			}
		}
	}
}

// ripple draws the back (front=false) or front half of a ring on a liquid surface.
func ripple(p pen, x, y, rx float64, c rgb, front bool) {
	ry := math.Max(0.8, rx*0.18)
	outer := ellipse(x, y, rx, ry, 0).minus(ellipse(x, y, rx-0.45, ry-0.3, 0))
	s := outer.and(rect(0, 0, Size, y))
	if front {
		s = outer.and(rect(0, y, Size, Size))
	}
	p.alpha(0.8).solidFill(s, c)
}

// coverBox is the bounding box of the pixels the layer covers by at least a quarter.
func coverBox(cv *canvas) image.Rectangle {
	var b image.Rectangle
	for y := range Size {
		for x := range Size {
			var s float32
			for j := range ss {
				for i := range ss {
					s += cv.a[(y*ss+j)*n+x*ss+i]
				}
			}
			if s >= ss*ss/4 {
				b = b.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return b
}
