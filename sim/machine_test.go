package sim

import (
	"fmt"
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

// TestStopEndsTheRunPartWay: a run whose Stop channel is closed ends
// within stopGrain decisions with ErrStopped, neither a pass nor a
// failure; one closed before it starts takes no step.
func TestStopEndsTheRunPartWay(t *testing.T) {
	build := func(stop chan struct{}, closeAt int) (*Machine, *int) {
		m, err := New(Config{CPUs: 2, MaxSteps: 1 << 20, Stop: stop})
		require.NoError(t, err)
		x := m.NewCell("x", W32, 0)
		closedAt := new(int)
		for cpu := range 2 {
			m.Go(fmt.Sprintf("t%d", cpu), cpu, func(c *Ctx) {
				for i := range 100_000 {
					if cpu == 0 && i == closeAt {
						*closedAt = c.Machine().Step()
						close(stop)
					}
					c.WriteOnce(x, c.ReadOnce(x)+1)
				}
			})
		}
		return m, closedAt
	}
	stop := make(chan struct{})
	m, closedAt := build(stop, 5000)
	r := m.Run(NewRandom(1))
	require.ErrorIs(t, r.Err, ErrStopped)
	assert.Nil(t, r.Failure)
	assert.Greater(t, r.Steps, *closedAt)
	assert.LessOrEqual(t, r.Steps-*closedAt, stopGrain)

	stop = make(chan struct{})
	close(stop)
	m, _ = build(stop, -1)
	r = m.Run(NewRandom(1))
	require.ErrorIs(t, r.Err, ErrStopped)
	assert.Zero(t, r.Steps)
}
