package toyworld

import (
	"math"

	"github.com/gorpo/gorpo/internal/imaging"
)

// Size is the side of every render in pixels.
const Size = 32

// Scenes are drawn at ss× the output resolution and box-filtered down, which anti-aliases every
// edge: a shape covering half a pixel gives that pixel half its colour.
const (
	ss = 4
	n  = Size * ss
)

// rgb is a colour with channels in [0, 1] (sRGB, not linear).
type rgb struct{ R, G, B float32 }

func c8(r, g, b int) rgb { return rgb{float32(r) / 255, float32(g) / 255, float32(b) / 255} }

// scale multiplies the channels by f (darker below 1, lighter above, clamped later).
func (c rgb) scale(f float64) rgb {
	return rgb{c.R * float32(f), c.G * float32(f), c.B * float32(f)}
}

// mix returns (1-t)·c + t·o.
func (c rgb) mix(o rgb, t float64) rgb {
	s := float32(t)
	return rgb{c.R + (o.R-c.R)*s, c.G + (o.G-c.G)*s, c.B + (o.B-c.B)*s}
}

func (c rgb) add(f float64) rgb {
	s := float32(f)
	return rgb{c.R + s, c.G + s, c.B + s}
}

func (c rgb) clamp() rgb { return rgb{clamp01(c.R), clamp01(c.G), clamp01(c.B)} }

func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

var white = c8(255, 255, 255)

// canvas is one layer at ss× resolution: colour and coverage per sub-pixel. The background layer
// is opaque; an object layer starts transparent and is composited onto it.
type canvas struct {
	pix []rgb
	a   []float32
}

func newCanvas() *canvas { return &canvas{pix: make([]rgb, n*n), a: make([]float32, n*n)} }

// put paints sub-pixel i with colour c at opacity op.
func (cv *canvas) put(i int, c rgb, op float32) {
	if op >= 1 {
		cv.pix[i] = c
		cv.a[i] = 1
		return
	}
	p := &cv.pix[i]
	p.R += (c.R - p.R) * op
	p.G += (c.G - p.G) * op
	p.B += (c.B - p.B) * op
	cv.a[i] += (1 - cv.a[i]) * op
}

// downsample box-filters the canvas to Size×Size 8-bit RGB.
func (cv *canvas) downsample() *imaging.RGB {
	out := imaging.NewRGB(Size, Size)
	const inv = 1.0 / (ss * ss)
	for y := 0; y < Size; y++ {
		for x := 0; x < Size; x++ {
			var r, g, b float32
			for j := 0; j < ss; j++ {
				row := (y*ss+j)*n + x*ss
				for i := 0; i < ss; i++ {
					p := cv.pix[row+i].clamp()
					r += p.R
					g += p.G
					b += p.B
				}
			}
			o := 3 * (y*Size + x)
			out.Pix[o] = to8(r * inv)
			out.Pix[o+1] = to8(g * inv)
			out.Pix[o+2] = to8(b * inv)
		}
	}
	return out
}

func to8(v float32) uint8 {
	f := v*255 + 0.5
	if f <= 0 {
		return 0
	}
	if f >= 255 {
		return 255
	}
	return uint8(f)
}

// pt is a point in pixel units: (0,0) is the top-left corner of the image, (Size,Size) the
// bottom-right, y grows downwards.
type pt struct{ X, Y float64 }

type box struct{ x0, y0, x1, y1 float64 }

func (b box) union(o box) box {
	return box{math.Min(b.x0, o.x0), math.Min(b.y0, o.y0), math.Max(b.x1, o.x1), math.Max(b.y1, o.y1)}
}

// shape is a region: a bounding box and a membership test, both in the coordinates of whoever
// draws it (pixel units for backgrounds, the object's own frame for objects).
type shape struct {
	b  box
	in func(x, y float64) bool
}

// paint gives the colour at a point of a shape, in the same coordinates as the shape.
type paint func(x, y float64) rgb

func solid(c rgb) paint { return func(float64, float64) rgb { return c } }

// vgrad blends from c0 at y0 to c1 at y1.
func vgrad(y0 float64, c0 rgb, y1 float64, c1 rgb) paint {
	return func(_, y float64) rgb {
		t := (y - y0) / (y1 - y0)
		return c0.mix(c1, math.Max(0, math.Min(1, t)))
	}
}

func rect(x0, y0, x1, y1 float64) shape {
	return shape{box{x0, y0, x1, y1}, func(x, y float64) bool { return x >= x0 && x < x1 && y >= y0 && y < y1 }}
}

// rrect is a rectangle with corners rounded to radius r.
func rrect(x0, y0, x1, y1, r float64) shape {
	r = math.Min(r, math.Min((x1-x0)/2, (y1-y0)/2))
	return shape{box{x0, y0, x1, y1}, func(x, y float64) bool {
		if x < x0 || x >= x1 || y < y0 || y >= y1 {
			return false
		}
		cx := math.Max(x0+r, math.Min(x, x1-r))
		cy := math.Max(y0+r, math.Min(y, y1-r))
		dx, dy := x-cx, y-cy
		return dx*dx+dy*dy <= r*r
	}}
}

func circle(cx, cy, r float64) shape {
	return shape{box{cx - r, cy - r, cx + r, cy + r}, func(x, y float64) bool {
		dx, dy := x-cx, y-cy
		return dx*dx+dy*dy <= r*r
	}}
}

// ellipse has radii rx, ry, turned by rot radians.
func ellipse(cx, cy, rx, ry, rot float64) shape {
	s, c := math.Sincos(rot)
	m := math.Max(rx, ry)
	return shape{box{cx - m, cy - m, cx + m, cy + m}, func(x, y float64) bool {
		dx, dy := x-cx, y-cy
		u := (c*dx + s*dy) / rx
		v := (-s*dx + c*dy) / ry
		return u*u+v*v <= 1
	}}
}

// ring is the annulus between radii r0 < r1.
func ring(cx, cy, r0, r1 float64) shape {
	return shape{box{cx - r1, cy - r1, cx + r1, cy + r1}, func(x, y float64) bool {
		dx, dy := x-cx, y-cy
		d := dx*dx + dy*dy
		return d <= r1*r1 && d >= r0*r0
	}}
}

// poly is a polygon (even-odd rule).
func poly(p ...pt) shape {
	b := box{p[0].X, p[0].Y, p[0].X, p[0].Y}
	for _, q := range p {
		b = b.union(box{q.X, q.Y, q.X, q.Y})
	}
	return shape{b, func(x, y float64) bool {
		in := false
		j := len(p) - 1
		for i := range p {
			if (p[i].Y > y) != (p[j].Y > y) && x < (p[j].X-p[i].X)*(y-p[i].Y)/(p[j].Y-p[i].Y)+p[i].X {
				in = !in
			}
			j = i
		}
		return in
	}}
}

// line is a segment of width w with round caps.
func line(x0, y0, x1, y1, w float64) shape {
	h := w / 2
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	return shape{box{math.Min(x0, x1) - h, math.Min(y0, y1) - h, math.Max(x0, x1) + h, math.Max(y0, y1) + h},
		func(x, y float64) bool {
			t := 0.0
			if l2 > 0 {
				t = math.Max(0, math.Min(1, ((x-x0)*dx+(y-y0)*dy)/l2))
			}
			ex, ey := x-x0-t*dx, y-y0-t*dy
			return ex*ex+ey*ey <= h*h
		}}
}

// polyline is a chain of segments of width w.
func polyline(w float64, p ...pt) shape {
	segs := make([]shape, len(p)-1)
	for i := range segs {
		segs[i] = line(p[i].X, p[i].Y, p[i+1].X, p[i+1].Y, w)
	}
	return union(segs...)
}

func union(s ...shape) shape {
	b := s[0].b
	for _, o := range s[1:] {
		b = b.union(o.b)
	}
	return shape{b, func(x, y float64) bool {
		for _, o := range s {
			if o.in(x, y) {
				return true
			}
		}
		return false
	}}
}

// and is the intersection of s and o.
func (s shape) and(o shape) shape {
	b := box{math.Max(s.b.x0, o.b.x0), math.Max(s.b.y0, o.b.y0), math.Min(s.b.x1, o.b.x1), math.Min(s.b.y1, o.b.y1)}
	return shape{b, func(x, y float64) bool { return s.in(x, y) && o.in(x, y) }}
}

// minus is s without o.
func (s shape) minus(o shape) shape {
	return shape{s.b, func(x, y float64) bool { return s.in(x, y) && !o.in(x, y) }}
}

// affine maps (x, y) to (a·x + b·y + c, d·x + e·y + f).
type affine struct{ a, b, c, d, e, f float64 }

var identity = affine{a: 1, e: 1}

// place puts an object's frame on the canvas: its origin at (ox, oy), scaled by s, mirrored
// when flip, then turned by rot radians about the origin.
func place(ox, oy, s, rot float64, flip bool) affine {
	sn, cs := math.Sincos(rot)
	fx := s
	if flip {
		fx = -s
	}
	return affine{a: cs * fx, b: -sn * s, c: ox, d: sn * fx, e: cs * s, f: oy}
}

func (t affine) apply(x, y float64) (float64, float64) {
	return t.a*x + t.b*y + t.c, t.d*x + t.e*y + t.f
}

func (t affine) inverse() affine {
	det := t.a*t.e - t.b*t.d
	a, b, d, e := t.e/det, -t.b/det, -t.d/det, t.a/det
	return affine{a: a, b: b, c: -(a*t.c + b*t.f), d: d, e: e, f: -(d*t.c + e*t.f)}
}

func (t affine) box(b box) box {
	x0, y0 := t.apply(b.x0, b.y0)
	out := box{x0, y0, x0, y0}
	for _, p := range [][2]float64{{b.x1, b.y0}, {b.x0, b.y1}, {b.x1, b.y1}} {
		x, y := t.apply(p[0], p[1])
		out = out.union(box{x, y, x, y})
	}
	return out
}

// pen draws shapes onto a canvas through a transform, at an opacity.
type pen struct {
	cv  *canvas
	t   affine
	inv affine
	op  float32
}

func newPen(cv *canvas, t affine) pen { return pen{cv: cv, t: t, inv: t.inverse(), op: 1} }

// alpha returns a pen that paints at opacity op.
func (p pen) alpha(op float64) pen { p.op = float32(op); return p }

// fill paints the shape s with p, both given in the pen's frame.
func (p pen) fill(s shape, c paint) {
	b := p.t.box(s.b)
	i0 := max(0, int(math.Floor(b.x0*ss)))
	j0 := max(0, int(math.Floor(b.y0*ss)))
	i1 := min(n-1, int(math.Ceil(b.x1*ss)))
	j1 := min(n-1, int(math.Ceil(b.y1*ss)))
	for j := j0; j <= j1; j++ {
		y := (float64(j) + 0.5) / ss
		for i := i0; i <= i1; i++ {
			x := (float64(i) + 0.5) / ss
			lx, ly := p.inv.apply(x, y)
			if s.in(lx, ly) {
				p.cv.put(j*n+i, c(lx, ly), p.op)
			}
		}
	}
}

// solidFill paints s in one colour.
func (p pen) solidFill(s shape, c rgb) { p.fill(s, solid(c)) }

// fillAll paints the whole canvas with c (identity pens only).
func (p pen) fillAll(c paint) { p.fill(rect(0, 0, Size, Size), c) }

// noise2 is smooth value noise in [0, 1] on a lattice of spacing 1, keyed by seed.
func noise2(seed uint64, x, y float64) float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	fx = fx * fx * (3 - 2*fx)
	fy = fy * fy * (3 - 2*fy)
	h := func(i, j float64) float64 {
		return float64(hash2(seed, uint64(int64(i)*73856093^int64(j)*19349663))>>11) / (1 << 53)
	}
	a, b := h(x0, y0), h(x0+1, y0)
	c, d := h(x0, y0+1), h(x0+1, y0+1)
	return (a+(b-a)*fx)*(1-fy) + (c+(d-c)*fx)*fy
}
