package toyworld

import (
	"bytes"
	"errors"
	"image"
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gorpo/gorpo/internal/imaging"
)

func render(t *testing.T, s Scene) (*imaging.RGB, Labels) {
	t.Helper()
	img, l, err := Render(s)
	if err != nil {
		t.Fatalf("Render(%+v): %v", s, err)
	}
	if img.W != Size || img.H != Size || len(img.Pix) != 3*Size*Size {
		t.Fatalf("Render(%+v): %dx%d image with %d bytes", s, img.W, img.H, len(img.Pix))
	}
	return img, l
}

func TestDeterminism(t *testing.T) {
	for seed := range uint64(40) {
		s := GenericScene(seed)
		if s != GenericScene(seed) {
			t.Fatalf("GenericScene(%d) differs between calls", seed)
		}
		a, la := render(t, s)
		b, lb := render(t, s)
		if !bytes.Equal(a.Pix, b.Pix) || la != lb {
			t.Fatalf("scene %+v: two renders differ", s)
		}
		s2 := s
		s2.Seed++
		c, _ := render(t, s2)
		if bytes.Equal(a.Pix, c.Pix) {
			t.Fatalf("scene %+v: seeds %d and %d give the same picture", s, s.Seed, s2.Seed)
		}
	}
	// The subjects' references never change.
	for _, s := range Subjects() {
		a, b := s.References(), s.References()
		for i := range a {
			if !bytes.Equal(a[i].(*imaging.RGB).Pix, b[i].(*imaging.RGB).Pix) {
				t.Fatalf("%s: reference %d differs between calls", s.Name, i)
			}
		}
	}
}

// TestRenderIndependentOfHistory: a render depends on its Scene only, not on what was rendered
// before it.
func TestRenderIndependentOfHistory(t *testing.T) {
	want := map[Scene]uint64{}
	got := func(s Scene) uint64 {
		img, _ := render(t, s)
		return hashString(string(img.Pix))
	}
	for _, s := range []Scene{
		{Context: "on the Moon", Class: "dog", Color: "red", Seed: 1},
		{Context: "in Vincent Van Gogh rendition", Subject: "stripy_ball", Seed: 2},
		{Context: "floating on top of water", Class: "cup", Seed: 3},
	} {
		want[s] = got(s)
	}
	// Rendering the same scenes in another order, after other renders, gives the same bytes.
	for seed := range uint64(5) {
		render(t, GenericScene(seed))
	}
	for s, h := range want {
		if got(s) != h {
			t.Errorf("%+v: render depends on what was rendered before", s)
		}
	}
}

func checkLabels(t *testing.T, s Scene, l Labels) {
	t.Helper()
	if l.Context != s.Context || (s.Class != "" && l.Class != s.Class) || l.Subject != s.Subject || l.Accessory != s.Accessory {
		t.Fatalf("%+v: labels %+v", s, l)
	}
	if s.Color != "" && l.Color != s.Color {
		t.Fatalf("%+v: colour label %q", s, l.Color)
	}
	if _, ok := colorOf(l.Color); !ok {
		t.Fatalf("%+v: colour label %q is no colour word", s, l.Color)
	}
	if l.Live != classTable[classIndex(l.Class)].Live {
		t.Fatalf("%+v: live label %v for a %s", s, l.Live, l.Class)
	}
	b := l.Box
	if b.Empty() || !b.In(image.Rect(0, 0, Size, Size)) || b.Dx() < 4 || b.Dy() < 4 {
		t.Fatalf("%+v: object box %v", s, b)
	}
}

func TestEveryContextClassSubject(t *testing.T) {
	for ci, c := range Contexts() {
		for k, cl := range Classes() {
			for seed := range uint64(3) {
				s := Scene{Context: c.Phrase, Class: cl.Word, Seed: seed*1000 + uint64(ci*16+k)}
				_, l := render(t, s)
				checkLabels(t, s, l)
			}
		}
		for k, sub := range Subjects() {
			for seed := range uint64(2) {
				s := Scene{Context: c.Phrase, Subject: sub.Name, Seed: seed*1000 + uint64(ci*16+k)}
				_, l := render(t, s)
				checkLabels(t, s, l)
				if l.Class != sub.Class || l.Color != sub.Color {
					t.Fatalf("%+v: labels %+v, want class %s colour %s", s, l, sub.Class, sub.Color)
				}
			}
		}
	}
	for k, sub := range Subjects() {
		for j, col := range Colors() {
			s := Scene{Context: "on a table", Subject: sub.Name, Color: col, Seed: uint64(k*16 + j)}
			_, l := render(t, s)
			checkLabels(t, s, l)
		}
	}
	for _, a := range Accessories() {
		for k, who := range []Scene{{Class: "dog", Color: "brown"}, {Class: "cat", Color: "black"}, {Subject: "patch_dog"}, {Subject: "tabby_cat"}} {
			for _, c := range []string{"in the snow", "is swimming in a pool", "in Vincent Van Gogh rendition"} {
				who.Context, who.Accessory, who.Seed = c, a.Phrase, uint64(k)
				_, l := render(t, who)
				checkLabels(t, who, l)
			}
		}
	}
	for seed := range uint64(300) {
		s := GenericScene(seed)
		_, l := render(t, s)
		checkLabels(t, s, l)
	}
}

func TestSubjectScene(t *testing.T) {
	for _, sub := range Subjects() {
		ctxs := map[string]bool{}
		for seed := range uint64(200) {
			s, err := SubjectScene(sub.Name, seed)
			if err != nil {
				t.Fatal(err)
			}
			if s.Subject != sub.Name || (!sub.Live && s.Accessory != "") {
				t.Fatalf("%s: scene %+v", sub.Name, s)
			}
			ctxs[s.Context] = true
			if seed < 20 {
				_, l := render(t, s)
				checkLabels(t, s, l)
			}
		}
		if len(ctxs) < 25 {
			t.Errorf("%s: only %d contexts in 200 scenes", sub.Name, len(ctxs))
		}
	}
	if _, err := SubjectScene("nobody", 1); !errors.Is(err, ErrUnknownSubject) {
		t.Errorf("unknown subject: %v", err)
	}
}

// TestConcurrentRenders: Render keeps no shared state, so renders on many goroutines give the
// same bytes as one after another.
func TestConcurrentRenders(t *testing.T) {
	const k = 64
	want := make([][]byte, k)
	for i := range want {
		img, _ := render(t, GenericScene(uint64(i)))
		want[i] = img.Pix
	}
	got := make([][]byte, k)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			img, _, err := Render(GenericScene(uint64(i)))
			if err == nil {
				got[i] = img.Pix
			}
		})
	}
	wg.Wait()
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("scene %d differs when rendered concurrently", i)
		}
	}
}

func TestBadScenes(t *testing.T) {
	for _, s := range []Scene{
		{Context: "on Mars", Class: "ball"},
		{Context: "", Class: "ball"},
		{Context: "on the beach", Class: "teapot"},
		{Context: "on the beach", Class: "ball", Color: "teal"},
		{Context: "on the beach", Class: "cup", Subject: "stripy_ball"},
		{Context: "on the beach", Subject: "grey_sloth"},
		{Context: "on the beach", Class: "ball", Accessory: "wearing a red hat"},
		{Context: "on the beach", Class: "dog", Accessory: "wearing a blue tie"},
	} {
		if _, _, err := Render(s); !errors.Is(err, ErrBadScene) {
			t.Errorf("Render(%+v): error %v, want ErrBadScene", s, err)
		}
	}
	if _, err := SubjectByName("nope"); !errors.Is(err, ErrUnknownSubject) {
		t.Errorf("SubjectByName: %v", err)
	}
}

func TestVocabulary(t *testing.T) {
	if n := len(Contexts()); n < 8 {
		t.Errorf("%d contexts", n)
	}
	live := 0
	for _, c := range Classes() {
		if c.Live {
			live++
		}
	}
	if len(Classes())-live < 6 || live < 2 {
		t.Errorf("%d classes, %d live", len(Classes()), live)
	}
	if len(Colors()) < 9 {
		t.Errorf("%d colours", len(Colors()))
	}
	seen := map[string]bool{}
	for _, w := range append(Colors(), classWords()...) {
		if seen[w] {
			t.Errorf("word %q twice", w)
		}
		seen[w] = true
	}
	uses := map[Use]int{}
	for _, c := range Contexts() {
		uses[c.Use]++
		if seen[c.Phrase] {
			t.Errorf("context %q twice", c.Phrase)
		}
		seen[c.Phrase] = true
	}
	if uses[Evaluation] != 20 || uses[Training] < 7 || uses[Validation] != 2 || uses[Reference] < 1 {
		t.Errorf("contexts per use: %v", uses)
	}
}

func TestReferences(t *testing.T) {
	subs := Subjects()
	if len(subs) < 6 {
		t.Fatalf("%d subjects", len(subs))
	}
	live := 0
	names := map[string]bool{}
	for _, s := range subs {
		if names[s.Name] {
			t.Errorf("subject %q twice", s.Name)
		}
		names[s.Name] = true
		if s.Live {
			live++
		}
		got, err := SubjectByName(s.Name)
		if err != nil || got != s {
			t.Errorf("SubjectByName(%q) = %+v, %v", s.Name, got, err)
		}
		if cl := classTable[classIndex(s.Class)]; cl.Live != s.Live {
			t.Errorf("%s: live %v but class %s", s.Name, s.Live, s.Class)
		}
		scenes := s.ReferenceScenes()
		refs := s.References()
		if len(scenes) < 4 || len(scenes) > 6 || len(refs) != len(scenes) {
			t.Errorf("%s: %d reference scenes, %d images, want 4 to 6", s.Name, len(scenes), len(refs))
		}
		ctxs := s.ReferenceContexts()
		if len(ctxs) < 1 || len(ctxs) > 2 {
			t.Errorf("%s: %d reference contexts", s.Name, len(ctxs))
		}
		allowed := map[string]bool{}
		for _, c := range ctxs {
			allowed[c] = true
			if contextTable[contextIndex(c)].Use != Reference {
				t.Errorf("%s: reference context %q is named by prompts", s.Name, c)
			}
		}
		seeds := map[uint64]bool{}
		for i, sc := range scenes {
			if !allowed[sc.Context] || sc.Subject != s.Name || sc.Color != "" || sc.Accessory != "" {
				t.Errorf("%s: reference scene %+v", s.Name, sc)
			}
			if seeds[sc.Seed] {
				t.Errorf("%s: reference %d repeats a seed", s.Name, i)
			}
			seeds[sc.Seed] = true
			if refs[i].Bounds() != image.Rect(0, 0, Size, Size) {
				t.Errorf("%s: reference %d bounds %v", s.Name, i, refs[i].Bounds())
			}
		}
	}
	if live < 2 || len(subs)-live < 2 {
		t.Errorf("%d live subjects of %d", live, len(subs))
	}
}

// meanRGB is the mean colour of rows y0..y1 of img.
func meanRGB(img *imaging.RGB, y0, y1 int) [3]float64 {
	var m [3]float64
	for y := y0; y < y1; y++ {
		for x := range img.W {
			for c := range 3 {
				m[c] += float64(img.Pix[3*(y*img.W+x)+c])
			}
		}
	}
	for c := range m {
		m[c] /= float64((y1 - y0) * img.W)
	}
	return m
}

func dist(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Sqrt(s)
}

func TestContextColours(t *testing.T) {
	top := func(ctx string) [3]float64 {
		var m [3]float64
		for seed := range uint64(8) {
			img, _ := render(t, Scene{Context: ctx, Class: "ball", Seed: seed})
			v := meanRGB(img, 0, 6)
			for c := range m {
				m[c] += v[c] / 8
			}
		}
		return m
	}
	moon, beach, snow, jungle := top("on the Moon"), top("on the beach"), top("in the snow"), top("in the jungle")
	if moon[0]+moon[1]+moon[2] > 3*40 {
		t.Errorf("the Moon's sky is not black: %v", moon)
	}
	if beach[2] < 180 || beach[2] < beach[0]+40 {
		t.Errorf("the beach's sky is not blue: %v", beach)
	}
	if snow[0] < 130 || snow[1] < 140 || snow[2] < 180 || snow[2] < snow[0]+20 {
		t.Errorf("the snow's sky is not a pale grey-blue: %v", snow)
	}
	for seed := range uint64(4) {
		img, _ := render(t, Scene{Context: "in the snow", Class: "can", Color: "black", Seed: seed})
		if m := meanRGB(img, 29, 32); m[0] < 190 || m[1] < 190 || m[2] < 200 {
			t.Errorf("the snow's ground is not white: %v", m)
		}
	}
	if jungle[1] < jungle[0]+20 || jungle[1] < jungle[2]+20 {
		t.Errorf("the jungle is not green: %v", jungle)
	}
	if d := dist(moon[:], beach[:]); d < 150 {
		t.Errorf("Moon and beach skies differ by only %.0f", d)
	}
}

// thumb is a 4×4 mean-colour thumbnail of img, as a feature vector.
func thumb(img *imaging.RGB) []float64 {
	f := make([]float64, 4*4*3)
	for y := range Size {
		for x := range Size {
			for c := range 3 {
				f[3*((y/8)*4+x/8)+c] += float64(img.Pix[3*(y*Size+x)+c]) / 64
			}
		}
	}
	return f
}

// TestContextsSeparable checks that every context is recognisable from colour layout alone: a
// nearest-centroid classifier on 4×4 thumbnails, fitted on some seeds, names the context of
// renders at other seeds (random classes and colours) nearly always. A judge that sees shapes as
// well does better.
func TestContextsSeparable(t *testing.T) {
	const fit, test = 12, 8
	ctxs := Contexts()
	cent := make([][]float64, len(ctxs))
	scene := func(ci int, seed uint64) Scene {
		g := GenericScene(seed*977 + uint64(ci))
		cl := g.Class
		if ctxs[ci].LiveOnly && !classTable[classIndex(cl)].Live {
			cl = "dog"
		}
		return Scene{Context: ctxs[ci].Phrase, Class: cl, Color: g.Color, Seed: g.Seed}
	}
	for ci := range ctxs {
		cent[ci] = make([]float64, 48)
		for seed := range uint64(fit) {
			img, _ := render(t, scene(ci, seed))
			for i, v := range thumb(img) {
				cent[ci][i] += v / fit
			}
		}
	}
	right, total := 0, 0
	for ci := range ctxs {
		for seed := uint64(fit); seed < fit+test; seed++ {
			img, _ := render(t, scene(ci, seed))
			f := thumb(img)
			best, bd := -1, math.Inf(1)
			for cj := range ctxs {
				if d := dist(f, cent[cj]); d < bd {
					best, bd = cj, d
				}
			}
			total++
			if best == ci {
				right++
			} else {
				t.Logf("%q taken for %q", ctxs[ci].Phrase, ctxs[best].Phrase)
			}
		}
	}
	if acc := float64(right) / float64(total); acc < 0.85 {
		t.Errorf("nearest-centroid context accuracy %.2f, want ≥ 0.85", acc)
	} else {
		t.Logf("nearest-centroid context accuracy %.3f on %d renders", acc, total)
	}
}

// objectDiff is the mean absolute difference of a and b over box.
func objectDiff(a, b *imaging.RGB, box image.Rectangle) float64 {
	s, k := 0.0, 0
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			for c := range 3 {
				i := 3*(y*Size+x) + c
				s += math.Abs(float64(a.Pix[i]) - float64(b.Pix[i]))
				k++
			}
		}
	}
	return s / float64(k)
}

// TestSubjectsDifferFromGeneric: a subject, drawn with the same seed (same pose, same background)
// as a generic object of its class in the subject's own main colour, differs clearly over the
// object; the generic vocabulary's closest description does not draw it.
func TestSubjectsDifferFromGeneric(t *testing.T) {
	for _, s := range Subjects() {
		minDiff := math.Inf(1)
		for seed := range uint64(6) {
			for _, ctx := range []string{s.ReferenceContexts()[0], "on the beach"} {
				sub, l := render(t, Scene{Context: ctx, Subject: s.Name, Seed: seed})
				gen, _ := render(t, Scene{Context: ctx, Class: s.Class, Color: s.Color, Seed: seed})
				minDiff = math.Min(minDiff, objectDiff(sub, gen, l.Box))
			}
		}
		if minDiff < 12 {
			t.Errorf("%s differs from a generic %s %s by only %.1f levels over the object", s.Name, s.Color, s.Class, minDiff)
		}
		t.Logf("%s: at least %.1f levels from a generic %s %s", s.Name, minDiff, s.Color, s.Class)
	}
	// Subjects also differ from one another, and a recoloured subject from the original.
	a, l := render(t, Scene{Context: "on a table", Subject: "spotted_cup", Seed: 5})
	b, _ := render(t, Scene{Context: "on a table", Subject: "spotted_cup", Color: "red", Seed: 5})
	if d := objectDiff(a, b, l.Box); d < 20 {
		t.Errorf("a red spotted_cup differs from the white one by only %.1f", d)
	}
}

func TestWritePNGAndGrid(t *testing.T) {
	rows := [][]image.Image{{mustRender(GenericScene(1)), nil}, {mustRender(GenericScene(2)), mustRender(GenericScene(3))}}
	g := Grid(rows, 3, 2)
	if g.W != 2*(32*3+2)+2 || g.H != g.W {
		t.Fatalf("grid %dx%d", g.W, g.H)
	}
	path := filepath.Join(t.TempDir(), "g.png")
	if err := WritePNG(path, g); err != nil {
		t.Fatal(err)
	}
	back, err := imaging.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Pix, g.Pix) {
		t.Fatal("PNG round trip changed the pixels")
	}
	if err := WritePNG(filepath.Join(t.TempDir(), "no", "such", "dir.png"), g); err == nil {
		t.Fatal("WritePNG into a missing folder succeeded")
	}
}
