package toyworld

import "math"

// look is how one object is painted: its main colour, and for a subject the pattern, part
// colours and marks that make it that instance rather than any object of its class.
type look struct {
	main rgb
	// body, when set, patterns the main-coloured surface: it gets a point of the object's frame
	// and the main colour, and returns the colour there (before shading).
	body func(x, y float64, base rgb) rgb
	// parts overrides the class's default colour of a named part ("limbs", "sole", "handle", ...).
	parts map[string]rgb
	// marks, when set, draws after the class's own shapes, in the object's frame.
	marks func(p pen, a anchors)
}

func (lk *look) part(name string, def rgb) rgb {
	if c, ok := lk.parts[name]; ok {
		return c
	}
	return def
}

func (lk *look) surface(x, y float64) rgb {
	if lk.body != nil {
		return lk.body(x, y, lk.main)
	}
	return lk.main
}

// anchors are the points of a drawn object that accessories and marks attach to, in its frame.
type anchors struct {
	top   float64 // smallest y the object reaches
	head  pt      // centre of the head (live classes), or of the upper part
	headR float64
	eyes  []pt
	neck  pt
	torso shape // the body region clothes cover (live classes)
	side  bool  // drawn in side view (the dog) rather than facing the camera
}

// light is the direction light comes from: the upper left, towards the viewer.
var light = func() [3]float64 {
	x, y, z := -0.5, -0.65, 0.58
	l := math.Sqrt(x*x + y*y + z*z)
	return [3]float64{x / l, y / l, z / l}
}()

// sphereShade lights colour c at the point (nx, ny) of a unit disc seen as a sphere.
func sphereShade(c rgb, nx, ny float64) rgb {
	nz := math.Sqrt(math.Max(0, 1-nx*nx-ny*ny))
	d := math.Max(0, nx*light[0]+ny*light[1]+nz*light[2])
	return c.scale(0.5 + 0.62*d).add(0.5 * math.Pow(d, 28))
}

// cylShade lights colour c across a vertical cylinder, t in [-1, 1] from left to right.
func cylShade(c rgb, t float64) rgb {
	t = math.Max(-1, math.Min(1, t))
	nz := math.Sqrt(1 - t*t)
	d := math.Max(0, t*light[0]+nz*0.8)
	return c.scale(0.55 + 0.55*d).add(0.25 * math.Pow(d, 16))
}

func drawBall(p pen, lk *look, _ *rng) anchors {
	const R = 7.0
	p.fill(circle(0, -R, R), func(x, y float64) rgb { return sphereShade(lk.surface(x, y), x/R, (y+R)/R) })
	a := anchors{top: -2 * R, head: pt{0, -R}, headR: R}
	if lk.marks != nil {
		lk.marks(p, a)
	}
	return a
}

func drawBox(p pen, lk *look, r *rng) anchors {
	dx := r.between(3, 4.5) // how much of the side face shows
	const s, dy = 11.0, 3.0
	x0 := -(s + dx) / 2
	x1 := x0 + s
	front := rect(x0, -s, x1, 0)
	top := poly(pt{x0, -s}, pt{x1, -s}, pt{x1 + dx, -s - dy}, pt{x0 + dx, -s - dy})
	side := poly(pt{x1, 0}, pt{x1 + dx, -dy}, pt{x1 + dx, -s - dy}, pt{x1, -s})
	p.fill(front, func(x, y float64) rgb { return lk.surface(x, y).scale(0.98 - 0.12*(y+s)/s) })
	p.fill(top, func(x, y float64) rgb { return lk.surface(x, y).scale(1.12).add(0.06) })
	p.fill(side, func(x, y float64) rgb { return lk.surface(x, y).scale(0.62) })
	edge := lk.main.scale(0.45)
	w := 0.35
	for _, l := range [][4]float64{{x0, -s, x1, -s}, {x1, -s, x1, 0}, {x1, -s, x1 + dx, -s - dy}} {
		p.solidFill(line(l[0], l[1], l[2], l[3], w), edge)
	}
	a := anchors{top: -s - dy, head: pt{(x0 + x1) / 2, -s / 2}, headR: s / 2}
	if lk.marks != nil {
		lk.marks(p, a)
	}
	return a
}

func drawStar(p pen, lk *look, _ *rng) anchors {
	const R, ri, cy = 8.2, 3.4, -7.6
	var v [10]pt
	for k := range v {
		rad := R
		if k%2 == 1 {
			rad = ri
		}
		ang := -math.Pi/2 + float64(k)*math.Pi/5
		v[k] = pt{rad * math.Cos(ang), cy + rad*math.Sin(ang)}
	}
	c := pt{0, cy}
	for k := range v {
		f := 1.12
		if k%2 == 1 {
			f = 0.78
		}
		tri := poly(c, v[k], v[(k+1)%10])
		p.fill(tri, func(x, y float64) rgb {
			d := math.Hypot(x, y-cy) / R
			return lk.surface(x, y).scale(f * (1.05 - 0.25*d))
		})
	}
	a := anchors{top: cy - R, head: c, headR: ri}
	if lk.marks != nil {
		lk.marks(p, a)
	}
	return a
}

func drawCup(p pen, lk *look, _ *rng) anchors {
	const hw, h = 5.0, 11.0
	handle := ring(hw, -5.8, 1.7, 3.4).minus(rect(-20, -20, hw-0.4, 5))
	p.fill(handle, func(x, y float64) rgb { return lk.part("handle", lk.main).scale(0.85) })
	body := union(rect(-hw, -h, hw, -3), rrect(-hw, -7, hw, 0, 2.2))
	p.fill(body, func(x, y float64) rgb { return cylShade(lk.surface(x, y), x/hw) })
	p.fill(ellipse(0, -h, hw, 1.5, 0), solid(lk.part("rim", lk.main).scale(1.1).add(0.05)))
	p.fill(ellipse(0, -h+0.1, hw-0.9, 1.0, 0), solid(lk.part("inside", lk.main.scale(0.45))))
	a := anchors{top: -h - 1.5, head: pt{0, -h / 2}, headR: hw}
	if lk.marks != nil {
		lk.marks(p, a)
	}
	return a
}

// sneakerUpper is the sneaker's upper (facing right) in its frame: heel and collar at the back,
// the tongue sticking up, the laces sloping down to a rounded toe.
var sneakerUpper = poly(pt{-9.2, -2}, pt{-9.8, -7.5}, pt{-9.2, -10.6}, pt{-7.4, -11.2}, pt{-5.0, -10.2},
	pt{-3.2, -9.8}, pt{-2.4, -11.6}, pt{-0.8, -11.2}, pt{0.2, -9.2}, pt{3.5, -7.2}, pt{6.8, -5.6},
	pt{9.2, -4.4}, pt{10, -3}, pt{10, -2})

func drawSneaker(p pen, lk *look, _ *rng) anchors {
	sole := lk.part("sole", c8(238, 236, 230))
	p.fill(sneakerUpper, func(x, y float64) rgb { return lk.surface(x, y).scale(1.08 - 0.22*(y+11)/9) })
	// the collar opening, the tongue and a heel tab
	p.solidFill(ellipse(-6.3, -10.5, 2.3, 0.65, 0.2), lk.main.scale(0.3))
	p.solidFill(poly(pt{-3.2, -9.8}, pt{-2.4, -11.6}, pt{-0.8, -11.2}, pt{0.2, -9.2}, pt{-1.4, -8.6}), lk.main.mix(white, 0.25))
	p.solidFill(rrect(-10, -10, -8.9, -6.8, 0.4), lk.part("tab", lk.main.scale(0.7)))
	// toe cap
	p.fill(ellipse(8.1, -3.3, 2.6, 1.6, 0.15).and(sneakerUpper), func(x, y float64) rgb {
		return lk.part("toe", lk.surface(x, y).scale(1.15))
	})
	// sole, with a darker tread line
	p.solidFill(rrect(-10.2, -2.8, 10.6, 0, 1.2), sole)
	p.solidFill(rect(-9.9, -0.7, 10.3, 0), sole.scale(0.72))
	// laces
	lace := lk.part("laces", c8(250, 250, 250))
	for k := range 3 {
		x := -0.2 + 1.9*float64(k)
		y := -9.4 + 1.05*float64(k)
		p.solidFill(line(x-0.7, y-0.5, x+0.7, y+0.6, 0.55), lace)
	}
	a := anchors{top: -11.6, head: pt{0, -6}, headR: 4, side: true}
	if lk.marks != nil {
		lk.marks(p, a)
	}
	return a
}

func drawRobot(p pen, lk *look, r *rng) anchors {
	limbs := lk.part("limbs", c8(150, 152, 162))
	tilt := r.between(-0.5, 0.5)
	// legs and feet
	for _, sx := range []float64{-1, 1} {
		p.fill(rect(sx*2.8-1.1, -4, sx*2.8+1.1, -0.8), func(x, y float64) rgb { return cylShade(limbs, (x-sx*2.8)/1.1) })
		p.solidFill(rrect(sx*2.8-1.6, -1.2, sx*2.8+1.6, 0, 0.4), limbs.scale(0.6))
	}
	// arms, the one towards the viewer a little raised
	p.solidFill(line(-5.6, -9.2, -7.4+tilt, -5.2, 1.5), limbs.scale(0.9))
	p.solidFill(line(5.6, -9.2, 7.6, -6.4-tilt, 1.5), limbs.scale(0.9))
	p.solidFill(circle(-7.4+tilt, -5.0, 1.0), limbs.scale(0.7))
	p.solidFill(circle(7.6, -6.2-tilt, 1.0), limbs.scale(0.7))
	// body with a chest panel
	p.fill(rrect(-5.6, -10.2, 5.6, -3.6, 1), func(x, y float64) rgb { return cylShade(lk.surface(x, y), x/5.6) })
	p.solidFill(rrect(-3, -8.8, 3, -5.2, 0.5), lk.part("panel", lk.main.mix(white, 0.55)))
	p.solidFill(circle(-1.3, -7, 0.6), c8(220, 40, 40))
	p.solidFill(circle(1.3, -7, 0.6), c8(40, 200, 80))
	// neck and head
	p.solidFill(rect(-1.2, -11.2, 1.2, -10), limbs.scale(0.7))
	p.fill(rrect(-4.6, -17.2, 4.6, -11, 1.4), func(x, y float64) rgb { return cylShade(lk.part("head", lk.surface(x, y)), x/4.6) })
	// antenna
	p.solidFill(line(0, -17, 0, -19.2, 0.6), limbs.scale(0.6))
	p.solidFill(circle(0, -19.6, 1.0), lk.part("antenna", c8(230, 50, 50)))
	// eyes and mouth
	eyes := []pt{{-2, -14.6}, {2, -14.6}}
	for _, e := range eyes {
		p.solidFill(circle(e.X, e.Y, 1.25), c8(250, 250, 245))
		p.solidFill(circle(e.X+0.25, e.Y+0.1, 0.6), c8(20, 20, 25))
	}
	p.solidFill(rect(-2.2, -12.6, 2.2, -12), c8(40, 40, 45))
	a := anchors{top: -20.6, head: pt{0, -14}, headR: 4.6, eyes: eyes, neck: pt{0, -10.6}}
	if lk.marks != nil {
		lk.marks(p, a)
	}
	return a
}

func drawBackpack(p pen, lk *look, _ *rng) anchors {
	const hw, h = 6.2, 15.0
	strap := lk.part("straps", lk.main.scale(0.55))
	// the carry loop
	p.solidFill(ring(0, -h+0.2, 1.4, 2.2).and(rect(-3, -h-3, 3, -h+0.2)), strap)
	// shoulder straps peeking out at the sides
	p.solidFill(rrect(-hw-1.1, -h+3, -hw+0.6, -1, 0.6), strap)
	p.solidFill(rrect(hw-0.6, -h+3, hw+1.1, -1, 0.6), strap)
	body := union(rrect(-hw, -h, hw, 0, 3.5), rrect(-hw, -h/2, hw, 0, 1.5))
	p.fill(body, func(x, y float64) rgb { return cylShade(lk.surface(x, y), x/hw) })
	// top flap seam and zip
	p.solidFill(line(-hw+0.8, -h+4.8, hw-0.8, -h+4.8, 0.45), lk.main.scale(0.5))
	// front pocket
	pocket := lk.part("pocket", lk.main.scale(0.82))
	p.fill(rrect(-4.4, -7.4, 4.4, -1, 1.6), func(x, y float64) rgb { return cylShade(pocket, x/4.4*0.7) })
	p.solidFill(line(-3.6, -6.3, 3.6, -6.3, 0.5), c8(200, 200, 200))
	p.solidFill(circle(2.8, -6.3, 0.55), c8(225, 225, 225))
	a := anchors{top: -h - 2.2, head: pt{0, -h / 2}, headR: hw}
	if lk.marks != nil {
		lk.marks(p, a)
	}
	return a
}

func drawCan(p pen, lk *look, _ *rng) anchors {
	const hw, h = 4.4, 13.0
	metal := c8(190, 192, 198)
	p.fill(union(rect(-hw, -h, hw, -1), ellipse(0, -1, hw, 1, 0)), func(x, y float64) rgb {
		if y < -h+1.4 || y > -1.6 {
			return cylShade(metal, x/hw)
		}
		c := lk.surface(x, y)
		if y > -7.8 && y < -5.8 {
			c = lk.part("band", white.scale(0.95))
		}
		return cylShade(c, x/hw)
	})
	p.solidFill(ellipse(0, -h, hw, 1.2, 0), metal.scale(1.1))
	p.solidFill(ellipse(0, -h, hw-0.8, 0.7, 0), metal.scale(0.75))
	p.solidFill(ellipse(0.8, -h, 1.2, 0.35, 0), metal.scale(1.2))
	a := anchors{top: -h - 1.2, head: pt{0, -h / 2}, headR: hw}
	if lk.marks != nil {
		lk.marks(p, a)
	}
	return a
}
