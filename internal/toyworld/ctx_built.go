package toyworld

import "math"

// DreamBench contexts with buildings, streets, floors and cloth.

func drawCobblestone(p pen, r *rng) stage {
	h := r.between(11, 14)
	walls := []rgb{c8(205, 160, 115), c8(190, 120, 95), c8(215, 190, 150), c8(170, 140, 120)}
	x := -r.between(0, 6)
	for x < Size {
		w := r.between(7, 12)
		c := jc(r, walls[r.intn(len(walls))], 0.05)
		p.solidFill(rect(x, 0, x+w, h), c)
		for wy := 1.5; wy < h-3; wy += 4.5 {
			for wx := x + 1.5; wx < x+w-2; wx += 3.5 {
				p.solidFill(rect(wx, wy, wx+1.8, wy+2.6), c8(60, 55, 65))
			}
		}
		x += w
	}
	p.solidFill(rect(0, h, Size, Size), c8(78, 76, 74))
	row := 0
	for y := h; y < Size; row++ {
		rh := 0.9 + (y-h)*0.12
		sw := rh * 1.6
		off := 0.0
		if row%2 == 1 {
			off = sw / 2
		}
		for sx := -off; sx < Size; sx += sw {
			c := jc(r, c8(150, 146, 140), 0.12)
			p.fill(rrect(sx+0.15, y+0.12, sx+sw-0.15, y+rh-0.12, rh*0.35), func(_, yy float64) rgb {
				return c.scale(1.1 - 0.25*(yy-y)/rh)
			})
		}
		y += rh
	}
	return defaultStage(28.5)
}

func drawPinkFabric(p pen, r *rng) stage {
	pink := jc(r, c8(242, 150, 196), 0.05)
	ang := r.between(0.3, 1.2)
	s, c := math.Sincos(ang)
	f1, f2 := r.between(0.45, 0.7), r.between(0.2, 0.35)
	ph1, ph2 := r.between(0, 6), r.between(0, 6)
	seed := r.next()
	p.fillAll(func(x, y float64) rgb {
		u := c*x + s*y
		v := -s*x + c*y
		w := 0.12*math.Sin(u*f1+ph1+1.2*noise2(seed, v/6, u/6)) + 0.07*math.Sin(u*f2+ph2+v*0.1)
		return pink.scale(1 + w)
	})
	st := defaultStage(28)
	st.shadow, st.shade = 0.35, c8(120, 30, 70)
	return st
}

func drawWoodenFloor(p pen, r *rng) stage {
	h := r.between(10, 13)
	wall := jc(r, c8(226, 216, 196), 0.04)
	p.fill(rect(0, 0, Size, h), vgrad(0, wall.scale(0.92), h, wall))
	p.solidFill(rect(0, h-1.6, Size, h), c8(244, 242, 234))
	p.solidFill(rect(0, h-0.3, Size, h+0.3), c8(120, 100, 80))
	wood := jc(r, c8(176, 114, 60), 0.06)
	row := 0
	for y := h; y < Size; row++ {
		rh := 1.3 + (y-h)*0.12
		c := wood.scale(r.between(0.88, 1.1))
		seed := r.next()
		p.fill(rect(0, y, Size, y+rh), func(x, yy float64) rgb {
			g := 0.06 * math.Sin(x*1.7/rh+6*noise2(seed, x/5, yy))
			return c.scale(1 + g)
		})
		p.solidFill(rect(0, y+rh-0.22, Size, y+rh+0.1), c8(105, 64, 32))
		for jx := r.between(0, 14); jx < Size; jx += r.between(12, 20) {
			p.solidFill(rect(jx, y, jx+0.25, y+rh), c8(105, 64, 32))
		}
		y += rh
	}
	return defaultStage(28.5)
}

func drawCity(p pen, r *rng) stage {
	road := r.between(21, 23)
	sky(p, jc(r, c8(150, 188, 228), 0.06), c8(212, 224, 238), road)
	for x := -r.between(0, 3); x < Size; {
		w := r.between(3, 5)
		top := r.between(6, 12)
		p.solidFill(rect(x, top, x+w, road), jc(r, c8(165, 178, 198), 0.05))
		x += w
	}
	for x := -r.between(0, 3); x < Size; {
		w := r.between(3.5, 6)
		top := r.between(8, 16)
		c := jc(r, c8(98+r.intn(40), 106+r.intn(40), 126+r.intn(40)), 0.05)
		p.solidFill(rect(x, top, x+w-0.3, road), c)
		for wy := top + 1; wy < road-1.5; wy += 1.8 {
			for wx := x + 0.7; wx < x+w-1; wx += 1.3 {
				if r.chance(0.55) {
					p.solidFill(rect(wx, wy, wx+0.7, wy+0.8), c8(250, 222, 120))
				}
			}
		}
		x += w
	}
	p.solidFill(rect(0, road, Size, road+1.2), c8(160, 158, 155))
	p.solidFill(rect(0, road+1.2, Size, Size), jc(r, c8(74, 74, 80), 0.05))
	for x := r.between(-4, 0); x < Size; x += 6 {
		p.solidFill(rect(x, 29.6, x+3.2, 30.3), c8(240, 240, 235))
	}
	return defaultStage(28.5)
}

func drawBlueHouse(p pen, r *rng) stage {
	sky(p, jc(r, c8(138, 192, 240), 0.06), c8(196, 222, 246), 22)
	cloud(p, r.between(2, 30), r.between(2, 4), r.between(5, 7), c8(250, 250, 252))
	x0 := r.between(3, 7)
	x1 := Size - r.between(3, 7)
	top := r.between(8, 10)
	blue := jc(r, c8(52, 92, 200), 0.06)
	p.fill(rect(x0, top, x1, 22), func(_, y float64) rgb {
		if math.Mod(y-top, 1.5) < 0.2 {
			return blue.scale(0.8)
		}
		return blue
	})
	p.solidFill(poly(pt{x0 - 1.5, top + 0.3}, pt{(x0 + x1) / 2, top - 7}, pt{x1 + 1.5, top + 0.3}), c8(120, 48, 42))
	p.solidFill(rect(x1-5, top-6, x1-3.5, top-2), c8(120, 48, 42))
	for _, wx := range []float64{x0 + 2, x1 - 6} {
		p.solidFill(rect(wx-0.4, top+2.6, wx+4.4, top+7.4), c8(245, 245, 245))
		p.solidFill(rect(wx+0.2, top+3.2, wx+3.8, top+6.8), c8(250, 232, 150))
		p.solidFill(rect(wx+1.8, top+3.2, wx+2.2, top+6.8), c8(245, 245, 245))
	}
	mid := (x0 + x1) / 2
	p.solidFill(rect(mid-1.8, 15.5, mid+1.8, 22), c8(245, 245, 245))
	p.solidFill(rect(mid-1.3, 16, mid+1.3, 22), c8(150, 40, 40))
	ground(p, 22, c8(80, 160, 60), c8(100, 172, 75))
	return defaultStage(29)
}

func drawPurpleRug(p pen, r *rng) stage {
	sky(p, c8(150, 190, 130), c8(120, 160, 100), 18)
	ground(p, 17, c8(80, 70, 45), c8(95, 95, 55))
	for range 7 {
		x := r.between(0, Size)
		w := r.between(1, 2.2)
		p.solidFill(rect(x-w/2, 0, x+w/2, r.between(17, 20)), jc(r, c8(90, 62, 40), 0.15))
	}
	for range 12 {
		p.solidFill(circle(r.between(-2, 34), r.between(-2, 7), r.between(2.5, 5)), jc(r, c8(38, 92, 42), 0.2))
	}
	for range 5 {
		p.solidFill(circle(r.between(0, Size), r.between(15, 18), r.between(1.2, 2)), c8(50, 105, 48))
	}
	purple := jc(r, c8(128, 58, 170), 0.05)
	rx := r.between(13.5, 15.5)
	cy := r.between(26.5, 28)
	p.fill(ellipse(16, cy, rx, 4.2, 0), func(x, y float64) rgb {
		d := math.Hypot((x-16)/rx, (y-cy)/4.2)
		if d > 0.78 && d < 0.86 {
			return c8(235, 200, 90)
		}
		return purple
	})
	return defaultStage(cy + 0.8)
}

func drawMirror(p pen, r *rng) stage {
	h := r.between(12, 14)
	wall := jc(r, c8(212, 206, 196), 0.04)
	p.fill(rect(0, 0, Size, h), vgrad(0, wall.scale(0.9), h, wall))
	p.solidFill(rect(r.between(2, 8), 2, r.between(12, 18), h-3), c8(150, 120, 90))
	p.solidFill(rect(0, h, Size, h+0.8), c8(90, 92, 100))
	silver := c8(196, 210, 224)
	ang := r.between(0.4, 0.9)
	p.fill(rect(0, h+0.8, Size, Size), func(x, y float64) rgb {
		c := silver.scale(1.02 - 0.22*(y-h)/(Size-h))
		if math.Mod(x*math.Cos(ang)+y*math.Sin(ang)+100, 9) < 1.6 {
			c = c.mix(white, 0.45)
		}
		return c
	})
	st := defaultStage(24)
	st.shadow, st.mirror = 0.2, true
	return st
}

func drawSidewalk(p pen, r *rng) stage {
	h := r.between(13, 15)
	shops := []rgb{c8(180, 90, 80), c8(90, 120, 160), c8(200, 180, 130), c8(120, 150, 110)}
	for x := -r.between(0, 4); x < Size; {
		w := r.between(8, 12)
		p.solidFill(rect(x, 0, x+w, h), jc(r, shops[r.intn(4)], 0.06))
		p.solidFill(rect(x+1, 2, x+w-1, 7), c8(170, 200, 215))
		x += w
	}
	walk := jc(r, c8(188, 186, 180), 0.04)
	p.fill(rect(0, h, Size, Size), func(x, y float64) rgb {
		if math.Mod(y-h, 3.2) < 0.25 || math.Mod(x+(y-h)*0.3*(x-16)/16, 4.5) < 0.25 {
			return walk.scale(0.8)
		}
		return walk
	})
	tops := []rgb{c8(220, 60, 60), c8(60, 80, 200), c8(250, 200, 50), c8(40, 160, 90), c8(240, 130, 40), c8(150, 60, 170), c8(235, 235, 235)}
	skin := []rgb{c8(240, 200, 170), c8(200, 150, 110), c8(120, 80, 55)}
	for range 9 {
		x := r.between(0, Size)
		s := r.between(0.8, 1.1)
		y := h + r.between(3, 6)
		p.solidFill(rect(x-0.9*s, y-3.5*s, x-0.15*s, y), c8(45, 45, 60))
		p.solidFill(rect(x+0.15*s, y-3.5*s, x+0.9*s, y), c8(45, 45, 60))
		p.solidFill(rrect(x-1.3*s, y-8*s, x+1.3*s, y-3.3*s, 0.6), tops[r.intn(len(tops))])
		p.solidFill(circle(x, y-9.1*s, 1.1*s), skin[r.intn(3)])
	}
	return defaultStage(29)
}

func drawWhiteRug(p pen, r *rng) stage {
	h := r.between(10, 13)
	wall := jc(r, c8(160, 170, 150), 0.06)
	p.solidFill(rect(0, 0, Size, h), wall)
	p.fill(rect(0, h, Size, Size), textured(r.next(), jc(r, c8(96, 66, 46), 0.06), 2, 0.1))
	x0, x1 := r.between(0, 3), Size-r.between(0, 3)
	y0 := r.between(16, 18)
	seed := r.next()
	p.fill(rrect(x0, y0, x1, Size+1, 1.5), func(x, y float64) rgb {
		f := 0.87 + 0.13*noise2(seed, x*1.6, y*1.6)
		return c8(246, 244, 238).scale(f)
	})
	for range 40 {
		x, y := r.between(x0+0.5, x1-0.5), r.between(y0+0.5, Size)
		p.solidFill(line(x, y, x+r.between(-0.6, 0.6), y-0.7, 0.25), c8(205, 203, 196))
	}
	st := defaultStage(28.5)
	st.shadow = 0.3
	return st
}
