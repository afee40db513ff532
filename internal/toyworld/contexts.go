package toyworld

// Use says which prompt set a context (or accessory) belongs to. The sets are disjoint, as the
// paper's are: evaluation prompts re-contextualise the subject into scenes the training prompts
// never show.
type Use int

const (
	// Evaluation contexts are DreamBench's twenty re-contextualisation prompts.
	Evaluation Use = iota
	// Training contexts are the official RPO code's training prompts ("on the Moon").
	Training
	// Validation contexts are the RPO code's validation prompts ("in a beautiful garden").
	Validation
	// Reference contexts are where the subjects' reference photos were taken (a sofa, a table, a
	// bed): no prompt names them, so the references carry a background the prompts never ask for.
	Reference
)

func (u Use) String() string {
	switch u {
	case Evaluation:
		return "evaluation"
	case Training:
		return "training"
	case Validation:
		return "validation"
	case Reference:
		return "reference"
	}
	return "unknown"
}

// Context is a setting an object can be shown in, named by its prompt phrase ("on the beach").
type Context struct {
	Phrase string
	Use    Use
	// LiveOnly marks contexts only a creature is put in ("is swimming in a pool").
	LiveOnly bool
	// Live marks DreamBench's ten contexts for live subjects (its live prompt list uses only these).
	Live bool
}

// stage is what a background tells the renderer about where and how the object goes.
type stage struct {
	ground float64 // y of the object's base (before jitter)
	scale  float64 // object scale
	shadow float64 // opacity of the contact shadow; 0 for none
	shade  rgb     // colour of the contact shadow
	// sink is the share of the object's height under a liquid surface at ground, and liquid the
	// colour the submerged part takes (at opacity liquidOp).
	sink     float64
	liquid   rgb
	liquidOp float64
	ripple   rgb
	mirror   bool          // the floor reflects the object
	front    func(p pen)   // drawn over the object (falling snow, foreground leaves)
	filter   func(*canvas) // applied to the whole picture at the end (a painting style)
}

var contextTable = []struct {
	Context
	draw func(p pen, r *rng) stage
}{
	// DreamBench's re-contextualisation prompts, in its order; the first ten are its live list.
	{Context{Phrase: "in the jungle", Live: true}, drawJungle},
	{Context{Phrase: "in the snow", Live: true}, drawSnow},
	{Context{Phrase: "on the beach", Live: true}, drawBeach},
	{Context{Phrase: "on a cobblestone street", Live: true}, drawCobblestone},
	{Context{Phrase: "on top of pink fabric", Live: true}, drawPinkFabric},
	{Context{Phrase: "on top of a wooden floor", Live: true}, drawWoodenFloor},
	{Context{Phrase: "with a city in the background", Live: true}, drawCity},
	{Context{Phrase: "with a mountain in the background", Live: true}, drawMountain},
	{Context{Phrase: "with a blue house in the background", Live: true}, drawBlueHouse},
	{Context{Phrase: "on top of a purple rug in a forest", Live: true}, drawPurpleRug},
	{Context{Phrase: "with a wheat field in the background"}, drawWheat},
	{Context{Phrase: "with a tree and autumn leaves in the background"}, drawAutumn},
	{Context{Phrase: "with the Eiffel Tower in the background"}, drawEiffel},
	{Context{Phrase: "floating on top of water"}, drawWater},
	{Context{Phrase: "floating in an ocean of milk"}, drawMilk},
	{Context{Phrase: "on top of green grass with sunflowers around it"}, drawSunflowers},
	{Context{Phrase: "on top of a mirror"}, drawMirror},
	{Context{Phrase: "on top of the sidewalk in a crowded street"}, drawSidewalk},
	{Context{Phrase: "on top of a dirt road"}, drawDirtRoad},
	{Context{Phrase: "on top of a white rug"}, drawWhiteRug},
	// The official RPO code's training prompts.
	{Context{Phrase: "in Vincent Van Gogh rendition", Use: Training}, drawVanGogh},
	{Context{Phrase: "on the Moon", Use: Training}, drawMoon},
	{Context{Phrase: "with a China Great Wall in the background", Use: Training}, drawGreatWall},
	{Context{Phrase: "on top of wooden roof", Use: Training}, drawRoof},
	{Context{Phrase: "with the Statue of Liberty in the background", Use: Training}, drawLiberty},
	{Context{Phrase: "with a volcano in the background", Use: Training}, drawVolcano},
	{Context{Phrase: "on a subway platform", Use: Training}, drawSubway},
	{Context{Phrase: "is swimming in a pool", Use: Training, LiveOnly: true}, drawPool},
	// The official RPO code's validation prompts.
	{Context{Phrase: "in a beautiful garden", Use: Validation}, drawGarden},
	{Context{Phrase: "at the beach during sunset", Use: Validation}, drawSunset},
	// Where the references were photographed.
	{Context{Phrase: "on a sofa", Use: Reference}, drawSofa},
	{Context{Phrase: "on a table", Use: Reference}, drawTable},
	{Context{Phrase: "on a bed", Use: Reference}, drawBed},
}

// Contexts returns every context the world draws, in a fixed order: DreamBench's evaluation
// contexts, then RPO's training ones, the validation ones and the reference ones.
func Contexts() []Context {
	out := make([]Context, len(contextTable))
	for i, c := range contextTable {
		out[i] = c.Context
	}
	return out
}

func contextIndex(phrase string) int {
	for i, c := range contextTable {
		if c.Phrase == phrase {
			return i
		}
	}
	return -1
}

// defaultStage stands an object of scale 1 at y with a soft shadow.
func defaultStage(y float64) stage {
	return stage{ground: y, scale: 1, shadow: 0.35, shade: c8(0, 0, 0)}
}

// jc jitters a colour's brightness by up to ±f, as light and exposure vary between photos.
func jc(r *rng, c rgb, f float64) rgb { return c.scale(1 + r.between(-f, f)) }

// sky fills rows y0..y1 with a vertical gradient, and everything above y0 with top.
func sky(p pen, top, bottom rgb, y1 float64) {
	p.fill(rect(0, 0, Size, y1), vgrad(0, top, y1, bottom))
}

// ground fills everything from y down with a gradient.
func ground(p pen, y float64, near, far rgb) {
	p.fill(rect(0, y, Size, Size), vgrad(y, far, Size, near))
}

// textured returns a paint that modulates c's brightness by ±amp with value noise of the given
// cell size.
func textured(seed uint64, c rgb, cell, amp float64) paint {
	return func(x, y float64) rgb { return c.scale(1 + amp*(2*noise2(seed, x/cell, y/cell)-1)) }
}

func cloud(p pen, x, y, w float64, c rgb) {
	p.solidFill(union(ellipse(x, y, w*0.5, w*0.22, 0), circle(x-w*0.15, y-w*0.12, w*0.2), circle(x+w*0.12, y-w*0.15, w*0.24)), c)
}

// pine draws a conifer of height h standing at (x, y), optionally with snow on its branches.
func pine(p pen, x, y, h float64, c rgb, snow bool) {
	p.solidFill(rect(x-0.5, y-h*0.2, x+0.5, y), c8(80, 55, 35))
	for k := range 3 {
		t := float64(k)
		top := y - h + t*h*0.22
		bot := y - h*0.15 - (2-t)*h*0.18
		w := h * (0.2 + 0.12*t)
		p.solidFill(poly(pt{x, top}, pt{x - w, bot}, pt{x + w, bot}), c)
		if snow {
			p.solidFill(poly(pt{x, top}, pt{x - w*0.45, top + (bot-top)*0.45}, pt{x + w*0.45, top + (bot-top)*0.45}), c8(245, 248, 252))
		}
	}
}

// starField scatters k dots of colour c above y.
func starField(p pen, r *rng, k int, y float64, c rgb) {
	for range k {
		p.solidFill(circle(r.between(0, Size), r.between(0, y), r.between(0.2, 0.45)), c.scale(r.between(0.7, 1)))
	}
}

// below is everything under the curve y = f(x).
func below(f func(x float64) float64) shape {
	return shape{box{0, 0, Size, Size}, func(x, y float64) bool { return y >= f(x) }}
}
