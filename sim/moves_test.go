package sim

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// rescanning is a random strategy that first checks the machine's kept
// move list against one computed from scratch for every CPU.
type rescanning struct {
	t *testing.T
	r *Random
}

func (s rescanning) Choose(m *Machine, moves []Move) (int, error) {
	require.Equal(s.t, m.rescan(), slices.Clone(moves), "step %d", m.step)
	return s.r.Choose(m, moves)
}

// The moves kept from one decision to the next are those a full rescan
// finds, through what changes them from afar: tasks that migrate, sleep
// on a mutex and are woken, ksoftirqd waking, spinners on a lock that
// another CPU releases, interrupts, injected allocation failures running
// out, and an init task.
func TestKeptMovesMatchRescan(t *testing.T) {
	for seed := range uint64(200) {
		m := build(t, Config{CPUs: 3, AllocFailures: 1}, func(m *Machine) {
			x := m.NewCell("x", W32, 0)
			l := m.NewSpinlock("l")
			mu := m.NewMutex("mu")
			kc := m.KmemCacheCreate("kc", 1)
			m.OpenSoftirq(NetRxSoftirq, func(c *Ctx) { c.AtomicAddReturn(x, 1) })
			m.Init("init", func(c *Ctx) { c.WriteOnce(x, 1) })
			m.RequestIRQ(1, "nic", 2, func(c *Ctx) { c.RaiseSoftirq(NetRxSoftirq) })
			for i := range 4 {
				pin := Any
				if i == 3 {
					pin = 2
				}
				m.Go(fmt.Sprintf("t%d", i), pin, func(c *Ctx) {
					c.MutexLock(mu)
					c.WriteOnce(x, c.ReadOnce(x)+1)
					c.MutexUnlock(mu)
					c.SpinLock(l)
					if h := c.KmemCacheAlloc(kc, GFPAtomic); h != 0 {
						c.KmemCacheFree(kc, h)
					}
					c.SpinUnlock(l)
					c.RaiseSoftirq(NetRxSoftirq)
				})
			}
		})
		r := m.Run(rescanning{t, NewRandom(seed)})
		require.NoError(t, r.Err)
		require.Nil(t, r.Failure, "seed %d", seed)
	}
}
