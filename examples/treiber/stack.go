// Package treiber is a Treiber stack on the simulator's slab, the classic
// lock-free stack: push links a new node in front of the head with a
// cmpxchg, pop swings the head to the first node's next.
//
// Pop here comes in two versions. PopAndFree frees the node it took at
// once, as a first attempt would: another CPU still holding that node (it
// read the head, then was slow) reads its next after the free, and when the
// slab hands the same node out again its cmpxchg succeeds on a head that
// only looks unchanged (ABA), linking a node that is gone. Pop defers the
// free: nodes taken are retired, and freed only once no CPU can still hold
// one (here, when every task is done: a grace period, as RCU gives the
// kernel), so a node's memory never changes under a reader and its handle
// is never reused while the stack runs.
//
// Run the tests with `go test ./examples/treiber`.
package treiber

import "github.com/kernelsim/lfsim/sim"

// A node is two words of a kmem_cache object.
const (
	value = 0
	next  = 1
)

// Stack is a Treiber stack of uint64 values.
type Stack struct {
	head    *sim.Cell // handle of the first node, 0 when empty
	nodes   *sim.KmemCache
	retired [][]uint64 // by CPU: nodes taken but not yet freed
}

// New makes an empty stack for a machine of cpus CPUs.
func New(m *sim.Machine, cpus int) *Stack {
	return &Stack{head: m.NewCell("head", sim.Handle, 0), nodes: m.KmemCacheCreate("stack_node", 2), retired: make([][]uint64, cpus)}
}

func word(c *sim.Ctx, h uint64, i int) *sim.Cell { return c.Machine().Object(h).Word(i) }

// Push puts v on top; it reports false when no node could be allocated.
func (s *Stack) Push(c *sim.Ctx, v uint64) bool {
	n := c.KmemCacheAlloc(s.nodes, sim.GFPAtomic)
	if n == 0 {
		return false
	}
	c.WriteOnce(word(c, n, value), v)
	for {
		old := c.ReadOnce(s.head)
		c.WriteOnce(word(c, n, next), old)
		if c.Cmpxchg(s.head, old, n) == old { // publishes the node's words too
			return true
		}
	}
}

// take unlinks the first node, or returns 0 when the stack is empty.
func (s *Stack) take(c *sim.Ctx) uint64 {
	for {
		old := c.ReadOnce(s.head)
		if old == 0 {
			return 0
		}
		nx := c.ReadOnce(word(c, old, next))
		if c.Cmpxchg(s.head, old, nx) == old {
			return old
		}
	}
}

// PopAndFree takes the top value and frees its node at once: the broken
// version (see the package doc).
func (s *Stack) PopAndFree(c *sim.Ctx) (uint64, bool) {
	n := s.take(c)
	if n == 0 {
		return 0, false
	}
	v := c.ReadOnce(word(c, n, value))
	c.KmemCacheFree(s.nodes, n)
	return v, true
}

// Pop takes the top value and retires its node; Reclaim frees it later.
func (s *Stack) Pop(c *sim.Ctx) (uint64, bool) {
	n := s.take(c)
	if n == 0 {
		return 0, false
	}
	v := c.ReadOnce(word(c, n, value))
	cpu := c.RawSmpProcessorID()
	s.retired[cpu] = append(s.retired[cpu], n)
	return v, true
}

// Reclaim frees the retired nodes; call it when no CPU is inside Pop.
func (s *Stack) Reclaim(c *sim.Ctx) {
	for cpu, nodes := range s.retired {
		for _, n := range nodes {
			c.KmemCacheFree(s.nodes, n)
		}
		s.retired[cpu] = nil
	}
}
