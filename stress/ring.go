package stress

import (
	"runtime"
	"sync/atomic"

	"github.com/kernelsim/lfsim/native"
	"github.com/kernelsim/lfsim/pool/ring2005native"
	"github.com/kernelsim/lfsim/scenario"
)

// ringLoad is the 2005 ring's workload: every CPU id is one goroutine
// that, in turn, receives a burst of packets (a data buffer from the ring
// for each, the packet handed to the next CPU) and frees the buffers of
// the packets handed to it back into the ring. As on the kernel, the
// CPUs run in parallel and each CPU does one thing at a time.
type ringLoad struct {
	cpus, size, burst, packets int
	locked                     bool
}

func newRingLoad(v scenario.Values, locked bool) *ringLoad {
	return &ringLoad{cpus: v.Int("cpus"), size: v.Int("ring"), burst: v.Int("burst"), packets: v.Int("packets"), locked: locked}
}

func (l *ringLoad) note() string {
	return "receive and free take turns on each CPU's goroutine: no NIC interrupt lands in the middle of a free"
}

func (l *ringLoad) round(r *round) int64 {
	m := native.NewMachine(l.cpus)
	g := newLedger(l.packets)
	var pool ring2005native.Pool
	if l.locked {
		pool = ring2005native.NewLocked(m, l.size, g)
	} else {
		pool = ring2005native.New(m, l.size, g)
	}
	quota, boxes := mailboxes[int](l.packets, l.cpus)
	var next atomic.Int64
	var calls atomic.Int64
	r.goAll(l.cpus, func(cpu int) {
		c := m.CPU(cpu)
		out, in := boxes[(cpu+1)%l.cpus], boxes[cpu]
		received, toFree := 0, quota[(cpu+l.cpus-1)%l.cpus]
		for (received < quota[cpu] || toFree > 0) && !r.stop.Load() {
			for range min(l.burst, quota[cpu]-received) { // NET_RX: one NAPI poll
				pkt := int(next.Add(1) - 1)
				data := pool.AllocData(c)
				g.take(c, pkt, data)
				out <- pkt
				received++
				calls.Add(1)
			}
			for freed := false; toFree > 0 && !freed; { // the reader: what has arrived
				select {
				case pkt := <-in:
					pool.FreeData(c, g.release(c, pkt))
					calls.Add(1)
					toFree--
				default:
					freed = true
				}
			}
			runtime.Gosched() // the next turn may wait for another CPU's packets
		}
	})
	if r.failure() == nil {
		kind, msg := scenario.RingLeftovers(pool.Slots(), int(g.made.Load()),
			func(b int) bool { return g.kfreed[b].Load() }, func(b int) bool { return g.owner[b].Load() != 0 })
		if kind != "" {
			r.fail(&native.Failure{Kind: kind, CPU: -1, Msg: msg})
		}
	}
	return calls.Load()
}

// ledger is the round's shadow of every data buffer, safe for concurrent
// use: who owns it, and whether it went back to the real allocator.
type ledger struct {
	made   atomic.Uint64
	owner  []atomic.Int64 // by buffer: owning packet + 1, 0 for none
	kfreed []atomic.Bool  // by buffer
	bufOf  []uint64       // by packet, written before the packet is handed on
}

// newLedger is the ledger of a round of packets: each takes a buffer from
// the ring or from Kmalloc, so there are at most as many buffers.
func newLedger(packets int) *ledger {
	return &ledger{owner: make([]atomic.Int64, packets+1), kfreed: make([]atomic.Bool, packets+1), bufOf: make([]uint64, packets)}
}

// Kmalloc implements ring2005native.Allocator: a fresh buffer.
func (g *ledger) Kmalloc(c *native.Ctx) uint64 { return g.made.Add(1) }

// Kfree implements ring2005native.Allocator.
func (g *ledger) Kfree(c *native.Ctx, b uint64) {
	if g.kfreed[b].Swap(true) {
		c.Fail(native.KindDoubleFree, "buffer #%d is kfree'd a second time", b)
	}
}

func (g *ledger) take(c *native.Ctx, pkt int, b uint64) {
	switch {
	case b == 0:
		c.Fail(native.KindNilDeref, "packet %d got a NULL data buffer from the ring", pkt)
	case g.kfreed[b].Load():
		c.Fail(native.KindUseAfterFree, "packet %d got buffer #%d, which was already kfree'd", pkt, b)
	case !g.owner[b].CompareAndSwap(0, int64(pkt+1)):
		c.Fail(scenario.KindDoubleOwner, "packet %d got buffer #%d, which packet %d still owns", pkt, b, g.owner[b].Load()-1)
	}
	g.bufOf[pkt] = b
}

func (g *ledger) release(c *native.Ctx, pkt int) uint64 {
	b := g.bufOf[pkt]
	if !g.owner[b].CompareAndSwap(int64(pkt+1), 0) {
		c.Fail(native.KindDoubleFree, "packet %d frees buffer #%d, which it no longer owns", pkt, b)
	}
	return b
}
