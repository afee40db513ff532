package imaging

// testImage returns a deterministic w×h test image: a smooth colour gradient with noise whose
// amplitude grows with seed%4 (0: smooth, 3: pure noise), so that resizes exercise both ordinary
// values and the clipping of overshooting filters.
func testImage(seed uint64, w, h int) *RGB {
	m := NewRGB(w, h)
	s := seed*0x9E3779B97F4A7C15 + 1
	next := func() uint64 { // xorshift64*
		s ^= s >> 12
		s ^= s << 25
		s ^= s >> 27
		return s * 0x2545F4914F6CDD1D
	}
	amp := int(seed % 4)
	for y := range h {
		for x := range w {
			for c := range 3 {
				base := (x*255/max(w-1, 1)*(c+1) + y*255/max(h-1, 1)*(3-c)) / 4
				noise := int(next()>>56) - 128
				v := base + noise*amp/3
				if amp == 3 {
					v = int(next() >> 56)
				}
				m.Pix[3*(y*w+x)+c] = clip8(v)
			}
		}
	}
	return m
}
