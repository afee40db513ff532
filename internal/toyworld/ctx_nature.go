package toyworld

import "math"

// Outdoor, natural DreamBench contexts.

func drawJungle(p pen, r *rng) stage {
	p.fillAll(vgrad(0, jc(r, c8(30, 88, 38), 0.1), Size, c8(14, 48, 20)))
	for range 6 {
		p.solidFill(circle(r.between(0, Size), r.between(0, 20), r.between(2, 4)), jc(r, c8(70, 140, 55), 0.15))
	}
	trunk := c8(85, 58, 32)
	for range 3 {
		x := r.between(1, 31)
		w := r.between(1.2, 2.4)
		p.solidFill(rect(x-w/2, 0, x+w/2, 28), jc(r, trunk, 0.15))
	}
	greens := []rgb{c8(40, 140, 45), c8(75, 172, 52), c8(28, 108, 40), c8(95, 185, 62)}
	leaf := func(x, y, rx, ry, rot float64, c rgb) {
		p.solidFill(ellipse(x, y, rx, ry, rot), c)
		s, co := math.Sincos(rot)
		p.solidFill(line(x-co*rx*0.9, y-s*rx*0.9, x+co*rx*0.9, y+s*rx*0.9, 0.25), c.scale(0.6))
	}
	for range 12 {
		leaf(r.between(-2, 34), r.between(-1, 24), r.between(2.5, 4.5), r.between(1.0, 1.8), r.between(0, math.Pi), greens[r.intn(4)])
	}
	for range 3 {
		x := r.between(2, 30)
		l := r.between(6, 14)
		p.solidFill(polyline(0.45, pt{x, 0}, pt{x + r.between(-1, 1), l / 2}, pt{x + r.between(-1, 1), l}), c8(70, 130, 40))
	}
	p.fill(rect(0, 26, Size, Size), vgrad(26, c8(45, 70, 28), Size, c8(30, 50, 20)))
	for range 8 {
		p.solidFill(ellipse(r.between(0, Size), r.between(26, 32), r.between(1.5, 2.5), 0.6, r.between(-0.5, 0.5)), c8(70, 140, 50))
	}
	st := defaultStage(29)
	st.scale = 0.95
	fx, fy := r.between(0, 4), r.between(24, 30)
	frot := r.between(-0.6, 0.2)
	fc := greens[r.intn(4)]
	st.front = func(p pen) { leaf(fx, fy, 4, 1.6, frot, fc) }
	return st
}

func drawSnow(p pen, r *rng) stage {
	sky(p, jc(r, c8(138, 156, 188), 0.05), c8(210, 220, 236), 17)
	hill := c8(232, 238, 250)
	p.solidFill(ellipse(r.between(0, 32), 18, r.between(10, 16), r.between(3, 5), 0), hill)
	ground(p, 17, c8(246, 248, 253), c8(232, 238, 250))
	for range 6 {
		p.solidFill(ellipse(r.between(0, Size), r.between(19, 32), r.between(2, 5), r.between(0.4, 0.8), 0), c8(212, 222, 240))
	}
	x := r.between(1.5, 6)
	if r.chance(0.5) {
		x = 32 - x
	}
	pine(p, x, r.between(18, 21), r.between(10, 14), c8(30, 80, 52), true)
	st := defaultStage(28)
	st.shadow, st.shade = 0.3, c8(90, 110, 160)
	flakes := make([]pt, 26)
	rad := make([]float64, len(flakes))
	for i := range flakes {
		flakes[i] = pt{r.between(0, Size), r.between(0, Size)}
		rad[i] = r.between(0.3, 0.6)
	}
	st.front = func(p pen) {
		for i, f := range flakes {
			p.solidFill(circle(f.X, f.Y, rad[i]), c8(252, 252, 255))
		}
	}
	return st
}

func drawBeach(p pen, r *rng) stage {
	horizon := r.between(12, 14)
	sky(p, jc(r, c8(85, 160, 235), 0.06), c8(175, 212, 245), horizon)
	p.solidFill(circle(r.between(4, 28), r.between(2.5, 5), 2.4), c8(255, 236, 120))
	cloud(p, r.between(4, 28), r.between(4, 8), r.between(6, 9), c8(248, 250, 255))
	shore := horizon + r.between(4.5, 6)
	p.fill(rect(0, horizon, Size, shore), vgrad(horizon, c8(28, 100, 180), shore, c8(55, 150, 210)))
	for range 5 {
		x, y := r.between(0, 30), r.between(horizon+1, shore-1)
		p.solidFill(line(x, y, x+r.between(1.5, 3), y, 0.3), c8(120, 190, 230))
	}
	p.solidFill(rect(0, shore, Size, Size), jc(r, c8(238, 212, 150), 0.05))
	p.solidFill(rect(0, shore, Size, shore+1.4), c8(205, 180, 125))
	ph := r.between(0, 6)
	p.fill(rect(0, shore-0.9, Size, shore+0.6), func(x, y float64) rgb {
		if y > shore-0.2+0.4*math.Sin(x*1.1+ph) {
			return c8(205, 180, 125)
		}
		return c8(245, 250, 252)
	})
	for range 10 {
		p.solidFill(circle(r.between(0, Size), r.between(shore+2, Size), r.between(0.25, 0.45)), c8(200, 170, 120))
	}
	if r.chance(0.6) {
		x, y := r.between(2, 30), r.between(shore+3, 31)
		p.solidFill(circle(x, y, 0.8), c8(245, 140, 110))
	}
	return defaultStage(28)
}

func drawMountain(p pen, r *rng) stage {
	sky(p, jc(r, c8(88, 148, 228), 0.06), c8(182, 210, 244), 20)
	cloud(p, r.between(2, 30), r.between(3, 6), r.between(5, 8), c8(245, 248, 252))
	peaks := []struct{ x, y, w float64 }{
		{r.between(4, 12), r.between(7, 10), r.between(10, 13)},
		{r.between(18, 28), r.between(3, 6), r.between(12, 15)},
	}
	for i, m := range peaks {
		c := c8(120, 118, 152)
		if i == 1 {
			c = c8(100, 98, 135)
		}
		c = jc(r, c, 0.05)
		p.fill(poly(pt{m.x - m.w, 21}, pt{m.x, m.y}, pt{m.x + m.w, 21}), func(x, y float64) rgb {
			if x > m.x {
				return c.scale(0.82)
			}
			return c
		})
		cap := (21 - m.y) * 0.3
		k := m.w / (21 - m.y) * cap
		p.solidFill(poly(pt{m.x - k, m.y + cap}, pt{m.x, m.y}, pt{m.x + k, m.y + cap}, pt{m.x + k*0.3, m.y + cap*0.75},
			pt{m.x - k*0.2, m.y + cap*0.9}), c8(246, 248, 252))
	}
	ph := r.between(0, 6)
	meadow := below(func(x float64) float64 { return 20 + 1.2*math.Sin(x*0.25+ph) })
	p.fill(meadow, func(_, y float64) rgb { return c8(86, 158, 70).scale(1.1 - 0.3*(y-18)/14) })
	return defaultStage(28.5)
}

func drawWheat(p pen, r *rng) stage {
	h := r.between(11, 13.5)
	sky(p, jc(r, c8(118, 178, 236), 0.06), c8(192, 216, 242), h)
	cloud(p, r.between(4, 28), r.between(3, 6), r.between(6, 9), c8(250, 250, 252))
	p.solidFill(rect(0, h-1.2, Size, h+0.3), c8(70, 110, 55))
	for range 5 {
		p.solidFill(circle(r.between(0, Size), h-1, r.between(0.8, 1.6)), c8(62, 100, 50))
	}
	gold := jc(r, c8(225, 182, 72), 0.05)
	p.fill(rect(0, h, Size, Size), func(x, y float64) rgb { return gold.scale(0.95 + 0.12*(y-h)/(Size-h)) })
	seed := r.next()
	for row := h + 0.5; row < Size+2; row += 0.7 + (row-h)*0.06 {
		sz := 0.25 + (row-h)*0.05
		for x := -1.0; x < Size+1; x += 0.5 + sz*2.2 {
			jx := x + (noise2(seed, x, row)-0.5)*sz*2
			p.solidFill(line(jx, row, jx+sz*0.3, row-sz*3, 0.18+sz*0.3), c8(180, 135, 48))
			p.solidFill(ellipse(jx+sz*0.35, row-sz*3.2, 0.15+sz*0.4, 0.3+sz, 0.1), c8(246, 214, 118))
		}
	}
	st := defaultStage(29)
	st.shadow = 0.25
	return st
}

func drawAutumn(p pen, r *rng) stage {
	sky(p, jc(r, c8(170, 200, 228), 0.05), c8(222, 226, 230), 21)
	ground(p, 21, c8(170, 105, 50), c8(190, 125, 60))
	oranges := []rgb{c8(232, 118, 30), c8(210, 62, 30), c8(242, 178, 40), c8(200, 90, 25)}
	x := r.between(6, 10)
	if r.chance(0.5) {
		x = 32 - x
	}
	p.solidFill(poly(pt{x - 1.6, 22}, pt{x - 0.7, 8}, pt{x + 0.7, 8}, pt{x + 1.6, 22}), c8(88, 58, 38))
	p.solidFill(line(x, 11, x+4, 7, 0.8), c8(88, 58, 38))
	p.solidFill(line(x, 12, x-3.5, 8, 0.8), c8(88, 58, 38))
	for range 16 {
		a := r.between(0, 2*math.Pi)
		d := r.between(0, 7)
		p.solidFill(circle(x+d*math.Cos(a)*1.2, 7+d*math.Sin(a)*0.7, r.between(2.2, 3.6)), oranges[r.intn(4)])
	}
	for range 22 {
		p.solidFill(ellipse(r.between(0, Size), r.between(21, Size), r.between(0.5, 0.9), 0.35, r.between(0, 3)), oranges[r.intn(4)])
	}
	leaves := make([]pt, 7)
	for i := range leaves {
		leaves[i] = pt{r.between(0, Size), r.between(10, 26)}
	}
	st := defaultStage(28.5)
	st.front = func(p pen) {
		for i, l := range leaves {
			p.solidFill(ellipse(l.X, l.Y, 0.7, 0.4, float64(i)), oranges[i%4])
		}
	}
	return st
}

func drawWater(p pen, r *rng) stage {
	h := r.between(9, 12)
	sky(p, jc(r, c8(165, 205, 240), 0.05), c8(212, 230, 245), h)
	cloud(p, r.between(4, 28), r.between(3, 6), r.between(6, 9), c8(250, 251, 253))
	p.solidFill(ellipse(r.between(0, 32), h, r.between(6, 12), 1.5, 0).and(rect(0, 0, Size, h)), c8(80, 130, 90))
	deep := jc(r, c8(26, 92, 152), 0.06)
	p.fill(rect(0, h, Size, Size), vgrad(h, c8(70, 145, 195), Size, deep))
	for range 26 {
		y := r.between(h+1, Size)
		w := 0.8 + (y-h)*0.22
		x := r.between(-2, 34)
		p.solidFill(ellipse(x, y, w, 0.25+0.02*(y-h), 0).minus(ellipse(x, y+0.35, w*0.9, 0.3+0.02*(y-h), 0)), c8(150, 205, 235))
	}
	st := defaultStage(26)
	st.shadow = 0
	st.sink, st.liquid, st.liquidOp, st.ripple = 0.25, c8(40, 110, 170), 0.6, c8(170, 215, 240)
	return st
}

func drawMilk(p pen, r *rng) stage {
	h := r.between(10, 12.5)
	sky(p, jc(r, c8(96, 166, 236), 0.05), c8(190, 220, 246), h)
	milk := c8(250, 246, 230)
	p.fill(rect(0, h, Size, Size), vgrad(h, c8(236, 234, 226), Size, milk))
	for range 22 {
		y := r.between(h+1, Size)
		w := 0.8 + (y-h)*0.25
		x := r.between(-2, 34)
		p.solidFill(ellipse(x, y, w, 0.3+0.02*(y-h), 0).minus(ellipse(x, y-0.35, w*0.9, 0.3+0.02*(y-h), 0)), c8(212, 208, 192))
	}
	for range 5 {
		p.solidFill(circle(r.between(2, 30), r.between(h-3, h-0.5), r.between(0.3, 0.6)), c8(252, 251, 246))
	}
	st := defaultStage(26)
	st.shadow = 0
	st.sink, st.liquid, st.liquidOp, st.ripple = 0.25, c8(246, 244, 236), 0.85, c8(205, 200, 185)
	return st
}

func drawSunflowers(p pen, r *rng) stage {
	h := r.between(8, 11)
	sky(p, jc(r, c8(112, 182, 240), 0.06), c8(178, 214, 245), h)
	grass := jc(r, c8(88, 168, 58), 0.05)
	p.fill(rect(0, h, Size, Size), vgrad(h, grass.scale(0.85), Size, grass.scale(1.05)))
	for range 40 {
		x, y := r.between(0, Size), r.between(h+2, Size)
		p.solidFill(line(x, y, x+r.between(-0.5, 0.5), y-0.5-(y-h)*0.06, 0.22), grass.scale(0.7))
	}
	flower := func(x, y, s float64) {
		p.solidFill(line(x, y, x, y+s*4, s*0.35), c8(60, 120, 40))
		p.solidFill(circle(x, y, s), c8(250, 200, 28))
		for k := range 8 {
			a := float64(k) * math.Pi / 4
			p.solidFill(circle(x+s*math.Cos(a), y+s*math.Sin(a), s*0.45), c8(252, 212, 40))
		}
		p.solidFill(circle(x, y, s*0.5), c8(105, 64, 28))
	}
	for range 6 {
		flower(r.between(0, Size), r.between(h-1, h+5), r.between(1.1, 1.6))
	}
	st := defaultStage(28.5)
	left, right := r.between(0, 4), r.between(28, 32)
	ly, ry := r.between(21, 27), r.between(21, 27)
	st.front = func(p pen) {
		flower(left, ly, 2.1)
		flower(right, ry, 2.1)
	}
	return st
}

func drawDirtRoad(p pen, r *rng) stage {
	h := r.between(11, 13)
	sky(p, jc(r, c8(128, 185, 240), 0.06), c8(196, 220, 245), h)
	cloud(p, r.between(4, 28), r.between(3, 6), r.between(6, 9), c8(250, 250, 252))
	ground(p, h, c8(100, 165, 62), c8(125, 175, 85))
	vx := r.between(13, 19)
	dirt := jc(r, c8(150, 108, 68), 0.05)
	road := poly(pt{vx - 0.8, h}, pt{vx + 0.8, h}, pt{Size + 4, Size}, pt{-4, Size})
	p.fill(road, textured(r.next(), dirt, 1.5, 0.08))
	for _, s := range []float64{-1, 1} {
		p.solidFill(polyline(0.6, pt{vx + s*0.3, h + 0.5}, pt{16 + s*9, Size}), dirt.scale(0.78))
	}
	for range 14 {
		x, y := r.between(2, 30), r.between(h+4, Size)
		p.solidFill(circle(x, y, r.between(0.2, 0.45)), c8(190, 170, 140))
	}
	return defaultStage(28.5)
}

func drawEiffel(p pen, r *rng) stage {
	sky(p, jc(r, c8(150, 178, 222), 0.05), c8(246, 206, 172), 24)
	x := r.between(9, 23)
	iron := c8(78, 66, 60)
	base := 24.0
	tower := poly(pt{x - 8, base}, pt{x - 3.5, 15}, pt{x - 1.3, 7}, pt{x - 0.4, 1}, pt{x + 0.4, 1}, pt{x + 1.3, 7},
		pt{x + 3.5, 15}, pt{x + 8, base})
	p.solidFill(tower.minus(ellipse(x, base, 4.3, 5, 0)).minus(poly(pt{x - 2.2, 14}, pt{x, 8.5}, pt{x + 2.2, 14})), iron)
	p.solidFill(rect(x-4.6, 14.2, x+4.6, 15.4), iron.scale(0.8))
	p.solidFill(rect(x-2, 7, x+2, 8), iron.scale(0.8))
	p.solidFill(line(x, 1, x, -1, 0.3), iron)
	ground(p, base, c8(92, 150, 72), c8(110, 165, 88))
	p.solidFill(poly(pt{x - 1, base}, pt{x + 1, base}, pt{x + 6, Size}, pt{x - 6, Size}), c8(215, 200, 170))
	for _, tx := range []float64{r.between(0, 5), r.between(27, 32)} {
		p.solidFill(circle(tx, base-1, r.between(2, 3)), c8(50, 110, 55))
	}
	return defaultStage(29)
}
