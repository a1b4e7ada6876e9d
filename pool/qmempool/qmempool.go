// Package qmempool is the quick queue-based memory pool of the December
// 2014 RFC, ported to the simulated machine: a cache of fixed-size objects
// in front of a kmem_cache, made of one shared MPMC alf_queue and one
// alf_queue per CPU used through SP/SC by that CPU only. The port keeps
// every BUG_ON and the original's shortcuts (several CPUs may refill at
// once, a full shared queue on refill is a BUG, a slab failure part-way
// through a refill batch enqueues one object fewer than it allocated): the
// checker's job is to find out what the original does under load.
//
// The pool is meant for softirq context. Alloc and Free check
// in_serving_softirq and otherwise disable bottom halves around their work
// (which also keeps the task on its CPU); the _softirq variants skip the
// check and trust the caller. Hardirq context is forbidden and not checked.
package qmempool

import (
	"fmt"

	"github.com/kernelsim/lfsim/queue/alf"
	"github.com/kernelsim/lfsim/sim"
)

// The original's constants.
const (
	Bulk             = 16 // QMEMPOOL_BULK
	RefillMultiplier = 2  // QMEMPOOL_REFILL_MULTIPLIER
)

// Config is what qmempool_create takes.
type Config struct {
	LocalQ   int // per-CPU queue size: a power of two, at least 16
	SharedQ  int // shared queue size: a power of two, at least 32
	Prealloc int // objects taken from the slab at creation, at most SharedQ
	Kmem     *sim.KmemCache
	// Debug turns on the alf_queue SP/SC debug assertions on the per-CPU
	// queues.
	Debug bool
}

// Pool is struct qmempool.
type Pool struct {
	sharedq  *alf.Queue
	localq   []*alf.Queue
	kmem     *sim.KmemCache
	prealloc int
	// Warning is the creation warning, if any (a prealloc that is not a
	// multiple of Bulk only warns).
	Warning string
}

// New is the part of qmempool_create that needs no scheduling: it checks
// the rules and makes the queues. Prealloc then fills the pool.
func New(m *sim.Machine, cfg Config) (*Pool, error) {
	switch {
	case cfg.Kmem == nil:
		return nil, fmt.Errorf("qmempool: no backing kmem_cache")
	case cfg.LocalQ < 16 || cfg.LocalQ&(cfg.LocalQ-1) != 0:
		return nil, fmt.Errorf("qmempool: localq size %d: want a power of two of at least 16", cfg.LocalQ)
	case cfg.SharedQ < 32 || cfg.SharedQ&(cfg.SharedQ-1) != 0:
		return nil, fmt.Errorf("qmempool: sharedq size %d: want a power of two of at least 32", cfg.SharedQ)
	case cfg.Prealloc < 0 || cfg.Prealloc > cfg.SharedQ:
		return nil, fmt.Errorf("qmempool: prealloc %d: want 0..%d (the sharedq size)", cfg.Prealloc, cfg.SharedQ)
	}
	p := &Pool{kmem: cfg.Kmem, prealloc: cfg.Prealloc}
	if cfg.Prealloc%Bulk != 0 {
		p.Warning = fmt.Sprintf("qmempool: prealloc %d is not a multiple of %d", cfg.Prealloc, Bulk)
	}
	var err error
	if p.sharedq, err = alf.New(m, "sharedq", cfg.SharedQ, alf.Options{}); err != nil {
		return nil, err
	}
	for cpu := range m.CPUs() { // one per possible CPU
		q, err := alf.New(m, fmt.Sprintf("localq%d", cpu), cfg.LocalQ, alf.Options{Debug: cfg.Debug})
		if err != nil {
			return nil, err
		}
		p.localq = append(p.localq, q)
	}
	return p, nil
}

// Prealloc is the rest of qmempool_create: prealloc objects from the slab,
// one at a time, each pushed into sharedq with one MP enqueue (BUG if it
// fails).
func (p *Pool) Prealloc(c *sim.Ctx, gfp sim.GFP) error {
	for range p.prealloc {
		obj := c.KmemCacheAlloc(p.kmem, gfp)
		if obj == 0 {
			p.Destroy(c)
			return fmt.Errorf("qmempool: prealloc: kmem_cache_alloc failed")
		}
		num := p.sharedq.MPEnqueue(c, []uint64{obj})
		c.BugOn(num == 0, "qmempool: prealloc: sharedq full")
	}
	return nil
}

// Destroy is qmempool_destroy: every localq and the sharedq drained back
// to the slab, BUG if a queue is not empty afterwards. The pool must no
// longer be in use.
func (p *Pool) Destroy(c *sim.Ctx) {
	var objs [Bulk]uint64
	for _, q := range append(p.localq, p.sharedq) {
		for {
			num := q.MCDequeue(c, objs[:])
			if num == 0 {
				break
			}
			for _, obj := range objs[:num] {
				c.KmemCacheFree(p.kmem, obj)
			}
		}
		c.BugOn(!q.IsEmpty(c), "qmempool: destroy: queue not empty")
	}
}

// Alloc is qmempool_alloc: softirq context, or bottom halves disabled here.
func (p *Pool) Alloc(c *sim.Ctx, gfp sim.GFP) uint64 {
	if c.InServingSoftirq() {
		return p.AllocSoftirq(c, gfp)
	}
	c.LocalBhDisable()
	obj := p.AllocSoftirq(c, gfp)
	c.LocalBhEnable()
	return obj
}

// Free is qmempool_free: softirq context, or bottom halves disabled here.
func (p *Pool) Free(c *sim.Ctx, obj uint64) {
	if c.InServingSoftirq() {
		p.FreeSoftirq(c, obj)
		return
	}
	c.LocalBhDisable()
	p.FreeSoftirq(c, obj)
	c.LocalBhEnable()
}

// AllocSoftirq is qmempool_alloc_softirq: no context check; the caller is
// in softirq or has bottom halves disabled.
func (p *Pool) AllocSoftirq(c *sim.Ctx, gfp sim.GFP) uint64 {
	localq := p.localq[c.SmpProcessorID()]
	var objs [Bulk]uint64
	// 1. Fast path: this CPU's localq.
	if localq.SCDequeue(c, objs[:1]) == 1 {
		return objs[0]
	}
	// 2. A bulk from sharedq (one cmpxchg): keep the first, the rest to localq.
	num := p.sharedq.MCDequeue(c, objs[:])
	if num > 0 {
		if num > 1 {
			n := localq.SPEnqueue(c, objs[1:num])
			c.BugOn(n == 0, "qmempool: alloc: localq refill failed")
		}
		return objs[0]
	}
	// 3. The slab, still inside the protected section.
	return p.allocFromSlab(c, gfp)
}

// allocFromSlab is __qmempool_alloc_from_slab: one object to return, then
// RefillMultiplier batches of Bulk into sharedq. Several CPUs may refill at
// the same time, and a full sharedq is not handled (the original says so).
func (p *Pool) allocFromSlab(c *sim.Ctx, gfp sim.GFP) uint64 {
	obj := c.KmemCacheAlloc(p.kmem, gfp)
	if obj == 0 {
		return 0
	}
	for range RefillMultiplier {
		var objs [Bulk]uint64
		for j := range Bulk {
			objs[j] = c.KmemCacheAlloc(p.kmem, gfp)
			if objs[j] == 0 {
				// The original enqueues j-1 of the j objects it got. For
				// j == 0, (u32)(j-1) slots never fit: 0 either way.
				num := p.sharedq.MPEnqueue(c, objs[:max(j-1, 0)])
				c.BugOn(num == 0, "qmempool: refill after slab failure: sharedq enqueue of %d returned 0", max(j-1, 0))
				return obj
			}
		}
		num := p.sharedq.MPEnqueue(c, objs[:])
		c.BugOn(num == 0, "qmempool: refill: sharedq full")
	}
	return obj
}

// FreeSoftirq is qmempool_free_softirq: no context check.
func (p *Pool) FreeSoftirq(c *sim.Ctx, obj uint64) {
	localq := p.localq[c.SmpProcessorID()]
	// 1. Fast path: into this CPU's localq.
	if localq.SPEnqueue(c, []uint64{obj}) == 1 {
		return
	}
	// 2. localq full: this object and up to Bulk-1 from localq to sharedq.
	var objs [Bulk]uint64
	objs[0] = obj
	num := localq.SCDequeue(c, objs[1:])
	c.BugOn(num == 0, "qmempool: free: full localq gave nothing")
	if p.sharedq.MPEnqueue(c, objs[:num+1]) > 0 {
		return
	}
	// 3. sharedq full: those objects to the slab, then drain some of sharedq.
	for _, o := range objs[:num+1] {
		c.KmemCacheFree(p.kmem, o)
	}
	for range RefillMultiplier {
		n := p.sharedq.MCDequeue(c, objs[:])
		for _, o := range objs[:n] {
			c.KmemCacheFree(p.kmem, o)
		}
	}
}

// Holding returns the objects the pool holds, read outside the schedule
// (for end-of-run checks), or the error of a queue whose counters are
// corrupt.
func (p *Pool) Holding() ([]uint64, error) {
	var held []uint64
	for _, q := range append([]*alf.Queue{p.sharedq}, p.localq...) {
		vals, err := q.Peek()
		if err != nil {
			return nil, err
		}
		held = append(held, vals...)
	}
	return held, nil
}
