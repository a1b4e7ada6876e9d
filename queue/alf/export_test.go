package alf

import "github.com/kernelsim/lfsim/sim"

// MPEnqueuePublishFirst is a deliberately broken copy of MPEnqueue for
// testing the checkers: it publishes producer.tail before storing the
// slots (and without the write barrier), so a consumer can take slots
// that do not hold the new values yet.
func (q *Queue) MPEnqueuePublishFirst(c *sim.Ctx, vals []uint64) int {
	n := uint64(len(vals))
	var pHead, pNext uint64
	for {
		pHead = c.ReadOnce(q.prodHead)
		cTail := c.ReadOnce(q.consTail)
		if n > q.u32(q.size+cTail-pHead) {
			return 0
		}
		pNext = q.u32(pHead + n)
		if c.Cmpxchg(q.prodHead, pHead, pNext) == pHead {
			break
		}
	}
	for c.ReadOnce(q.prodTail) != pHead {
		c.CpuRelax()
	}
	c.WriteOnce(q.prodTail, pNext) // too early
	q.store(c, pHead, vals)
	return int(n)
}
