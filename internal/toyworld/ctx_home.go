package toyworld

import "math"

// The validation contexts and the reference ones (indoors, where the subjects were photographed).

func drawGarden(p pen, r *rng) stage {
	sky(p, jc(r, c8(150, 200, 240), 0.05), c8(200, 225, 245), 6)
	ht := r.between(4, 6)
	hb := r.between(13, 15)
	hedge := jc(r, c8(40, 100, 42), 0.06)
	p.fill(rect(0, ht, Size, hb), textured(r.next(), hedge, 1.2, 0.18))
	for x := 0.0; x < Size; x += 3 {
		p.solidFill(circle(x+r.between(0, 1), ht, 1.8), hedge)
	}
	lawn := jc(r, c8(104, 182, 72), 0.05)
	ground(p, hb, lawn, lawn.scale(0.9))
	flowers := []rgb{c8(230, 40, 60), c8(250, 150, 200), c8(250, 250, 250), c8(150, 70, 200), c8(250, 220, 60), c8(250, 120, 40)}
	for range 38 {
		x := r.between(0, Size)
		y := r.between(hb-2, hb+4)
		if r.chance(0.35) {
			y = r.between(hb+4, Size)
			if x > 8 && x < 24 {
				x = r.between(0, 6)
				if r.chance(0.5) {
					x = 32 - x
				}
			}
		}
		p.solidFill(circle(x, y, r.between(0.45, 0.8)), flowers[r.intn(len(flowers))])
	}
	return defaultStage(28.5)
}

func drawSunset(p pen, r *rng) stage {
	h := r.between(14, 16)
	top := jc(r, c8(78, 44, 112), 0.06)
	mid := c8(236, 104, 70)
	low := c8(254, 186, 96)
	p.fill(rect(0, 0, Size, h), func(_, y float64) rgb {
		t := y / h
		if t < 0.55 {
			return top.mix(mid, t/0.55)
		}
		return mid.mix(low, (t-0.55)/0.45)
	})
	sx := r.between(8, 24)
	p.solidFill(circle(sx, h, 3.4).and(rect(0, 0, Size, h)), c8(255, 226, 130))
	shore := h + r.between(5, 6.5)
	p.fill(rect(0, h, Size, shore), vgrad(h, c8(92, 52, 96), shore, c8(62, 40, 80)))
	for range 8 {
		y := r.between(h+0.5, shore-0.5)
		w := r.between(0.8, 2.5)
		x := sx + r.between(-2.5, 2.5)
		p.solidFill(rect(x-w/2, y, x+w/2, y+0.4), c8(250, 170, 90))
	}
	p.fill(rect(0, shore, Size, Size), vgrad(shore, c8(150, 92, 72), Size, c8(186, 122, 86)))
	st := defaultStage(28.5)
	st.shadow = 0.45
	return st
}

func drawSofa(p pen, r *rng) stage {
	wall := jc(r, c8(204, 194, 172), 0.05)
	p.fillAll(vgrad(0, wall.scale(0.9), 12, wall))
	p.solidFill(rect(r.between(18, 24), r.between(0, 1), r.between(27, 31), 4), c8(150, 130, 90))
	sofa := jc(r, c8(126, 40, 46), 0.06)
	back := r.between(5, 7)
	seat := r.between(18, 20)
	mid := 16 + r.between(-2, 2)
	for _, cu := range [][2]float64{{2.5, mid}, {mid, 29.5}} {
		p.fill(rrect(cu[0]+0.2, back, cu[1]-0.2, seat+1, 1.6), func(x, y float64) rgb {
			return sofa.scale(1.05 - 0.2*(y-back)/(seat-back) - 0.05*math.Abs(x-(cu[0]+cu[1])/2)/8)
		})
	}
	p.fill(rrect(-2, seat, Size+2, Size+1, 1.5), vgrad(seat, sofa.scale(1.15), Size, sofa.scale(0.85)))
	p.solidFill(rect(0, 30, Size, Size), sofa.scale(0.65))
	for _, ax := range []float64{-1.5, 29.5} {
		p.fill(rrect(ax, back+3, ax+4, Size+1, 1.8), func(x, _ float64) rgb { return sofa.scale(0.8 + 0.1*math.Cos((x-ax-2)*0.8)) })
	}
	st := defaultStage(28)
	st.shadow = 0.4
	return st
}

func drawTable(p pen, r *rng) stage {
	wall := jc(r, c8(172, 196, 180), 0.05)
	p.fillAll(solid(wall))
	wx := r.between(2, 6)
	if r.chance(0.5) {
		wx = 32 - wx - 11
	}
	p.solidFill(rect(wx, 2, wx+11, 12), c8(244, 244, 240))
	p.fill(rect(wx+0.7, 2.7, wx+10.3, 11.3), vgrad(2.7, c8(150, 195, 240), 11.3, c8(205, 228, 246)))
	p.solidFill(rect(wx+5.2, 2.7, wx+5.8, 11.3), c8(244, 244, 240))
	p.solidFill(rect(wx+0.7, 6.7, wx+10.3, 7.3), c8(244, 244, 240))
	top := r.between(18, 20)
	front := r.between(28.5, 30)
	p.fill(rect(0, top, Size, front), vgrad(top, c8(228, 224, 214), front, c8(242, 240, 234)))
	p.solidFill(rect(0, front, Size, front+1.5), c8(150, 138, 124))
	p.solidFill(rect(0, front+1.5, Size, Size), c8(70, 60, 56))
	st := defaultStage(front - 1.5)
	st.shadow = 0.35
	return st
}

func drawBed(p pen, r *rng) stage {
	head := jc(r, c8(44, 54, 92), 0.06)
	p.fillAll(solid(c8(226, 220, 210)))
	p.fill(rrect(-1, r.between(0, 2), Size+1, 12, 1.5), solid(head))
	sheet := jc(r, c8(190, 206, 236), 0.04)
	py := r.between(6, 8)
	for _, x := range []float64{r.between(1, 3), r.between(16, 18)} {
		p.fill(rrect(x, py, x+13, py+6, 2.2), func(_, y float64) rgb { return c8(248, 248, 246).scale(1 - 0.12*(y-py)/6) })
	}
	seed := r.next()
	ph := r.between(0, 6)
	p.fill(rect(0, py+5, Size, Size), func(x, y float64) rgb {
		c := sheet.scale(1 + 0.08*math.Sin(x*0.5+y*0.8+ph+2*noise2(seed, x/5, y/5)))
		if math.Mod(x+0.3*y, 3.2) < 0.35 || math.Mod(y, 3.2) < 0.35 {
			c = c.scale(0.9)
		}
		return c
	})
	p.solidFill(rect(0, py+5, Size, py+6.6), sheet.scale(1.08))
	st := defaultStage(28)
	st.shadow, st.shade = 0.3, c8(40, 60, 110)
	return st
}
