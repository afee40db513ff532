package toyworld

import "testing"

func BenchmarkRender(b *testing.B) {
	for i := range b.N {
		s := GenericScene(uint64(i))
		if _, _, err := Render(s); err != nil {
			b.Fatal(err)
		}
	}
}
