package schedule

import (
	"slices"
	"testing"
)

// Timesteps for spacings the fixtures do not cover, worked out by hand from diffusers'
// formulas for T = 1000.
func TestTimestepSpacings(t *testing.T) {
	for _, tc := range []struct {
		class, spacing string
		offset, n      int
		want           []float64
	}{
		// leading: i·(T//n) reversed, + offset.
		{ClassDDIM, SpacingLeading, 1, 3, []float64{667, 334, 1}},
		{ClassDDPM, SpacingLeading, 0, 4, []float64{750, 500, 250, 0}},
		// trailing: round(arange(1000, 0, -1000/n)) - 1; offset ignored.
		{ClassDDIM, SpacingTrailing, 1, 10, []float64{999, 899, 799, 699, 599, 499, 399, 299, 199, 99}},
		// arange(1000, 0, -333.33…) = 1000, 666.67, 333.33.
		{ClassDDIM, SpacingTrailing, 0, 3, []float64{999, 666, 332}},
		// n = 61: NumPy gives 62 values, the last rounding to -1; cut to 61 (see trailing).
		{ClassDDPM, SpacingTrailing, 0, 61, nil},
		// linspace: round(linspace(0, 999, n)) reversed; 499.5 rounds to even.
		{ClassDDIM, SpacingLinspace, 1, 3, []float64{999, 500, 0}},
		{ClassDDPM, SpacingLinspace, 0, 4, []float64{999, 666, 333, 0}},
		// Euler keeps linspace's fractions: linspace(0, 999, 7) = 0, 166.5, 333, …
		{ClassEuler, SpacingLinspace, 1, 7, []float64{999, 832.5, 666, 499.5, 333, 166.5, 0}},
		{ClassEuler, SpacingLeading, 1, 4, []float64{751, 501, 251, 1}},
		{ClassEuler, SpacingTrailing, 0, 4, []float64{999, 749, 499, 249}},
		// DPM-Solver: n+1 points, the last dropped. linspace(0, 999, 5) = 0, 249.75, 499.5, 749.25, 999.
		{ClassDPMSolver, SpacingLinspace, 0, 4, []float64{999, 749, 500, 250}},
		// leading: ratio = 1000 // (n+1) = 200.
		{ClassDPMSolver, SpacingLeading, 1, 4, []float64{801, 601, 401, 201}},
		{ClassDPMSolver, SpacingTrailing, 0, 4, []float64{999, 749, 499, 249}},
		// PNDM: ascending ts → ts[:-1] + ts[-2:-1] + ts[-1:], reversed: the second one repeats.
		{ClassPNDM, SpacingLeading, 1, 4, []float64{751, 501, 501, 251, 1}},
		{ClassPNDM, SpacingTrailing, 0, 4, []float64{999, 749, 749, 499, 249}},
		{ClassPNDM, SpacingLinspace, 0, 4, []float64{999, 666, 666, 333, 0}},
		{ClassPNDM, SpacingLeading, 0, 1, []float64{0}},
	} {
		s, err := FromConfig(sdConfig(t, tc.class, 1000, func(c *Config) {
			c.TimestepSpacing, c.StepsOffset, c.SkipPRKSteps = tc.spacing, tc.offset, true
		}))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetTimesteps(tc.n); err != nil {
			t.Fatal(err)
		}
		got := s.Timesteps()
		if tc.want == nil {
			if len(got) != tc.n || slices.Min(got) < 0 {
				t.Errorf("%s %s n=%d: %d timesteps, min %v; want %d, none negative",
					tc.class, tc.spacing, tc.n, len(got), slices.Min(got), tc.n)
			}
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %s offset=%d n=%d: %v, want %v", tc.class, tc.spacing, tc.offset, tc.n, got, tc.want)
		}
	}
}

// More trailing cases worked out by hand from round(arange(T, 0, -T/n)) - 1, where NumPy's
// arange fills T + i·step and np.round rounds halves to even.
func TestTrailingHandWorked(t *testing.T) {
	for _, tc := range []struct {
		numTrain, n int
		want        []int
	}{
		// arange(10, 0, -2.5) = 10, 7.5, 5, 2.5 → 10, 8, 5, 2 (7.5 and 2.5 to even).
		{10, 4, []int{9, 7, 4, 1}},
		// arange(999, 0, -142.714…) = 999, 856.29, 713.57, 570.86, 428.14, 285.43, 142.71.
		{999, 7, []int{998, 855, 713, 570, 427, 284, 142}},
		// T/n = 16.393…: 62 values, cut to 61; they end …, 97.54, 81.15, 64.75, 48.36, 31.97, 15.57.
		{1000, 61, nil},
		{1, 1, []int{0}},
	} {
		got, err := discreteTimesteps(SpacingTrailing, tc.n, tc.numTrain, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := tc.want
		if want == nil { // T=1000, n=61: the first three and the last five
			if len(got) != 61 || !slices.Equal(got[:3], []int{999, 983, 966}) || !slices.Equal(got[56:], []int{81, 65, 48, 32, 15}) {
				t.Errorf("T=1000 n=61: %v, want 61 values starting 999, 983, 966 and ending 81, 65, 48, 32, 15", got)
			}
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("T=%d n=%d: %v, want %v", tc.numTrain, tc.n, got, want)
		}
	}
}

// Every spacing gives n distinct timesteps in [0, T) for every n ≤ T.
func TestTrailingNeverNegative(t *testing.T) {
	for _, numTrain := range []int{1000, 999} {
		for n := 1; n <= numTrain; n++ {
			ts, err := discreteTimesteps(SpacingTrailing, n, numTrain, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(ts) != n || ts[0] != numTrain-1 || ts[n-1] < 0 {
				t.Fatalf("T=%d n=%d: %d timesteps from %d to %d", numTrain, n, len(ts), ts[0], ts[len(ts)-1])
			}
		}
	}
}

func TestNumpyHelpers(t *testing.T) {
	if got := numpyLinspace(0, 999, 10); got[1] != 111 || got[9] != 999 {
		t.Errorf("linspace(0, 999, 10) = %v", got)
	}
	if got := numpyArange(1000, 0, -250); !slices.Equal(got, []float64{1000, 750, 500, 250}) {
		t.Errorf("arange(1000, 0, -250) = %v", got)
	}
	if got := numpyArange(0, 10, -1); got != nil {
		t.Errorf("arange(0, 10, -1) = %v, want empty", got)
	}
}

func TestSetTimestepsRefusesBadN(t *testing.T) {
	for _, class := range []string{ClassDDPM, ClassDDIM, ClassPNDM, ClassEuler, ClassDPMSolver} {
		s, err := FromConfig(sdConfig(t, class, 1000, func(c *Config) { c.SkipPRKSteps = true }))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, -3, 1001} {
			if err := s.SetTimesteps(n); err == nil {
				t.Errorf("%s: SetTimesteps(%d) gave no error", class, n)
			}
		}
	}
}
