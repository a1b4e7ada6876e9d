// Package treiber is a Treiber stack on the simulator's slab, the classic
// lock-free stack: push links a new node in front of the head with a
// cmpxchg, pop swings the head to the first node's next with another.
//
// Pop comes in two versions. PopAndFree, the broken one, frees the node it
// took at once, as a first attempt would. Another CPU that read the same
// head and was slow still holds that node: its READ_ONCE(old->next) reads
// freed memory (the use-after-free the test finds, as KASAN would report
// it), and if the slab has meanwhile handed the node out again to a push,
// its cmpxchg succeeds on a head that only looks unchanged (ABA) and
// installs a next that may itself be gone. Pop, the correct one, defers the
// free: a taken node is retired on its CPU's list and freed by Reclaim once
// no CPU can still hold it (a grace period, as RCU gives the kernel; here
// the workload calls it when every popping task is done), so a node's
// memory never changes under a reader and is never reused while the stack
// runs.
//
// `go test ./examples/treiber` checks Pop for linearizability against a
// LIFO model over 5,000 schedules and shows PopAndFree's use-after-free;
// `go test -run '^$' -fuzz '^FuzzTreiberStack$' ./examples/treiber` fuzzes
// the schedules of the correct version.
package treiber

import "github.com/kernelsim/lfsim/sim"

// struct node { u64 value; struct node *next; }: two words of a kmem_cache
// object.
const (
	value = 0
	next  = 1
)

// Stack is a Treiber stack of uint64 values.
type Stack struct {
	head    *sim.Cell // struct node *head; NULL (0) when empty
	nodes   *sim.KmemCache
	retired [][]uint64 // per CPU: nodes taken but not yet freed
}

// New makes an empty stack for a machine of cpus CPUs.
func New(m *sim.Machine, cpus int) *Stack {
	return &Stack{
		head:    m.NewCell("head", sim.Handle, 0),
		nodes:   m.KmemCacheCreate("stack_node", 2),
		retired: make([][]uint64, cpus),
	}
}

// field is &n->field for the node whose handle is n.
func field(c *sim.Ctx, n uint64, f int) *sim.Cell { return c.Machine().Object(n).Word(f) }

// Push puts v on top; it reports false when no node could be allocated.
func (s *Stack) Push(c *sim.Ctx, v uint64) bool {
	n := c.KmemCacheAlloc(s.nodes, sim.GFPAtomic) // n = kmem_cache_alloc(nodes, GFP_ATOMIC)
	if n == 0 {
		return false
	}
	c.WriteOnce(field(c, n, value), v) // n->value = v
	for {
		old := c.ReadOnce(s.head)             // old = READ_ONCE(head)
		c.WriteOnce(field(c, n, next), old)   // n->next = old
		if c.Cmpxchg(s.head, old, n) == old { // cmpxchg is a full barrier: it publishes n's words
			return true
		}
	}
}

// take unlinks the first node, or returns 0 when the stack is empty.
func (s *Stack) take(c *sim.Ctx) uint64 {
	for {
		old := c.ReadOnce(s.head) // old = READ_ONCE(head)
		if old == 0 {
			return 0
		}
		nx := c.ReadOnce(field(c, old, next))  // next = READ_ONCE(old->next): another CPU may have popped old
		if c.Cmpxchg(s.head, old, nx) == old { // cmpxchg(&head, old, next) == old
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
	v := c.ReadOnce(field(c, n, value))
	c.KmemCacheFree(s.nodes, n) // kmem_cache_free(nodes, n) while another CPU may hold n
	return v, true
}

// Pop takes the top value and retires its node on this CPU's list, to be
// freed by Reclaim. Call it from task context.
func (s *Stack) Pop(c *sim.Ctx) (uint64, bool) {
	n := s.take(c)
	if n == 0 {
		return 0, false
	}
	v := c.ReadOnce(field(c, n, value))
	c.PreemptDisable() // the per-CPU list is this CPU's only while we cannot migrate
	cpu := c.SmpProcessorID()
	s.retired[cpu] = append(s.retired[cpu], n)
	c.PreemptEnable()
	return v, true
}

// Reclaim frees the retired nodes. Call it after a grace period: when no
// CPU is inside Pop or PopAndFree any more.
func (s *Stack) Reclaim(c *sim.Ctx) {
	for cpu, nodes := range s.retired {
		for _, n := range nodes {
			c.KmemCacheFree(s.nodes, n)
		}
		s.retired[cpu] = nil
	}
}
