package toyworld

import "math"

// The live classes: a dog seen from the side and a cat sitting face on, each with eyes, so that
// hats, scarves, glasses and clothes have a head, eyes, a neck and a torso to go on.

func drawDog(p pen, lk *look, _ *rng) anchors {
	fur := func(x, y float64) rgb { return lk.surface(x, y) }
	far := func(x, y float64) rgb { return lk.surface(x, y).scale(0.72) }
	// far legs, tail, near legs
	p.fill(rrect(-5.2, -5.8, -3.5, 0, 0.7), far)
	p.fill(rrect(3.4, -5.8, 5.1, 0, 0.7), far)
	p.fill(polyline(1.5, pt{-7.6, -8.6}, pt{-9.4, -10.6}, pt{-10.1, -13}), func(x, y float64) rgb {
		return lk.part("tail", lk.surface(x, y).scale(0.9))
	})
	p.fill(rrect(-7.3, -5.8, -5.5, 0, 0.7), fur)
	p.fill(rrect(1.4, -5.8, 3.2, 0, 0.7), fur)
	body := union(ellipse(-1.3, -7.6, 7.0, 3.5, -0.04), ellipse(3.4, -8.8, 2.7, 3.1, 0.3))
	p.fill(body, func(x, y float64) rgb { return fur(x, y).scale(1.08 - 0.35*(y+11)/8) })
	head := circle(6.4, -12.4, 3.5)
	p.fill(head, func(x, y float64) rgb { return sphereShade(fur(x, y), (x-6.4)/4.5, (y+12.4)/4.5).scale(1.12) })
	muzzle := lk.part("muzzle", lk.main.mix(white, 0.3))
	p.fill(ellipse(9.3, -11.4, 2.4, 1.55, 0.1), func(x, y float64) rgb { return muzzle.scale(1.05 - 0.2*(y+12.5)/3) })
	p.solidFill(circle(11.5, -11.9, 0.8), c8(20, 18, 18))
	p.solidFill(line(9.6, -10.3, 10.9, -10.4, 0.3), c8(40, 30, 30))
	eye := pt{7.3, -13.4}
	p.solidFill(circle(eye.X, eye.Y, 0.72), c8(20, 16, 14))
	p.solidFill(circle(eye.X+0.22, eye.Y-0.22, 0.26), white)
	p.fill(ellipse(4.7, -11.5, 1.45, 3.0, 0.35), func(x, y float64) rgb {
		return lk.part("ear", lk.surface(x, y).scale(0.62))
	})
	a := anchors{top: -15.9, head: pt{6.4, -12.4}, headR: 3.5, eyes: []pt{eye}, neck: pt{4.1, -9.4},
		torso: body.minus(head), side: true}
	if lk.marks != nil {
		lk.marks(p, a)
	}
	return a
}

func drawCat(p pen, lk *look, _ *rng) anchors {
	fur := func(x, y float64) rgb { return lk.surface(x, y) }
	p.fill(polyline(1.6, pt{3.6, -0.9}, pt{7, -1.3}, pt{8.6, -3.6}, pt{8.3, -6.8}), func(x, y float64) rgb {
		return lk.part("tail", fur(x, y).scale(0.85))
	})
	body := union(ellipse(0, -5, 5.4, 5, 0), ellipse(0, -8.6, 4, 3.5, 0))
	p.fill(body, func(x, y float64) rgb { return cylShade(fur(x, y), x/6) })
	paw := lk.part("paws", lk.main.mix(white, 0.15))
	p.solidFill(ellipse(-1.9, -0.7, 1.5, 0.9, 0), paw)
	p.solidFill(ellipse(1.9, -0.7, 1.5, 0.9, 0), paw)
	inner := c8(240, 150, 170)
	for _, s := range []float64{-1, 1} {
		p.fill(poly(pt{s * 4.3, -15.4}, pt{s * 0.8, -17.9}, pt{s * 3.9, -20.6}), func(x, y float64) rgb { return fur(x, y).scale(0.9) })
		p.solidFill(poly(pt{s * 3.6, -16.2}, pt{s * 1.7, -17.6}, pt{s * 3.5, -19.3}), inner)
	}
	head := circle(0, -14.2, 4.3)
	p.fill(head, func(x, y float64) rgb { return sphereShade(fur(x, y), x/5.5, (y+14.2)/5.5).scale(1.12) })
	eyeCol := lk.part("eyes", c8(215, 200, 50))
	eyes := []pt{{-1.7, -14.7}, {1.7, -14.7}}
	for _, e := range eyes {
		p.solidFill(ellipse(e.X, e.Y, 1.0, 1.2, 0), eyeCol)
		p.solidFill(ellipse(e.X, e.Y, 0.32, 1.0, 0), c8(15, 15, 15))
	}
	p.solidFill(poly(pt{-0.6, -12.9}, pt{0.6, -12.9}, pt{0, -12.2}), c8(235, 120, 140))
	whisker := c8(235, 235, 235)
	for _, s := range []float64{-1, 1} {
		p.solidFill(line(s*1.3, -12.5, s*5.2, -13.2, 0.22), whisker)
		p.solidFill(line(s*1.3, -12.2, s*5.1, -11.6, 0.22), whisker)
	}
	a := anchors{top: -20.6, head: pt{0, -14.2}, headR: 4.3, eyes: eyes, neck: pt{0, -10.1},
		torso: body.minus(head).and(rect(-10, -13, 10, -1.8))}
	if lk.marks != nil {
		lk.marks(p, a)
	}
	return a
}

// Accessory is something a live subject can wear, named by its prompt phrase ("wearing a red hat").
type Accessory struct {
	Phrase string
	// Training marks the phrase of the RPO training prompts ("wearing a green outfit"), which the
	// evaluation prompts leave out.
	Training bool
}

var accessoryTable = []struct {
	Accessory
	draw func(p pen, a anchors)
}{
	{Accessory{"wearing a red hat", false}, drawRedHat},
	{Accessory{"wearing a santa hat", false}, drawSantaHat},
	{Accessory{"wearing a rainbow scarf", false}, drawRainbowScarf},
	{Accessory{"wearing a black top hat and a monocle", false}, drawTopHat},
	{Accessory{"in a chef outfit", false}, drawChef},
	{Accessory{"in a firefighter outfit", false}, drawFirefighter},
	{Accessory{"in a police outfit", false}, drawPolice},
	{Accessory{"wearing pink glasses", false}, drawPinkGlasses},
	{Accessory{"wearing a yellow shirt", false}, drawYellowShirt},
	{Accessory{"in a purple wizard outfit", false}, drawWizard},
	{Accessory{"wearing a green outfit", true}, drawGreenOutfit},
}

// Accessories returns what live classes can wear, in a fixed order (DreamBench's ten
// accessorisation prompts, then RPO's training outfit).
func Accessories() []Accessory {
	out := make([]Accessory, len(accessoryTable))
	for i, a := range accessoryTable {
		out[i] = a.Accessory
	}
	return out
}

func accessoryIndex(phrase string) int {
	for i, a := range accessoryTable {
		if a.Phrase == phrase {
			return i
		}
	}
	return -1
}

// hatBase is where a hat's brim sits and how wide it is.
func hatBase(a anchors) (x, y, w float64) {
	return a.head.X - 0.3, a.head.Y - a.headR*0.72, a.headR * 1.15
}

func drawRedHat(p pen, a anchors) {
	red := c8(215, 30, 35)
	x, y, w := hatBase(a)
	p.fill(rrect(x-0.62*w, y-3.6, x+0.62*w, y+0.2, 1.3), func(px, _ float64) rgb { return cylShade(red, (px-x)/(0.62*w)) })
	p.solidFill(rect(x-0.62*w, y-1.2, x+0.62*w, y-0.4), red.scale(0.55))
	p.solidFill(ellipse(x, y, w, 0.75, 0), red.scale(0.85))
}

func drawSantaHat(p pen, a anchors) {
	red := c8(220, 30, 35)
	x, y, w := hatBase(a)
	p.fill(poly(pt{x - 0.85*w, y}, pt{x - 0.4, y - 4.8}, pt{x + 1.6, y - 5.6}, pt{x + 3.4, y - 4.2}, pt{x + 0.85*w, y}),
		func(px, _ float64) rgb { return cylShade(red, (px-x)/w) })
	p.solidFill(rrect(x-0.95*w, y-1.0, x+0.95*w, y+0.8, 0.9), c8(250, 250, 250))
	p.solidFill(circle(x+3.5, y-4.1, 1.15), c8(250, 250, 250))
}

func drawTopHat(p pen, a anchors) {
	hat := c8(28, 28, 32)
	x, y, w := hatBase(a)
	p.fill(rect(x-0.62*w, y-5.6, x+0.62*w, y), func(px, _ float64) rgb { return cylShade(hat.add(0.05), (px-x)/(0.62*w)) })
	p.solidFill(rect(x-0.62*w, y-1.4, x+0.62*w, y-0.5), c8(120, 40, 50))
	p.solidFill(ellipse(x, y, 1.05*w, 0.7, 0), hat)
	gold := c8(235, 195, 60)
	e := a.eyes[len(a.eyes)-1]
	p.solidFill(ring(e.X, e.Y, 1.0, 1.5), gold)
	p.solidFill(polyline(0.25, pt{e.X, e.Y + 1.5}, pt{e.X - 0.6, e.Y + 3.2}, pt{a.neck.X, a.neck.Y + 1.5}), gold)
}

var rainbow = []rgb{c8(230, 30, 30), c8(250, 140, 20), c8(250, 225, 30), c8(40, 175, 60), c8(40, 90, 220), c8(140, 50, 190)}

func rainbowAt(t float64) rgb {
	k := int(math.Floor(t)) % len(rainbow)
	if k < 0 {
		k += len(rainbow)
	}
	return rainbow[k]
}

func drawRainbowScarf(p pen, a anchors) {
	x, y := a.neck.X, a.neck.Y
	if a.side {
		p.fill(ellipse(x, y, 1.6, 3.6, 0.55), func(px, py float64) rgb { return rainbowAt((py - y + 4) * 0.9) })
		p.fill(rrect(x-1.4, y+0.5, x+0.4, y+5.5, 0.5), func(_, py float64) rgb { return rainbowAt((py - y) * 1.1) })
		return
	}
	p.fill(ellipse(x, y, 4.4, 1.5, 0), func(px, _ float64) rgb { return rainbowAt((px - x + 4.4) * 0.72) })
	p.fill(rrect(x+0.6, y, x+2.6, y+5.5, 0.5), func(_, py float64) rgb { return rainbowAt((py - y) * 1.1) })
}

// dress paints the torso in cloth of colour c, shaded top to bottom.
func dress(p pen, a anchors, c rgb) {
	p.fill(a.torso, func(x, y float64) rgb { return c.scale(1.08 - 0.25*(y-a.neck.Y)/8) })
}

func drawChef(p pen, a anchors) {
	wh := c8(250, 250, 248)
	dress(p, a, wh)
	if !a.side {
		p.solidFill(circle(a.neck.X-0.9, a.neck.Y+3, 0.45), c8(30, 30, 30))
		p.solidFill(circle(a.neck.X-0.9, a.neck.Y+5, 0.45), c8(30, 30, 30))
	}
	x, y, w := hatBase(a)
	p.solidFill(rect(x-0.6*w, y-1.6, x+0.6*w, y+0.3), wh.scale(0.93))
	for _, c := range []struct{ dx, dy, r float64 }{{-1.6, -2.9, 1.9}, {1.6, -2.9, 1.9}, {0, -4.1, 2.2}} {
		p.fill(circle(x+c.dx, y+c.dy, c.r), func(px, py float64) rgb {
			return sphereShade(wh, (px-x-c.dx)/c.r/1.4, (py-y-c.dy)/c.r/1.4).scale(1.15)
		})
	}
}

func drawFirefighter(p pen, a anchors) {
	dress(p, a, c8(175, 145, 80))
	band := c8(245, 235, 60)
	b := a.torso.b
	for _, fy := range []float64{0.45, 0.7} {
		yy := b.y0 + fy*(b.y1-b.y0)
		p.solidFill(a.torso.and(rect(b.x0, yy, b.x1, yy+0.9)), band)
	}
	red := c8(210, 30, 30)
	x, y, w := hatBase(a)
	p.solidFill(ellipse(x, y+0.2, 1.25*w, 0.8, 0), red.scale(0.8))
	p.fill(ellipse(x, y, 0.8*w, 3.0, 0).and(rect(x-w, y-4, x+w, y)), func(px, py float64) rgb {
		return sphereShade(red, (px-x)/(w*1.1), (py-y+1)/4)
	})
	p.solidFill(circle(x, y-1.5, 0.75), c8(245, 215, 60))
}

func drawPolice(p pen, a anchors) {
	navy := c8(35, 48, 105)
	dress(p, a, navy)
	gold := c8(245, 210, 60)
	p.solidFill(circle(a.neck.X+0.3, a.neck.Y+3, 0.6), gold)
	x, y, w := hatBase(a)
	p.solidFill(poly(pt{x - 0.7*w, y}, pt{x - 0.9*w, y - 2.8}, pt{x + 0.9*w, y - 2.8}, pt{x + 0.7*w, y}), navy)
	p.solidFill(rect(x-0.7*w, y-0.9, x+0.7*w, y), c8(20, 20, 25))
	p.solidFill(ellipse(x+0.5*w, y+0.1, 0.75*w, 0.55, 0), c8(15, 15, 18))
	p.solidFill(circle(x, y-1.8, 0.55), gold)
}

func drawPinkGlasses(p pen, a anchors) {
	pink := c8(250, 95, 175)
	for _, e := range a.eyes {
		p.solidFill(ring(e.X, e.Y, 0.95, 1.5), pink)
	}
	if len(a.eyes) == 2 {
		l, r := a.eyes[0], a.eyes[1]
		p.solidFill(line(l.X+1.2, l.Y, r.X-1.2, r.Y, 0.45), pink)
		return
	}
	e := a.eyes[0]
	p.solidFill(line(e.X-1.3, e.Y, a.head.X-2.5, a.head.Y-0.4, 0.4), pink)
}

func drawYellowShirt(p pen, a anchors) {
	dress(p, a, c8(250, 215, 40))
	p.solidFill(ellipse(a.neck.X, a.neck.Y+0.2, 1.8, 0.8, 0).and(a.torso), c8(250, 240, 170))
}

func drawWizard(p pen, a anchors) {
	purple := c8(115, 45, 165)
	dress(p, a, purple)
	star := c8(250, 220, 60)
	b := a.torso.b
	for _, f := range []pt{{0.3, 0.35}, {0.7, 0.6}, {0.4, 0.8}} {
		p.solidFill(circle(b.x0+f.X*(b.x1-b.x0), b.y0+f.Y*(b.y1-b.y0), 0.5).and(a.torso), star)
	}
	x, y, w := hatBase(a)
	p.fill(poly(pt{x - 0.9*w, y}, pt{x + 1.0, y - 8}, pt{x + 0.9*w, y}), func(px, _ float64) rgb { return cylShade(purple, (px-x)/w) })
	p.solidFill(ellipse(x, y, 1.15*w, 0.7, 0), purple.scale(0.7))
	p.solidFill(circle(x-0.6, y-2.2, 0.5), star)
	p.solidFill(circle(x+0.9, y-4.6, 0.45), star)
}

func drawGreenOutfit(p pen, a anchors) {
	green := c8(40, 150, 60)
	dress(p, a, green)
	b := a.torso.b
	p.solidFill(a.torso.and(rect((b.x0+b.x1)/2-0.2, b.y0, (b.x0+b.x1)/2+0.2, b.y1)), green.scale(0.6))
	x, y, w := hatBase(a)
	p.fill(ellipse(x, y+0.3, 0.85*w, 2.8, 0).and(rect(x-w, y-4, x+w, y+0.3)), func(px, py float64) rgb {
		return sphereShade(green, (px-x)/(w*1.1), (py-y+1)/4)
	})
	p.solidFill(rect(x-0.85*w, y-0.6, x+0.85*w, y+0.4), green.scale(0.7))
	p.solidFill(circle(x, y-2.9, 0.9), green.scale(1.2))
}
