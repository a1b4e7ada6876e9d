package scenario

import (
	"fmt"

	"github.com/kernelsim/lfsim/pool/ring2005"
	"github.com/kernelsim/lfsim/sim"
)

// Failure kinds the buffer ledger names, besides the allocator's
// sim.KindDoubleFree and sim.KindUseAfterFree: the ways the 2005 ring
// crashes a kernel, told apart.
const (
	KindDoubleOwner = "double-owner" // one data buffer handed to two packets at once
	KindLostBuffer  = "lost-buffer"  // neither in the ring, owned, nor freed
)

func ring2005Scenario(locked bool) *Scenario {
	s := &Scenario{
		Name:    "ring2005",
		Summary: "the 2005 skb data-buffer recycle ring under heavy receive/free load (crashes)",
		Fails:   true,
	}
	if locked {
		s.Name = "ring2005-locked"
		s.Summary = "the same workload on the ring with both paths under spin_lock_irqsave (passes)"
		s.Fails = false
	}
	s.Params = []Param{
		{Name: "cpus", Doc: "CPUs; each receives in softirq and frees in a task", Default: "2", Min: 1, Max: sim.MaxCPUs},
		{Name: "ring", Doc: "ring slots (the original: 4096)", Default: "8", Min: 1, Max: ring2005.MaxPoolSize},
		{Name: "burst", Doc: "packets per NIC interrupt and per NAPI poll", Default: "8", Min: 1, Max: 256},
		{Name: "packets", Doc: "packets received in all", Default: "64", Min: 1, Max: 100_000, Shrink: true},
		{Name: "irqs", Doc: "firings per CPU of a device hardirq that takes a data buffer from the ring and gives it back", Default: "0", Min: 0, Max: 10_000, Shrink: true},
	}
	s.CPUs = func(v Values) int { return v.Int("cpus") }
	s.Build = func(m *sim.Machine, v Values) Check { return buildRing2005(m, v, locked) }
	return s
}

// The workload: every CPU has a NIC whose hardirq announces a burst of
// packets and raises NET_RX; the NET_RX softirq (NAPI poll) takes a data
// buffer for each packet from the pool and hands the packet to the next
// CPU, whose socket-reader task frees the buffer. Receive on one CPU and
// free on another, concurrently on every CPU, in bursts that fill and
// drain the ring: the heavy load of the 2005 report.
type ring2005Load struct {
	pool   ring2005.Pool
	ledger *ledger
	rx     *nicSet
	boxes  []mailbox // boxes[c]: packets for CPU c's reader
}

// nic is one CPU's receive side: packets announced by its interrupts and
// not yet polled, and how many it will receive in the run.
type nic struct {
	quota, announced, polled int
}

// nicSet is every CPU's NIC: its hardirq announces a burst of packets and
// raises NET_RX, whose NAPI poll takes them in.
type nicSet struct {
	burst int
	cpu   []nic
	next  int // the next packet's number
}

// newNICs spreads packets over the CPUs' NICs and requests their
// interrupts, as many as it takes to announce them all.
func newNICs(m *sim.Machine, packets, burst int) *nicSet {
	n := &nicSet{burst: burst, cpu: make([]nic, m.CPUs())}
	for c := range n.cpu {
		n.cpu[c].quota = packets / len(n.cpu)
		if c < packets%len(n.cpu) {
			n.cpu[c].quota++
		}
		m.RequestIRQ(c, "nic", (n.cpu[c].quota+burst-1)/burst, n.irq)
	}
	return n
}

// irq is the NIC's hardirq: a burst of packets arrived; schedule NAPI.
func (n *nicSet) irq(c *sim.Ctx) {
	nic := &n.cpu[c.RawSmpProcessorID()]
	nic.announced = min(nic.announced+n.burst, nic.quota)
	c.RaiseSoftirq(sim.NetRxSoftirq)
}

// poll is the NAPI poll on the CPU c runs on: up to one burst of the
// packets its NIC announced, each numbered and passed to receive, and
// NET_RX raised again while more are waiting.
func (n *nicSet) poll(c *sim.Ctx, receive func(pkt int)) {
	c.Ghost()
	nic := &n.cpu[c.RawSmpProcessorID()]
	for budget := n.burst; budget > 0 && nic.polled < nic.announced; budget-- {
		pkt := n.next
		n.next++
		nic.polled++
		receive(pkt)
	}
	if nic.polled < nic.announced {
		c.RaiseSoftirq(sim.NetRxSoftirq)
	}
}

// mailbox hands packets from one CPU's NAPI poll to the next CPU's reader:
// single producer, single consumer, published with a release store.
type mailbox struct {
	published *sim.Cell
	pkts      []int
}

func buildRing2005(m *sim.Machine, v Values, locked bool) Check {
	cpus, burst, packets := v.Int("cpus"), v.Int("burst"), v.Int("packets")
	irqs := v.Int("irqs")
	l := &ring2005Load{ledger: newLedger(packets + cpus*irqs), boxes: make([]mailbox, cpus)}
	if locked {
		l.pool = ring2005.NewLocked(m, v.Int("ring"), l.ledger)
	} else {
		l.pool = ring2005.New(m, v.Int("ring"), l.ledger)
	}
	m.OpenSoftirq(sim.NetRxSoftirq, l.netRxAction)
	for c := range cpus {
		l.boxes[c].published = m.NewCell(fmt.Sprintf("rxq%d.published", c), sim.W32, 0)
	}
	l.rx = newNICs(m, packets, burst)
	for c := range cpus {
		from := (c + cpus - 1) % cpus
		m.Go(fmt.Sprintf("reader/%d", c), c, func(ctx *sim.Ctx) { l.reader(ctx, c, l.rx.cpu[from].quota) })
	}
	for c := range cpus {
		fired := 0
		m.RequestIRQ(c, "dev", irqs, func(ctx *sim.Ctx) {
			// Each firing is a packet of its own, numbered after the NICs'.
			pkt := packets + c*irqs + fired
			fired++
			l.ledger.take(ctx, pkt, l.allocData(ctx))
			l.freeData(ctx, l.ledger.release(ctx, pkt))
		})
	}
	return func() *sim.Failure { return l.ledger.check(l.pool.Slots()) }
}

// netRxAction is NET_RX: each packet polled gets a data buffer and goes
// to the next CPU's reader.
func (l *ring2005Load) netRxAction(c *sim.Ctx) {
	box := &l.boxes[(c.RawSmpProcessorID()+1)%len(l.boxes)]
	l.rx.poll(c, func(pkt int) {
		data := l.allocData(c)
		l.ledger.take(c, pkt, data)
		box.pkts = append(box.pkts, pkt)
		c.SmpStoreRelease(box.published, uint64(len(box.pkts)))
	})
}

// allocData is alloc_skb's use of the ring, marked in the trace.
func (l *ring2005Load) allocData(c *sim.Ctx) uint64 {
	return marked(c, "alloc_skb", func() uint64 { return l.pool.AllocData(c) })
}

// freeData is kfree_skbmem's use of the ring, marked in the trace.
func (l *ring2005Load) freeData(c *sim.Ctx, data uint64) {
	markedFree(c, "kfree_skbmem", data, func() { l.pool.FreeData(c, data) })
}

// reader is the socket reader on CPU cpu: it frees the data buffer of
// every packet handed to it, until it has seen all of them.
func (l *ring2005Load) reader(c *sim.Ctx, cpu, expect int) {
	box := &l.boxes[cpu]
	for done := 0; done < expect; {
		published := int(c.SmpLoadAcquire(box.published))
		if published == done {
			c.CpuRelax()
			continue
		}
		for ; done < published; done++ {
			pkt := box.pkts[done]
			data := l.ledger.release(c, pkt)
			l.freeData(c, data)
		}
	}
}

// ledger is the checker's shadow of every data buffer: who owns it, and
// whether it went back to the real allocator. It sees what the kernel
// would not (two owners at the moment the second takes the buffer) and
// names each way the ring can crash.
type ledger struct {
	owner  []int    // by buffer: owning packet + 1, 0 for none
	kfreed []bool   // by buffer
	bufOf  []uint64 // by packet: the buffer it owns
}

func newLedger(packets int) *ledger {
	return &ledger{owner: []int{0}, kfreed: []bool{false}, bufOf: make([]uint64, packets)}
}

// Kmalloc implements ring2005.Allocator: a fresh buffer.
func (g *ledger) Kmalloc(c *sim.Ctx) uint64 {
	c.Ghost()
	g.owner = append(g.owner, 0)
	g.kfreed = append(g.kfreed, false)
	b := uint64(len(g.owner) - 1)
	c.Annotate("kmalloc -> #%d", b)
	return b
}

// Kfree implements ring2005.Allocator.
func (g *ledger) Kfree(c *sim.Ctx, b uint64) {
	c.Ghost()
	if g.kfreed[b] {
		c.Fail(sim.KindDoubleFree, "buffer #%d is kfree'd a second time", b)
	}
	g.kfreed[b] = true
	c.Annotate("kfree #%d", b)
}

// take gives buffer b to packet pkt, which writes its data into it.
func (g *ledger) take(c *sim.Ctx, pkt int, b uint64) {
	c.Ghost()
	switch {
	case b == 0:
		c.Fail(sim.KindNilDeref, "packet %d got a NULL data buffer from the ring (the slot was emptied by someone else between the check and the read); receiving into it dereferences NULL", pkt)
	case g.kfreed[b]:
		c.Fail(sim.KindUseAfterFree, "packet %d got buffer #%d, which was already kfree'd", pkt, b)
	case g.owner[b] != 0:
		c.Fail(KindDoubleOwner, "packet %d got buffer #%d, which packet %d still owns: two packets share one data buffer", pkt, b, g.owner[b]-1)
	}
	g.owner[b] = pkt + 1
	g.bufOf[pkt] = b
	c.Annotate("packet %d receives into #%d", pkt, b)
}

// release ends packet pkt's ownership of its buffer and returns it.
func (g *ledger) release(c *sim.Ctx, pkt int) uint64 {
	c.Ghost()
	b := g.bufOf[pkt]
	if g.owner[b] != pkt+1 {
		c.Fail(sim.KindDoubleFree, "packet %d frees buffer #%d, which it no longer owns", pkt, b)
	}
	g.owner[b] = 0
	c.Annotate("packet %d done, frees #%d", pkt, b)
	return b
}

// check runs at the end of a clean run, when every packet has been freed.
func (g *ledger) check(slots []uint64) *sim.Failure {
	kind, msg := RingLeftovers(slots, len(g.owner)-1,
		func(b int) bool { return g.kfreed[b] }, func(b int) bool { return g.owner[b] != 0 })
	if kind == "" {
		return nil
	}
	return sim.Failf(kind, "%s", msg)
}

// RingLeftovers is the end-of-run check of a 2005 ring workload, on the
// simulated machine or the real one: each of the buffers 1..buffers must
// be either in exactly one ring slot or kfree'd (kfreed), unless a packet
// still owns it (owned). It returns the kind and a description of the
// first kind of violation, or "", "".
func RingLeftovers(slots []uint64, buffers int, kfreed, owned func(b int) bool) (kind, msg string) {
	where := make([][]int, buffers+1)
	for i, b := range slots {
		if b != 0 {
			where[b] = append(where[b], i)
		}
	}
	var uaf, twice, lost []string
	for b := 1; b <= buffers; b++ {
		switch {
		case kfreed(b) && len(where[b]) > 0:
			uaf = append(uaf, fmt.Sprintf("buffer #%d was kfree'd but is still in ring slot %d", b, where[b][0]))
		case len(where[b]) > 1:
			twice = append(twice, fmt.Sprintf("buffer #%d is in ring slots %v: the ring will hand it to two packets", b, where[b]))
		case !kfreed(b) && len(where[b]) == 0 && !owned(b):
			lost = append(lost, fmt.Sprintf("buffer #%d is neither in the ring, nor owned, nor freed (leaked)", b))
		}
	}
	for _, found := range []struct {
		kind string
		msgs []string
	}{{sim.KindUseAfterFree, uaf}, {KindDoubleOwner, twice}, {KindLostBuffer, lost}} {
		if len(found.msgs) > 0 {
			msg := found.msgs[0]
			if len(found.msgs) > 1 {
				msg += fmt.Sprintf(" (and %d more like it)", len(found.msgs)-1)
			}
			return found.kind, msg
		}
	}
	return "", ""
}
