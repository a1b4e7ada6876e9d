package sim

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allocating is two CPUs allocating and freeing, with n allocation
// failures allowed.
func allocating(t *testing.T, n int) *Machine {
	t.Helper()
	m, err := New(Config{CPUs: 2, AllocFailures: n})
	require.NoError(t, err)
	kc := m.KmemCacheCreate("obj", 1)
	for cpu := range 2 {
		m.Go("t"+string(rune('0'+cpu)), cpu, func(c *Ctx) {
			for range 4 {
				if h := c.KmemCacheAlloc(kc, GFPAtomic); h != 0 {
					c.KmemCacheFree(kc, h)
				}
			}
		})
	}
	return m
}

func countFailed(r Result) int {
	n := 0
	for _, mv := range r.Decisions {
		if mv.Kind == MoveFailAlloc {
			n++
		}
	}
	return n
}

// PCT injects allocation failures as events of their own, as many as
// the run allows, at steps it draws: not never, as it once did.
func TestPCTInjectsAllocationFailures(t *testing.T) {
	most := 0
	for seed := range uint64(50) {
		r := allocating(t, 2).Run(NewPCT(seed, 2, 20))
		require.NoError(t, r.Err)
		require.Nil(t, r.Failure)
		assert.LessOrEqual(t, countFailed(r), 2)
		most = max(most, countFailed(r))
	}
	assert.Equal(t, 2, most, "some run spends the whole budget")
	r := allocating(t, 0).Run(NewPCT(1, 2, 20))
	assert.Zero(t, countFailed(r), "no budget, no failure")
}

// POS takes the move of highest priority and redraws only the
// priorities of moves racing with it: two CPUs working on cells of their
// own are not interleaved step by step, as a random walk would.
func TestPOSRedrawsOnlyRacingMoves(t *testing.T) {
	build := func() *Machine {
		m, err := New(Config{CPUs: 2})
		require.NoError(t, err)
		for cpu := range 2 {
			x := m.NewCell("x"+string(rune('0'+cpu)), W32, 0)
			m.Go("t"+string(rune('0'+cpu)), cpu, func(c *Ctx) {
				for range 20 {
					c.WriteOnce(x, c.ReadOnce(x)+1)
				}
			})
		}
		return m
	}
	posSwitches, randomSwitches := 0, 0
	for seed := range uint64(20) {
		posSwitches += build().Run(NewPOS(seed)).Switches
		randomSwitches += build().Run(NewRandom(seed)).Switches
	}
	assert.Less(t, posSwitches*4, randomSwitches, "POS %d switches, random %d", posSwitches, randomSwitches)
}

// Random draws what rand.Rand.IntN would from the same source, so that
// seeds keep naming the same walks.
func TestRandomDrawsAsRandIntN(t *testing.T) {
	for seed := range uint64(20) {
		r, want := NewRandom(seed), rand.New(rand.NewPCG(seed, 0x5eed))
		for i := range 2000 {
			n := 1 + i%70
			if i%7 == 0 {
				n = 1 << (i % 40)
			} else if i%11 == 0 {
				n = 1<<62 + i // rejection is likely
			}
			require.Equal(t, want.IntN(n), r.intN(n), "seed %d, draw %d, n %d", seed, i, n)
		}
	}
}
