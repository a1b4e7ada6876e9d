// Package alf is the Array-based Lock-Free queue (alf_queue) of the
// December 2014 qmempool RFC, ported to the simulated machine: a ring of
// word-sized values between free-running producer and consumer counters,
// with bulk enqueue and dequeue, for many producers and consumers (MP/MC,
// one cmpxchg per call) or a single one per side (SP/SC, no atomics).
//
// The port keeps the original's step order, barriers and return semantics;
// every shared word (the four counters and every slot) is a machine cell.
// Options select what the original left to its users or to its history:
// where the counters start, how wide they are, the MC tail publication of
// the RFC or of the 2015 revision, the SP/SC debug assertions, and the slot
// copy loops.
package alf

import (
	"fmt"

	"github.com/kernelsim/lfsim/sim"
)

// MaxSize is the largest queue the original accepts.
const MaxSize = 65536

// MCTail is how MC dequeue hands its slots back to producers.
type MCTail int

const (
	// TailRelease is the 2015 revision: smp_store_release(consumer.tail).
	TailRelease MCTail = iota
	// TailRFC is the RFC's form: smp_wmb() before the wait for earlier
	// consumers, then a plain WRITE_ONCE(consumer.tail).
	TailRFC
)

// Copy selects the slot copy loops.
type Copy int

const (
	// CopyUnrolled is the default: four slots at a time without masking
	// when the copy cannot reach the end of the array, else one at a time
	// with every index masked.
	CopyUnrolled Copy = iota
	// CopySimple is the repository's "simple" store loop for enqueue,
	// ported literally (dequeue keeps the default loads).
	CopySimple
)

// Options are the settings of a queue; the zero value is the original.
type Options struct {
	// Start is the value all four counters start from (0 in the original);
	// a test may start just below 2^Width to exercise the wrap.
	Start uint64
	// Width is the counters' width in bits (0 means the original's 32).
	// Narrow counters keep single-threaded behaviour but make a stalled
	// cmpxchg on a lapped counter reachable.
	Width int
	// MCTail is the MC dequeue's tail publication.
	MCTail MCTail
	// Debug turns on the SP/SC assertions that BUG() when another context
	// has touched the same side (head or tail not what this caller left).
	Debug bool
	// Copy selects the slot copy loops.
	Copy Copy
}

// Queue is struct alf_queue.
type Queue struct {
	size uint64 // number of slots
	mask uint64 // size - 1
	cmax uint64 // counter mask: 2^width - 1

	prodHead, prodTail *sim.Cell // producer.head, producer.tail
	consHead, consTail *sim.Cell // consumer.head, consumer.tail
	ring               []sim.Cell

	opt Options
}

// New is alf_queue_alloc: it makes a queue of size slots named name (the
// counters are name.producer.head and so on), or rejects a size the
// original rejects (-EINVAL): not a power of two, or outside 1..MaxSize.
// It also rejects a size that narrow counters cannot index.
func New(m *sim.Machine, name string, size int, opt Options) (*Queue, error) {
	if size < 1 || size > MaxSize || size&(size-1) != 0 {
		return nil, fmt.Errorf("alf_queue %s: size %d: want a power of two in 1..%d (EINVAL)", name, size, MaxSize)
	}
	if opt.Width == 0 {
		opt.Width = 32
	}
	if opt.Width < 1 || opt.Width > 32 {
		return nil, fmt.Errorf("alf_queue %s: counter width %d: want 1..32 bits", name, opt.Width)
	}
	if uint64(size) > 1<<opt.Width {
		return nil, fmt.Errorf("alf_queue %s: size %d does not fit %d-bit counters", name, size, opt.Width)
	}
	q := &Queue{size: uint64(size), mask: uint64(size - 1), cmax: 1<<opt.Width - 1, opt: opt}
	start := opt.Start & q.cmax
	q.prodHead = m.NewCellBits(name+".producer.head", opt.Width, start)
	q.prodTail = m.NewCellBits(name+".producer.tail", opt.Width, start)
	q.consHead = m.NewCellBits(name+".consumer.head", opt.Width, start)
	q.consTail = m.NewCellBits(name+".consumer.tail", opt.Width, start)
	q.ring = m.NewArray(name+".ring", size, sim.W64, 0)
	return q, nil
}

// u32 is the counters' arithmetic: unsigned, modulo 2^width.
func (q *Queue) u32(v uint64) uint64 { return v & q.cmax }

// MPEnqueue is alf_mp_enqueue: all n values or none. It returns n, or 0
// when fewer than n slots are free. Not preemption safe.
func (q *Queue) MPEnqueue(c *sim.Ctx, vals []uint64) int {
	n := uint64(len(vals))
	var pHead, pNext uint64
	for {
		pHead = c.ReadOnce(q.prodHead)
		cTail := c.ReadOnce(q.consTail)
		space := q.u32(q.size + cTail - pHead)
		if n > space {
			return 0
		}
		pNext = q.u32(pHead + n)
		if c.Cmpxchg(q.prodHead, pHead, pNext) == pHead {
			break
		}
	}
	q.store(c, pHead, vals)
	// The slot stores must be visible before the tail that publishes them.
	c.SmpWmb()
	// Producers publish strictly in the order they reserved.
	for c.ReadOnce(q.prodTail) != pHead {
		c.CpuRelax()
	}
	c.WriteOnce(q.prodTail, pNext)
	return int(n)
}

// MCDequeue is alf_mc_dequeue: up to len(out) values into out. It returns
// how many, 0 when the queue is empty. Not preemption safe.
func (q *Queue) MCDequeue(c *sim.Ctx, out []uint64) int {
	n := uint64(len(out))
	var cHead, cNext, elems uint64
	for {
		cHead = c.ReadOnce(q.consHead)
		pTail := c.ReadOnce(q.prodTail)
		elems = q.u32(pTail - cHead)
		if elems == 0 {
			return 0
		}
		elems = min(elems, n)
		cNext = q.u32(cHead + elems)
		if c.Cmpxchg(q.consHead, cHead, cNext) == cHead {
			break
		}
	}
	q.load(c, cHead, out[:elems])
	if q.opt.MCTail == TailRFC {
		c.SmpWmb()
	}
	for c.ReadOnce(q.consTail) != cHead {
		c.CpuRelax()
	}
	if q.opt.MCTail == TailRFC {
		c.WriteOnce(q.consTail, cNext)
	} else {
		// The slot loads must be complete before the slots go back.
		c.SmpStoreRelease(q.consTail, cNext)
	}
	return int(elems)
}

// SPEnqueue is alf_sp_enqueue, for a single producer with preemption
// disabled: all n values or none, like MPEnqueue, without atomics.
func (q *Queue) SPEnqueue(c *sim.Ctx, vals []uint64) int {
	n := uint64(len(vals))
	pHead := c.Load(q.prodHead)
	if q.opt.Debug {
		pTail := c.ReadOnce(q.prodTail)
		c.BugOn(pTail != pHead, "alf_sp_enqueue: producer.tail %d != producer.head %d: another producer is active", pTail, pHead)
	}
	c.SmpRmb()
	cTail := c.ReadOnce(q.consTail)
	space := q.u32(q.size + cTail - pHead)
	if n > space {
		return 0
	}
	pNext := q.u32(pHead + n)
	c.Store(q.prodHead, pNext)
	q.store(c, pHead, vals)
	c.SmpWmb()
	if q.opt.Debug {
		now := c.Load(q.prodHead)
		c.BugOn(now != pNext, "alf_sp_enqueue: producer.head moved from %d to %d under a single producer", pNext, now)
	}
	c.WriteOnce(q.prodTail, pNext)
	return int(n)
}

// SCDequeue is alf_sc_dequeue, for a single consumer with preemption
// disabled: up to len(out) values, like MCDequeue, without atomics.
func (q *Queue) SCDequeue(c *sim.Ctx, out []uint64) int {
	n := uint64(len(out))
	cHead := c.Load(q.consHead)
	if q.opt.Debug {
		cTail := c.ReadOnce(q.consTail)
		c.BugOn(cTail != cHead, "alf_sc_dequeue: consumer.tail %d != consumer.head %d: another consumer is active", cTail, cHead)
	}
	pTail := c.ReadOnce(q.prodTail)
	elems := q.u32(pTail - cHead)
	if elems == 0 {
		return 0
	}
	elems = min(elems, n)
	cNext := q.u32(cHead + elems)
	c.Store(q.consHead, cNext)
	// The slot loads must not be satisfied before producer.tail was read.
	c.SmpRmb()
	q.load(c, cHead, out[:elems])
	// The loads feed stores into the caller's buffer: a write barrier
	// suffices in the original's reasoning.
	c.SmpWmb()
	if q.opt.Debug {
		now := c.Load(q.consHead)
		c.BugOn(now != cNext, "alf_sc_dequeue: consumer.head moved from %d to %d under a single consumer", cNext, now)
	}
	c.WriteOnce(q.consTail, cNext)
	return int(elems)
}

// IsEmpty is alf_queue_empty: a snapshot that may be stale.
func (q *Queue) IsEmpty(c *sim.Ctx) bool {
	return c.ReadOnce(q.consTail) == c.ReadOnce(q.prodTail)
}

// Count is alf_queue_count: a snapshot that may be stale.
func (q *Queue) Count(c *sim.Ctx) int {
	pTail := c.ReadOnce(q.prodTail)
	return int(q.u32(pTail - c.ReadOnce(q.consHead)))
}

// AvailSpace is alf_queue_avail_space: a snapshot that may be stale.
func (q *Queue) AvailSpace(c *sim.Ctx) int {
	cTail := c.ReadOnce(q.consTail)
	return int(q.u32(q.size + cTail - c.ReadOnce(q.prodHead)))
}

// Peek returns the values between consumer.tail and producer.tail, oldest
// first, read outside the schedule: for end-of-run checks, never for code
// under test. It returns an error when the counters say the queue holds
// more than its size (they have been corrupted).
func (q *Queue) Peek() ([]uint64, error) {
	n := q.u32(q.prodTail.Peek() - q.consTail.Peek())
	if n > q.size {
		return nil, fmt.Errorf("alf_queue counters corrupt: producer.tail %d - consumer.tail %d = %d exceeds the size %d",
			q.prodTail.Peek(), q.consTail.Peek(), n, q.size)
	}
	vals := make([]uint64, 0, n)
	for i, end := q.consTail.Peek(), q.prodTail.Peek(); i != end; i = q.u32(i + 1) {
		vals = append(vals, q.ring[i&q.mask].Peek())
	}
	return vals, nil
}

// store copies vals into the slots from pHead on.
func (q *Queue) store(c *sim.Ctx, pHead uint64, vals []uint64) {
	if q.opt.Copy == CopySimple {
		q.storeSimple(c, pHead, vals)
		return
	}
	n := uint64(len(vals))
	index := pHead & q.mask
	if index+n <= q.mask { // cannot reach the end of the array (conservative by one)
		i := uint64(0)
		for ; i+4 <= n; i, index = i+4, index+4 {
			c.Store(&q.ring[index], vals[i])
			c.Store(&q.ring[index+1], vals[i+1])
			c.Store(&q.ring[index+2], vals[i+2])
			c.Store(&q.ring[index+3], vals[i+3])
		}
		for ; i < n; i, index = i+1, index+1 { // remainder
			c.Store(&q.ring[index], vals[i])
		}
		return
	}
	for i := uint64(0); i < n; i, index = i+1, index+1 { // mask every index
		c.Store(&q.ring[index&q.mask], vals[i])
	}
}

// storeSimple is the "simple" store loop, literally: store, then wrap the
// index when it equals size, then advance it.
func (q *Queue) storeSimple(c *sim.Ctx, pHead uint64, vals []uint64) {
	index := pHead & q.mask
	for i := range vals {
		c.Store(&q.ring[index], vals[i])
		if index == q.size {
			index = 0
		}
		index++
	}
}

// load copies len(out) values from the slots from cHead on.
func (q *Queue) load(c *sim.Ctx, cHead uint64, out []uint64) {
	n := uint64(len(out))
	index := cHead & q.mask
	if index+n <= q.mask {
		i := uint64(0)
		for ; i+4 <= n; i, index = i+4, index+4 {
			out[i] = c.Load(&q.ring[index])
			out[i+1] = c.Load(&q.ring[index+1])
			out[i+2] = c.Load(&q.ring[index+2])
			out[i+3] = c.Load(&q.ring[index+3])
		}
		for ; i < n; i, index = i+1, index+1 {
			out[i] = c.Load(&q.ring[index])
		}
		return
	}
	for i := uint64(0); i < n; i, index = i+1, index+1 {
		out[i] = c.Load(&q.ring[index&q.mask])
	}
}
