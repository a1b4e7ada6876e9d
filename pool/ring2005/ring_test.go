package ring2005

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/sim"
)

// heap is a minimal allocator that counts calls.
type heap struct {
	next    uint64
	kmalloc int
	kfreed  []uint64
}

func (h *heap) Kmalloc(*sim.Ctx) uint64 { h.kmalloc++; h.next++; return h.next }

func (h *heap) Kfree(_ *sim.Ctx, b uint64) { h.kfreed = append(h.kfreed, b) }

// alone runs fn as the only task on a one-CPU machine: no concurrency.
func alone(t *testing.T, fn func(m *sim.Machine) func(c *sim.Ctx)) {
	t.Helper()
	m, err := sim.New(sim.Config{CPUs: 1})
	require.NoError(t, err)
	m.Go("t", 0, fn(m))
	r := m.Run(sim.NewBytes(nil))
	require.NoError(t, r.Err)
	require.Nil(t, r.Failure)
}

// Under "normal traffic" (one context at a time) the ring recycles: frees
// fill it up to its size, the next free goes to kfree, allocations drain it
// in FIFO order, wrap around, and fall back to kmalloc when it is empty.
func TestRingSequential(t *testing.T) {
	for _, locked := range []bool{false, true} {
		h := &heap{}
		alone(t, func(m *sim.Machine) func(c *sim.Ctx) {
			var p Pool = New(m, 4, h)
			if locked {
				p = NewLocked(m, 4, h)
			}
			return func(c *sim.Ctx) {
				var bufs []uint64
				for range 5 {
					bufs = append(bufs, p.AllocData(c))
				}
				assert.Equal(t, []uint64{1, 2, 3, 4, 5}, bufs, "empty ring: kmalloc")
				for _, b := range bufs {
					p.FreeData(c, b)
				}
				assert.Equal(t, []uint64{1, 2, 3, 4}, p.Slots(), "four recycled")
				assert.Equal(t, []uint64{5}, h.kfreed, "the fifth finds the ring full")
				for round := range 3 { // wraps around the ring several times
					a, b := p.AllocData(c), p.AllocData(c)
					p.FreeData(c, a)
					p.FreeData(c, b)
					assert.Equal(t, 5, h.kmalloc, "round %d: no new kmalloc while the ring has buffers", round)
				}
				got := map[uint64]bool{}
				for range 4 {
					got[p.AllocData(c)] = true
				}
				assert.Equal(t, map[uint64]bool{1: true, 2: true, 3: true, 4: true}, got)
				assert.Equal(t, uint64(6), p.AllocData(c), "drained: kmalloc again")
			}
		})
	}
}
