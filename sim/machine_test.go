package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLostUpdateIsReachable checks that the random walk interleaves two
// plain increments both ways: some seed loses an update, some does not.
func TestLostUpdateIsReachable(t *testing.T) {
	outcomes := map[uint64]bool{}
	for seed := range uint64(64) {
		m, err := New(Config{CPUs: 2})
		require.NoError(t, err)
		x := m.NewCell("x", W32, 0)
		for i, name := range []string{"a", "b"} {
			m.Go(name, i, func(c *Ctx) { c.Store(x, c.Load(x)+1) })
		}
		r := m.Run(NewRandom(seed))
		require.Nil(t, r.Failure)
		outcomes[x.Peek()] = true
	}
	assert.Equal(t, map[uint64]bool{1: true, 2: true}, outcomes)
}
