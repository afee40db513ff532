package toyworld

// Colour words the world can paint an object in. The order is fixed: it is the order of Colors().
var colorTable = []struct {
	word string
	c    rgb
}{
	{"red", c8(215, 38, 38)},
	{"green", c8(45, 165, 60)},
	{"blue", c8(38, 82, 215)},
	{"yellow", c8(248, 212, 30)},
	{"purple", c8(135, 55, 185)},
	{"orange", c8(248, 132, 22)},
	{"pink", c8(248, 138, 190)},
	{"white", c8(240, 240, 236)},
	{"black", c8(34, 34, 40)},
	{"brown", c8(122, 72, 38)},
}

// Colors returns the colour words, in a fixed order: "red", "green", "blue", "yellow", "purple",
// "orange", "pink", "white", "black", "brown".
func Colors() []string {
	out := make([]string, len(colorTable))
	for i, c := range colorTable {
		out[i] = c.word
	}
	return out
}

func colorOf(word string) (rgb, bool) {
	for _, c := range colorTable {
		if c.word == word {
			return c.c, true
		}
	}
	return rgb{}, false
}

func mustColor(word string) rgb {
	c, ok := colorOf(word)
	if !ok {
		panic("toyworld: no colour " + word)
	}
	return c
}

// Class is a kind of object the world draws, named by its class word ("ball", "dog").
type Class struct {
	Word string
	// Live marks creatures with eyes (DreamBench's live subjects); only they wear accessories.
	Live bool
}

// classTable lists the classes in the order of Classes(); draw paints one in its own frame
// (origin at the middle of its base, y down, about 14 to 16 units tall at scale 1) and w is its
// nominal width there.
var classTable = []struct {
	Class
	w    float64
	draw func(p pen, lk *look, r *rng) anchors
}{
	{Class{"ball", false}, 14, drawBall},
	{Class{"box", false}, 15, drawBox},
	{Class{"star", false}, 16, drawStar},
	{Class{"cup", false}, 14, drawCup},
	{Class{"sneaker", false}, 20, drawSneaker},
	{Class{"toy", false}, 15, drawRobot},
	{Class{"backpack", false}, 14, drawBackpack},
	{Class{"can", false}, 9, drawCan},
	{Class{"dog", true}, 23, drawDog},
	{Class{"cat", true}, 14, drawCat},
}

// Classes returns the object classes in a fixed order; "toy" is drawn as a small robot (DreamBench
// files its robot under "toy").
func Classes() []Class {
	out := make([]Class, len(classTable))
	for i, c := range classTable {
		out[i] = c.Class
	}
	return out
}

func classIndex(word string) int {
	for i, c := range classTable {
		if c.Word == word {
			return i
		}
	}
	return -1
}
