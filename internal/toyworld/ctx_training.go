package toyworld

import "math"

// The contexts of the official RPO code's training prompts, and the pool of its live list.

func drawVanGogh(p pen, r *rng) stage {
	h := r.between(20, 23)
	p.fill(rect(0, 0, Size, h), vgrad(0, jc(r, c8(22, 42, 118), 0.06), h, c8(58, 100, 168)))
	// swirls: bands of concentric arcs
	for range 3 {
		cx, cy := r.between(4, 28), r.between(3, 13)
		rad := r.between(3, 6)
		for k := range 3 {
			rr := rad - float64(k)*1.1
			if rr < 0.8 {
				break
			}
			c := c8(118, 160, 215)
			if k == 1 {
				c = c8(205, 212, 165)
			}
			p.solidFill(ring(cx, cy, rr-0.35, rr+0.35).and(rect(cx-rad-1, cy-rad-1, cx+rad+1, cy+rr*0.6)), c)
		}
	}
	for range 7 {
		x, y := r.between(0, Size), r.between(0, h-4)
		p.solidFill(circle(x, y, 1.3), c8(225, 220, 150))
		p.solidFill(circle(x, y, 0.7), c8(252, 230, 90))
	}
	mx, my := r.between(22, 30), r.between(2, 6)
	p.solidFill(circle(mx, my, 2.4).minus(circle(mx-1.2, my-0.6, 2.0)), c8(252, 214, 60))
	p.solidFill(ring(mx, my, 2.4, 3.2), c8(200, 190, 110))
	// rolling hills with a village, a cypress in front of them
	ph := r.between(0, 6)
	p.fill(below(func(x float64) float64 { return h + 1.4*math.Sin(x*0.3+ph) }), vgrad(h, c8(36, 72, 88), Size, c8(24, 50, 52)))
	for range 5 {
		x, y := r.between(2, 30), r.between(h, h+4)
		p.solidFill(rect(x, y, x+2, y+1.5), c8(60, 80, 100))
		p.solidFill(rect(x+0.6, y+0.4, x+1.2, y+1), c8(250, 215, 80))
	}
	cx := r.between(1, 6)
	if r.chance(0.5) {
		cx = 32 - cx
	}
	p.solidFill(poly(pt{cx - 2.5, Size}, pt{cx - 1.8, 16}, pt{cx - 0.6, 6}, pt{cx, 1}, pt{cx + 0.8, 7}, pt{cx + 1.9, 17}, pt{cx + 2.6, Size}), c8(24, 42, 26))
	st := defaultStage(29)
	seed := r.next()
	st.filter = func(cv *canvas) { vanGogh(cv, seed) }
	return st
}

// vanGoghPalette is what the painting filter pulls colours towards.
var vanGoghPalette = []rgb{c8(20, 40, 110), c8(60, 110, 190), c8(130, 175, 220), c8(245, 215, 70), c8(215, 150, 40),
	c8(40, 90, 60), c8(240, 238, 215), c8(190, 50, 40), c8(30, 30, 40)}

// vanGogh repaints the whole picture with swirling brush strokes: each sub-pixel takes the colour a
// little way along a swirling flow field, strokes streak across the flow, and colours lean
// towards a starry-night palette.
func vanGogh(cv *canvas, seed uint64) {
	src := append([]rgb(nil), cv.pix...)
	for j := range n {
		y := (float64(j) + 0.5) / ss
		for i := range n {
			x := (float64(i) + 0.5) / ss
			a := 2 * math.Pi * (noise2(seed, x/6, y/6)*1.5 + 0.1*x/Size)
			s, c := math.Sincos(a)
			si := min(n-1, max(0, int((x+0.8*c)*ss)))
			sj := min(n-1, max(0, int((y+0.8*s)*ss)))
			col := src[sj*n+si]
			u := -s*x + c*y
			col = col.scale(1 + 0.13*math.Sin(u*3.2+4*noise2(seed+1, x/2.5, y/2.5)))
			best, bd := col, math.Inf(1)
			for _, q := range vanGoghPalette {
				dr, dg, db := float64(q.R-col.R), float64(q.G-col.G), float64(q.B-col.B)
				if d := dr*dr + dg*dg + db*db; d < bd {
					best, bd = q, d
				}
			}
			cv.pix[j*n+i] = col.mix(best, 0.22)
		}
	}
}

func drawMoon(p pen, r *rng) stage {
	p.fillAll(solid(c8(6, 6, 14)))
	starField(p, r, 18, 18, c8(245, 245, 255))
	ex, ey := r.between(4, 28), r.between(3, 7)
	p.fill(circle(ex, ey, 2.6), func(x, y float64) rgb {
		if noise2(17, (x-ex)*1.2+ex, (y-ey)*1.2) > 0.55 {
			return c8(80, 160, 80)
		}
		return sphereShade(c8(60, 110, 215), (x-ex)/2.6, (y-ey)/2.6)
	})
	h := r.between(16, 19)
	bulge := r.between(1, 3)
	grey := jc(r, c8(158, 158, 160), 0.05)
	p.fill(below(func(x float64) float64 { d := (x - 16) / 16; return h + bulge*d*d }), vgrad(h, grey.scale(0.85), Size, grey))
	for range 9 {
		y := r.between(h+1.5, Size)
		rx := 0.8 + (y-h)*0.25*r.between(0.6, 1.2)
		x := r.between(0, Size)
		ry := rx * 0.35
		p.solidFill(ellipse(x, y+0.2, rx*1.1, ry*1.25, 0), grey.scale(1.15))
		p.solidFill(ellipse(x, y, rx, ry, 0), grey.scale(0.6))
	}
	st := defaultStage(28.5)
	st.shadow = 0.5
	return st
}

func drawGreatWall(p pen, r *rng) stage {
	sky(p, jc(r, c8(148, 194, 236), 0.05), c8(204, 224, 244), 18)
	ph := r.between(0, 6)
	p.fill(below(func(x float64) float64 { return 9 + 2*math.Sin(x*0.22+ph) }), solid(c8(110, 145, 135)))
	ph2 := r.between(0, 6)
	hill := func(x float64) float64 { return 15 + 3*math.Sin(x*0.18+ph2) }
	p.fill(below(hill), vgrad(10, c8(80, 140, 66), Size, c8(54, 112, 46)))
	stone := jc(r, c8(196, 176, 134), 0.05)
	wall := func(x float64) float64 { return hill(x) - 1.2 + 0.5*math.Sin(x*0.5) }
	band := shape{box{0, 0, Size, Size}, func(x, y float64) bool { t := wall(x); return y >= t && y < t+2.4 }}
	p.fill(band, func(_, y float64) rgb { return stone })
	p.solidFill(shape{box{0, 0, Size, Size}, func(x, y float64) bool { t := wall(x); return y >= t+1.6 && y < t+2.4 }}, stone.scale(0.75))
	merl := shape{box{0, 0, Size, Size}, func(x, y float64) bool {
		t := wall(x)
		return y >= t-0.9 && y < t && math.Mod(x+10, 1.4) < 0.7
	}}
	p.solidFill(merl, stone.scale(0.9))
	tx := r.between(4, 28)
	ty := wall(tx)
	p.solidFill(rect(tx-1.8, ty-3.6, tx+1.8, ty+2.4), stone.scale(0.95))
	p.solidFill(rect(tx-0.5, ty-2.4, tx+0.5, ty-0.8), c8(70, 60, 50))
	ground(p, 24, c8(70, 130, 56), c8(90, 150, 70))
	return defaultStage(29)
}

func drawRoof(p pen, r *rng) stage {
	sky(p, jc(r, c8(120, 178, 236), 0.06), c8(190, 216, 244), 16)
	cloud(p, r.between(2, 30), r.between(2, 5), r.between(5, 8), c8(250, 250, 252))
	yl, yr := r.between(9, 14), r.between(9, 14)
	if r.chance(0.5) {
		yl -= 3
	} else {
		yr -= 3
	}
	slope := (yr - yl) / Size
	ridge := func(x float64) float64 { return yl + slope*x }
	tile := jc(r, c8(140, 84, 48), 0.06)
	seed := r.next()
	p.fill(below(ridge), func(x, y float64) rgb {
		d := y - ridge(x)
		rh := 1.5 + d*0.06
		row := math.Floor(d / rh)
		f := d/rh - row
		w := 2.2 + d*0.08
		t := x + row*w*0.5
		col := math.Floor(t / w)
		u := 2*(t/w-col) - 1
		c := tile.scale(0.85 + 0.25*float64(hash2(seed, uint64(int64(row)*977+int64(col)))%100)/100)
		if f > 0.72+0.25*(1-u*u)-0.25 {
			c = c.scale(0.62)
		}
		return c
	})
	p.solidFill(shape{box{0, 0, Size, Size}, func(x, y float64) bool { d := y - ridge(x); return d >= -0.5 && d < 0.4 }}, tile.scale(0.5))
	cx := r.between(2, 8)
	if r.chance(0.5) {
		cx = 30 - cx
	}
	p.solidFill(rect(cx, ridge(cx)-4, cx+2.6, ridge(cx)+2), c8(165, 70, 50))
	p.solidFill(rect(cx-0.3, ridge(cx)-4.6, cx+2.9, ridge(cx)-3.8), c8(120, 110, 105))
	return defaultStage(28.5)
}

func drawLiberty(p pen, r *rng) stage {
	h := r.between(17, 19)
	sky(p, jc(r, c8(158, 198, 240), 0.05), c8(214, 228, 246), h)
	p.fill(rect(0, h, Size, 24), vgrad(h, c8(70, 120, 165), 24, c8(45, 95, 140)))
	x := r.between(4, 8)
	if r.chance(0.5) {
		x = 32 - x
	}
	teal := c8(92, 168, 146)
	p.solidFill(rect(x-4, h-1, x+4, h+1), c8(80, 110, 70))
	p.solidFill(rect(x-2.2, h-6, x+2.2, h), c8(160, 150, 135))
	p.solidFill(rect(x-2.7, h-6.6, x+2.7, h-5.8), c8(140, 130, 118))
	p.solidFill(poly(pt{x - 2, h - 6.6}, pt{x - 1.2, h - 14}, pt{x + 1.2, h - 14}, pt{x + 2, h - 6.6}), teal)
	p.solidFill(circle(x, h-14.9, 1.05), teal)
	for k := range 5 {
		a := -math.Pi/2 + (float64(k)-2)*0.45
		p.solidFill(line(x, h-15, x+2*math.Cos(a), h-15+2*math.Sin(a), 0.3), teal)
	}
	p.solidFill(line(x+0.9, h-13.2, x+1.8, h-18.5, 0.8), teal)
	p.solidFill(circle(x+1.9, h-19.2, 0.8), c8(250, 190, 50))
	p.solidFill(rect(x-1.9, h-12.5, x-0.6, h-10.5), c8(70, 140, 120))
	p.fill(rect(0, 24, Size, Size), textured(r.next(), c8(172, 166, 156), 1.5, 0.06))
	p.solidFill(rect(0, 24, Size, 24.6), c8(120, 115, 108))
	return defaultStage(29)
}

func drawVolcano(p pen, r *rng) stage {
	sky(p, jc(r, c8(72, 26, 26), 0.08), c8(218, 96, 44), 22)
	x := r.between(10, 22)
	top := r.between(6, 8)
	for range 6 {
		p.solidFill(circle(x+r.between(-5, 5), r.between(0, top-1), r.between(1.8, 3.2)), jc(r, c8(92, 86, 86), 0.1))
	}
	cone := poly(pt{x - 17, 23}, pt{x - 2.2, top}, pt{x + 2.2, top}, pt{x + 17, 23})
	p.fill(cone, func(px, _ float64) rgb {
		if px > x {
			return c8(52, 36, 32)
		}
		return c8(70, 48, 40)
	})
	p.solidFill(ellipse(x, top, 2.3, 0.8, 0), c8(255, 170, 40))
	for range 3 {
		dx := r.between(-1.5, 1.5)
		p.solidFill(polyline(0.55, pt{x + dx*0.6, top}, pt{x + dx*2, top + 4}, pt{x + dx*4, top + 9}), c8(245, 88, 24))
	}
	p.fill(rect(0, 22, Size, Size), textured(r.next(), c8(48, 38, 36), 1.5, 0.15))
	for range 3 {
		x0 := r.between(0, 30)
		p.solidFill(polyline(0.3, pt{x0, r.between(23, 32)}, pt{x0 + r.between(1, 3), r.between(23, 32)}), c8(230, 80, 20))
	}
	st := defaultStage(29)
	st.shadow = 0.45
	return st
}

func drawSubway(p pen, r *rng) stage {
	pit := r.between(12, 14)
	tiles := jc(r, c8(222, 226, 220), 0.04)
	p.fill(rect(0, 0, Size, pit), func(x, y float64) rgb {
		if math.Mod(x, 1.6) < 0.18 || math.Mod(y, 1.0) < 0.14 {
			return tiles.scale(0.8)
		}
		return tiles
	})
	band := []rgb{c8(40, 150, 80), c8(40, 90, 200), c8(230, 120, 30), c8(200, 40, 40)}[r.intn(4)]
	by := r.between(7, 9)
	p.solidFill(rect(0, by, Size, by+1.2), band)
	sx := r.between(3, 20)
	p.solidFill(rect(sx, 2, sx+9, 4.6), c8(30, 30, 38))
	p.solidFill(rect(sx+1, 3, sx+8, 3.6), c8(240, 240, 240))
	edge := pit + r.between(4.5, 6)
	p.solidFill(rect(0, pit, Size, edge), c8(32, 30, 34))
	for _, ry := range []float64{pit + 1.6, pit + 3.4} {
		p.solidFill(rect(0, ry, Size, ry+0.5), c8(150, 150, 155))
	}
	p.fill(rect(0, edge, Size, edge+1.6), func(x, y float64) rgb {
		if math.Mod(x, 0.9) < 0.3 && math.Mod(y-edge, 0.8) < 0.3 {
			return c8(200, 165, 10)
		}
		return c8(245, 205, 20)
	})
	p.fill(rect(0, edge+1.6, Size, Size), textured(r.next(), jc(r, c8(140, 140, 146), 0.05), 2, 0.06))
	return defaultStage(29)
}

func drawPool(p pen, r *rng) stage {
	edge := r.between(2, 4)
	p.fill(rect(0, 0, Size, edge), func(x, y float64) rgb {
		if math.Mod(x, 1.5) < 0.2 || math.Mod(y, 1.5) < 0.2 {
			return c8(120, 160, 200)
		}
		return c8(240, 244, 248)
	})
	seed := r.next()
	water := jc(r, c8(62, 178, 222), 0.05)
	p.fill(rect(0, edge, Size, Size), func(x, y float64) rgb {
		c := water.scale(1.05 - 0.2*(y-edge)/Size)
		v := noise2(seed, x/2.5, y/2.5)
		if math.Abs(v-0.5) < 0.05 {
			c = c.mix(c8(200, 240, 252), 0.6)
		}
		return c
	})
	ly := r.between(edge+3, edge+6)
	for x := r.between(-1, 0); x < Size; x += 1.4 {
		c := c8(230, 40, 40)
		if int(math.Floor(x/1.4))%2 == 0 {
			c = c8(245, 245, 245)
		}
		p.solidFill(ellipse(x, ly, 0.7, 0.45, 0), c)
	}
	st := defaultStage(25)
	st.shadow = 0
	st.sink, st.liquid, st.liquidOp, st.ripple = 0.42, c8(60, 170, 215), 0.55, c8(200, 240, 252)
	return st
}
