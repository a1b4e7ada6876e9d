// Package ring2005 is the skb data-buffer recycle ring posted to netdev in
// October 2005: a global ring of buffer pointers that receive takes data
// buffers from instead of kmalloc, and frees put them back into instead of
// kfree. It has no lock and no atomics, and it crashed the kernel under
// heavy load. Ring is the port, one plain memory access per access in the
// C; Locked is the same ring with both paths under a spinlock, the way it
// could have been made safe.
package ring2005

import "github.com/kernelsim/lfsim/sim"

// MaxPoolSize is the original's MAX_POOL_SIZE.
const MaxPoolSize = 4096

// Allocator is the real allocator the ring falls back to: kmalloc of a
// data buffer when the ring is empty, kfree when it is full.
type Allocator interface {
	Kmalloc(c *sim.Ctx) uint64
	Kfree(c *sim.Ctx, data uint64)
}

// Pool is what the receive and free paths call: both Ring and Locked.
type Pool interface {
	AllocData(c *sim.Ctx) uint64
	FreeData(c *sim.Ctx, data uint64)
	// Slots returns what each ring slot holds, read from outside the run.
	Slots() []uint64
}

// Ring is the 2005 ring: skbuff_data_pool, skbPoolHead and skbPoolTail.
type Ring struct {
	pool []sim.Cell // skbuff_data_pool[MAX_POOL_SIZE]
	head *sim.Cell  // skbPoolHead
	tail *sim.Cell  // skbPoolTail
	size uint64     // MAX_POOL_SIZE
	mem  Allocator
}

// New makes a ring of size slots (the original: MaxPoolSize), all NULL,
// with head and tail at 0, falling back to mem.
func New(m *sim.Machine, size int, mem Allocator) *Ring {
	return &Ring{
		pool: m.NewArray("skbuff_data_pool", size, sim.Handle, 0),
		head: m.NewCell("skbPoolHead", sim.W32, 0),
		tail: m.NewCell("skbPoolTail", sim.W32, 0),
		size: uint64(size),
		mem:  mem,
	}
}

// AllocData is the receive path's change in alloc_skb: a data buffer from
// the ring when the slot at head holds one, else kmalloc. Each mention of
// skbPoolHead in the C is its own load, and ++ is a load then a store.
func (r *Ring) AllocData(c *sim.Ctx) uint64 {
	var data uint64
	if c.Load(&r.pool[c.Load(r.head)]) != 0 { // if (skbuff_data_pool[skbPoolHead])
		data = c.Load(&r.pool[c.Load(r.head)]) // data = skbuff_data_pool[skbPoolHead];
		c.Store(&r.pool[c.Load(r.head)], 0)    // skbuff_data_pool[skbPoolHead] = NULL;
		head := c.Load(r.head) + 1             // if (++skbPoolHead == MAX_POOL_SIZE)
		c.Store(r.head, head)
		if head == r.size {
			c.Store(r.head, 0) //     skbPoolHead = 0;
		}
	} else { // Original path
		data = r.mem.Kmalloc(c) // data = kmalloc(size + sizeof(struct skb_shared_info), gfp_mask);
	}
	return data
}

// FreeData is the free path's change in kfree_skbmem: kfree when the ring
// is full (head meets tail on a full slot), else store the buffer at tail.
func (r *Ring) FreeData(c *sim.Ctx, data uint64) {
	// if ((skbPoolHead == skbPoolTail) && (skbuff_data_pool[skbPoolHead] != NULL))
	if c.Load(r.head) == c.Load(r.tail) && c.Load(&r.pool[c.Load(r.head)]) != 0 {
		r.mem.Kfree(c, data) // Original path
		return
	}
	if c.Load(&r.pool[c.Load(r.tail)]) != 0 { // if (skbuff_data_pool[skbPoolTail])
		c.Panic("Tail pointer must be null")
	}
	c.Store(&r.pool[c.Load(r.tail)], data) // skbuff_data_pool[skbPoolTail] = skb->head;
	tail := c.Load(r.tail) + 1             // if (++skbPoolTail == MAX_POOL_SIZE)
	c.Store(r.tail, tail)
	if tail == r.size {
		c.Store(r.tail, 0) //     skbPoolTail = 0;
	}
}

// Slots implements Pool.
func (r *Ring) Slots() []uint64 {
	s := make([]uint64, len(r.pool))
	for i := range r.pool {
		s[i] = r.pool[i].Peek()
	}
	return s
}

// Locked is the ring with both paths under one spinlock taken with irqs
// saved, so that it is safe from task, softirq and hardirq context alike.
type Locked struct {
	ring *Ring
	lock *sim.Spinlock
}

// NewLocked makes a locked ring of size slots.
func NewLocked(m *sim.Machine, size int, mem Allocator) *Locked {
	return &Locked{ring: New(m, size, mem), lock: m.NewSpinlock("skb_pool_lock")}
}

// AllocData implements Pool.
func (l *Locked) AllocData(c *sim.Ctx) uint64 {
	flags := c.SpinLockIrqsave(l.lock)
	data := l.ring.AllocData(c)
	c.SpinUnlockIrqrestore(l.lock, flags)
	return data
}

// FreeData implements Pool.
func (l *Locked) FreeData(c *sim.Ctx, data uint64) {
	flags := c.SpinLockIrqsave(l.lock)
	l.ring.FreeData(c, data)
	c.SpinUnlockIrqrestore(l.lock, flags)
}

// Slots implements Pool.
func (l *Locked) Slots() []uint64 { return l.ring.Slots() }
