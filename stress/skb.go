package stress

import (
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/kernelsim/lfsim/native"
	"github.com/kernelsim/lfsim/pool/qmempoolnative"
	"github.com/kernelsim/lfsim/scenario"
)

// skbLoad is the skb scenario's workload with qmempool: every CPU id is
// one goroutine that, in turn, receives a burst of packets in softirq
// (an object from the pool for each, handed to the next CPU) and frees
// the packets handed to it, in softirq or from task context (bottom
// halves disabled by the pool) as the scenario's free says. One goroutine
// per CPU id keeps each per-CPU queue single-producer, single-consumer.
type skbLoad struct {
	cpus, burst, packets      int
	localq, sharedq, prealloc int
	free                      string
}

func newSKBLoad(v scenario.Values) (workload, error) {
	if v["pool"] != "qmempool" {
		return nil, fmt.Errorf("pool=%s: stress runs skb with pool=qmempool (ring2005 has its own scenario)", v["pool"])
	}
	if v.Int("fails") != 0 {
		return nil, fmt.Errorf("fails=%d: stress does not inject allocation failures", v.Int("fails"))
	}
	l := &skbLoad{cpus: v.Int("cpus"), burst: v.Int("burst"), packets: v.Int("packets"),
		localq: v.Int("localq"), sharedq: v.Int("sharedq"), prealloc: v.Int("prealloc"), free: v["free"]}
	if _, _, err := l.pool(native.NewMachine(l.cpus)); err != nil {
		return nil, err
	}
	return l, nil
}

// pool makes the round's pool on m, over a cache of its own.
func (l *skbLoad) pool(m *native.Machine) (*qmempoolnative.Pool, *native.KmemCache, error) {
	kc := m.KmemCacheCreate("skbuff_head_cache", 1)
	p, err := qmempoolnative.New(m, qmempoolnative.Config{LocalQ: l.localq, SharedQ: l.sharedq, Prealloc: l.prealloc, Kmem: kc})
	return p, kc, err
}

func (l *skbLoad) note() string {
	return "a CPU id receives and frees in turn on one goroutine: no NIC interrupt lands in the middle of a free"
}

func (l *skbLoad) round(r *round) int64 {
	m := native.NewMachine(l.cpus)
	p, kc, err := l.pool(m)
	if err != nil {
		panic(err) // checked in newSKBLoad
	}
	r.goAll(1, func(int) {
		if err := p.Prealloc(m.CPU(0), native.GFPKernel); err != nil {
			panic(err)
		}
	})
	if r.failure() != nil {
		return 0
	}
	quota, boxes := mailboxes[uint64](l.packets, l.cpus)
	// The slab makes the preallocated objects, then at most one object
	// and RefillMultiplier bulks of refill per packet (a slab miss).
	owned := newHolders(l.prealloc + l.packets*(1+qmempoolnative.RefillMultiplier*qmempoolnative.Bulk))
	var calls atomic.Int64
	r.goAll(l.cpus, func(cpu int) {
		c := m.CPU(cpu)
		out, in := boxes[(cpu+1)%l.cpus], boxes[cpu]
		received, toFree := 0, quota[(cpu+l.cpus-1)%l.cpus]
		for turn := 0; (received < quota[cpu] || toFree > 0) && !r.stop.Load(); turn++ {
			c.Softirq(func(c *native.Ctx) { // NET_RX: one NAPI poll
				for range min(l.burst, quota[cpu]-received) {
					obj := p.Alloc(c, native.GFPAtomic)
					owned.take(c, obj)
					out <- obj
					received++
					calls.Add(1)
				}
			})
			softirq := l.free == "softirq" || (l.free == "mixed" && turn%2 == 0)
			for toFree > 0 {
				var obj uint64
				select {
				case obj = <-in:
				default:
				}
				if obj == 0 {
					break
				}
				owned.release(c, obj)
				if softirq {
					c.Softirq(func(c *native.Ctx) { p.Free(c, obj) })
				} else {
					p.Free(c, obj)
				}
				toFree--
				calls.Add(1)
			}
			runtime.Gosched() // the next turn may wait for another CPU's packets
		}
		if err := c.Balanced(); err != nil {
			c.Fail(native.KindBug, "%v", err)
		}
	})
	if r.failure() == nil {
		held, err := p.Holding()
		switch {
		case err != nil:
			r.fail(&native.Failure{Kind: scenario.KindCorruptQueue, CPU: -1, Msg: err.Error()})
		case len(held) != kc.Live():
			r.fail(&native.Failure{Kind: "leak", CPU: -1, Msg: fmt.Sprintf("%d objects allocated from the slab, %d in the pool after every packet was freed", kc.Live(), len(held))})
		}
	}
	return calls.Load()
}

// holders marks which objects are held by a packet, to catch one object
// handed out twice.
type holders struct{ held []atomic.Bool }

// newHolders tracks objects 1..n.
func newHolders(n int) *holders { return &holders{held: make([]atomic.Bool, n+1)} }

func (s *holders) take(c *native.Ctx, obj uint64) {
	switch {
	case obj == 0:
		c.Fail(native.KindNilDeref, "qmempool_alloc returned NULL")
	case obj >= uint64(len(s.held)):
		c.Fail(native.KindBug, "object #%d: more objects than the workload can need", obj)
	case s.held[obj].Swap(true):
		c.Fail(scenario.KindDoubleOwner, "object #%d handed out while a packet holds it", obj)
	}
}

func (s *holders) release(c *native.Ctx, obj uint64) {
	if !s.held[obj].Swap(false) {
		c.Fail(native.KindDoubleFree, "object #%d freed while no packet holds it", obj)
	}
}
