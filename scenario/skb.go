package scenario

import (
	"fmt"
	"strings"

	"github.com/kernelsim/lfsim/linearizability"
	"github.com/kernelsim/lfsim/pool/qmempool"
	"github.com/kernelsim/lfsim/pool/ring2005"
	"github.com/kernelsim/lfsim/sim"
)

// KindLeak names objects still allocated after the pool was torn down.
const KindLeak = "leak"

// bufPool is what the skb workload allocates its data buffers from.
type bufPool interface {
	alloc(c *sim.Ctx) uint64
	free(c *sim.Ctx, obj uint64)
	// teardown runs once every packet has been freed (in task context).
	teardown(c *sim.Ctx)
	// holding lists the objects the pool still holds after teardown.
	holding() ([]uint64, error)
}

type slabPool struct{ kc *sim.KmemCache }

func (p slabPool) alloc(c *sim.Ctx) uint64 {
	return marked(c, "kmem_cache_alloc", func() uint64 { return c.KmemCacheAlloc(p.kc, sim.GFPAtomic) })
}

func (p slabPool) free(c *sim.Ctx, obj uint64) {
	markedFree(c, "kmem_cache_free", obj, func() { c.KmemCacheFree(p.kc, obj) })
}

func (p slabPool) teardown(*sim.Ctx)          {}
func (p slabPool) holding() ([]uint64, error) { return nil, nil }

// marked makes an allocation, marked in the trace as a call of the
// pool's function name with the buffer it returned.
func marked(c *sim.Ctx, name string, alloc func() uint64) uint64 {
	c.Call(name)
	b := alloc()
	if c.Tracing() {
		c.Return(bufRef(b))
	}
	return b
}

// markedFree frees b, marked in the trace as a call of name.
func markedFree(c *sim.Ctx, name string, b uint64, free func()) {
	if c.Tracing() {
		c.Call(name, bufRef(b))
	}
	free()
	c.Return()
}

// bufRef is a buffer as a trace shows it: #3, or NULL.
type bufRef uint64

func (b bufRef) String() string {
	if b == 0 {
		return "NULL"
	}
	return fmt.Sprintf("#%d", uint64(b))
}

// ringPool is the 2005 ring in front of the slab (its kmalloc fallback).
type ringPool struct {
	ring *ring2005.Ring
	kc   *sim.KmemCache
}

func (p ringPool) Kmalloc(c *sim.Ctx) uint64    { return c.KmemCacheAlloc(p.kc, sim.GFPAtomic) }
func (p ringPool) Kfree(c *sim.Ctx, obj uint64) { c.KmemCacheFree(p.kc, obj) }
func (p ringPool) alloc(c *sim.Ctx) uint64 {
	return marked(c, "alloc_skb", func() uint64 { return p.ring.AllocData(c) })
}

func (p ringPool) free(c *sim.Ctx, obj uint64) {
	markedFree(c, "kfree_skbmem", obj, func() { p.ring.FreeData(c, obj) })
}

func (p ringPool) teardown(*sim.Ctx)          {}
func (p ringPool) holding() ([]uint64, error) { return p.ring.Slots(), nil }

type qmemPool struct {
	pool    *qmempool.Pool
	softirq bool // use the _softirq variants
}

func (p qmemPool) alloc(c *sim.Ctx) uint64 {
	if p.softirq {
		return marked(c, "qmempool_alloc_softirq", func() uint64 { return p.pool.AllocSoftirq(c, sim.GFPAtomic) })
	}
	return marked(c, "qmempool_alloc", func() uint64 { return p.pool.Alloc(c, sim.GFPAtomic) })
}

func (p qmemPool) free(c *sim.Ctx, obj uint64) {
	if p.softirq {
		markedFree(c, "qmempool_free_softirq", obj, func() { p.pool.FreeSoftirq(c, obj) })
		return
	}
	markedFree(c, "qmempool_free", obj, func() { p.pool.Free(c, obj) })
}

func (p qmemPool) teardown(c *sim.Ctx)        { p.pool.Destroy(c) }
func (p qmemPool) holding() ([]uint64, error) { return p.pool.Holding() }

// skbLoad is the workload qmempool was built for: NAPI receive in softirq
// allocating data buffers in bursts on every CPU and handing each packet to
// the next CPU, where it is freed by transmit completion (NET_TX softirq)
// or by a socket reader in task context with bottom halves disabled.
// Every packet writes its number into its buffer when received and checks
// it when freed, so two owners of one buffer are caught even if nothing
// else notices; every alloc and free is recorded for the pool model.
type skbLoad struct {
	pool    bufPool
	rx      *nicSet
	boxes   []txBox
	hist    linearizability.PoolHistory
	readers *sim.Cell // readers finished
}

// txBox is one CPU's packets to free: published by the previous CPU's
// NAPI poll, freed by this CPU's reader or NET_TX.
type txBox struct {
	mailbox
	expect  *sim.Cell // packets that will come (fewer when the NIC drops some)
	freed   *sim.Cell // packets freed so far
	bufs    []uint64  // by position: the packet's buffer
	softirq bool      // freed by NET_TX, not by the reader
}

func skbParams() []Param {
	return []Param{
		{Name: "pool", Doc: "what data buffers come from", Default: "qmempool", Choices: []string{"qmempool", "slab", "ring2005"}},
		{Name: "cpus", Doc: "CPUs; each receives and frees", Default: "2", Min: 1, Max: sim.MaxCPUs},
		{Name: "burst", Doc: "packets per NIC interrupt and NAPI poll (a NIC ring cleanup: up to 256)", Default: "16", Min: 1, Max: 256, Shrink: true},
		{Name: "packets", Doc: "packets received in all", Default: "64", Min: 1, Max: 100_000, Shrink: true},
		{Name: "free", Doc: "who frees: NET_TX softirq, socket reader task, or each CPU in turn", Default: "mixed", Choices: []string{"softirq", "task", "mixed"}},
		{Name: "localq", Doc: "qmempool per-CPU queue size", Default: "16", Min: 16, Max: 65536},
		{Name: "sharedq", Doc: "qmempool shared queue size", Default: "64", Min: 32, Max: 65536},
		{Name: "prealloc", Doc: "qmempool objects preallocated", Default: "32", Min: 0, Max: 65536, Shrink: true},
		{Name: "ring", Doc: "ring2005 slots", Default: "64", Min: 1, Max: ring2005.MaxPoolSize},
		{Name: "fails", Doc: "allocations the strategy may make fail (the NIC drops those packets)", Default: "0", Min: 0, Max: 100_000, Shrink: true},
		{Name: "senders", Doc: "alloc+free pairs each of cpus tasks, free to migrate, makes from task context while NET_RX uses the pool", Default: "0", Min: 0, Max: 10_000, Shrink: true},
	}
}

func validatePool(v Values) error {
	for _, name := range []string{"localq", "sharedq"} {
		if n := v.Int(name); n&(n-1) != 0 {
			return fmt.Errorf("%s=%d: want a power of two", name, n)
		}
	}
	if v.Int("prealloc") > v.Int("sharedq") {
		return fmt.Errorf("prealloc=%d: at most sharedq=%d", v.Int("prealloc"), v.Int("sharedq"))
	}
	return nil
}

func skbScenario() *Scenario {
	return &Scenario{
		Name:          "skb",
		Summary:       "NAPI receive allocating skb data buffers in bursts, freed on the next CPU from NET_TX or a socket reader (passes with qmempool or slab, crashes with ring2005)",
		Params:        skbParams(),
		CPUs:          func(v Values) int { return v.Int("cpus") },
		Validate:      validatePool,
		Units:         func(v Values) int { return v.Int("packets") + v.Int("cpus")*v.Int("senders") },
		AllocFailures: func(v Values) int { return v.Int("fails") },
		Build:         buildSKB,
	}
}

func newBufPool(m *sim.Machine, v Values, kc *sim.KmemCache, softirqVariants bool) bufPool {
	switch v["pool"] {
	case "slab":
		return slabPool{kc}
	case "ring2005":
		p := ringPool{kc: kc}
		p.ring = ring2005.New(m, v.Int("ring"), p)
		return p
	}
	pool, err := qmempool.New(m, qmempool.Config{LocalQ: v.Int("localq"), SharedQ: v.Int("sharedq"), Prealloc: v.Int("prealloc"), Kmem: kc, Debug: true})
	if err != nil {
		panic(err) // Validate has ruled this out
	}
	return qmemPool{pool: pool, softirq: softirqVariants}
}

func buildSKB(m *sim.Machine, v Values) Check {
	cpus, burst, packets := v.Int("cpus"), v.Int("burst"), v.Int("packets")
	kc := m.KmemCacheCreate("skbuff_data", 2)
	m.ScopeCosts()
	l := &skbLoad{boxes: make([]txBox, cpus),
		readers: m.NewCell("readers_done", sim.W32, 0)}
	l.pool = newBufPool(m, v, kc, false)
	m.OpenSoftirq(sim.NetRxSoftirq, l.napiPoll)
	m.OpenSoftirq(sim.NetTxSoftirq, l.txCompletion)
	for c := range cpus {
		b := &l.boxes[c]
		b.published = m.NewCell(fmt.Sprintf("txq%d.published", c), sim.W32, 0)
		b.freed = m.NewCell(fmt.Sprintf("txq%d.freed", c), sim.W32, 0)
		b.softirq = v["free"] == "softirq" || (v["free"] == "mixed" && c%2 == 1)
	}
	l.rx = newNICs(m, packets, burst)
	for c := range cpus {
		from := (c + cpus - 1) % cpus
		l.boxes[c].expect = m.NewCell(fmt.Sprintf("txq%d.expect", c), sim.W32, uint64(l.rx.cpu[from].quota))
		m.Go(fmt.Sprintf("reader/%d", c), c, func(ctx *sim.Ctx) { l.reader(ctx, c) })
	}
	if q, ok := l.pool.(qmemPool); ok {
		m.Init("qmempool_create", func(c *sim.Ctx) {
			c.BugOn(q.pool.Prealloc(c, sim.GFPKernel) != nil, "qmempool_create: prealloc failed")
		})
	}
	senders := v.Int("senders")
	tasks := cpus
	if senders > 0 {
		tasks += cpus
		for s := range cpus {
			m.Go(fmt.Sprintf("sender/%d", s), sim.Any, func(c *sim.Ctx) { l.sender(c, packets+1+s*senders, senders) })
		}
	}
	m.Go("pooldestroy", 0, func(c *sim.Ctx) {
		for c.ReadOnce(l.readers) != uint64(tasks) {
			c.CpuRelax()
		}
		l.pool.teardown(c)
	})
	return func() *sim.Failure { return l.check(m) }
}

// napiPoll is NET_RX: each packet polled gets a buffer, writes its number
// into it, and goes to the next CPU.
func (l *skbLoad) napiPoll(c *sim.Ctx) {
	box := &l.boxes[(c.RawSmpProcessorID()+1)%len(l.boxes)]
	l.rx.poll(c, func(pkt int) {
		var buf uint64
		l.hist.Alloc(c, pkt+1, func() uint64 {
			c.Account(func() { buf = l.pool.alloc(c) })
			return buf
		})
		if buf == 0 {
			// The NIC drops the packet; the next CPU expects one fewer.
			c.Annotate("packet %d dropped: no buffer", pkt)
			c.AtomicAddReturn(box.expect, -1)
			return
		}
		c.Store(c.Machine().Object(buf).Word(0), uint64(pkt+1)) // receive into it
		box.pkts = append(box.pkts, pkt)
		box.bufs = append(box.bufs, buf)
		c.SmpStoreRelease(box.published, uint64(len(box.pkts)))
	})
}

// freeUpTo frees this CPU's packets up to published and returns how many
// are freed. Each packet checks its buffer still holds its number.
func (l *skbLoad) freeUpTo(c *sim.Ctx, box *txBox, done, published int) int {
	for ; done < published; done++ {
		pkt, buf := box.pkts[done], box.bufs[done]
		if got := c.Load(c.Machine().Object(buf).Word(0)); got != uint64(pkt+1) {
			c.Fail(KindDoubleOwner, "packet %d's buffer #%d holds packet %d's data: two packets own one buffer", pkt, buf, int(got)-1)
		}
		l.hist.Free(c, pkt+1, buf, func() { c.Account(func() { l.pool.free(c, buf) }) })
	}
	c.WriteOnce(box.freed, uint64(done))
	return done
}

// txCompletion is NET_TX: free what the reader handed over.
func (l *skbLoad) txCompletion(c *sim.Ctx) {
	box := &l.boxes[c.RawSmpProcessorID()]
	if !box.softirq {
		return
	}
	l.freeUpTo(c, box, int(c.ReadOnce(box.freed)), int(c.SmpLoadAcquire(box.published)))
}

// reader is CPU cpu's socket reader: it frees its packets itself (bottom
// halves disabled around the frees) or leaves them to NET_TX, until all
// expected packets are freed.
func (l *skbLoad) reader(c *sim.Ctx, cpu int) {
	box := &l.boxes[cpu]
	for {
		published := int(c.SmpLoadAcquire(box.published))
		freed := int(c.ReadOnce(box.freed))
		if freed == int(c.ReadOnce(box.expect)) && published == freed {
			break
		}
		if published > freed {
			if box.softirq {
				c.RaiseSoftirq(sim.NetTxSoftirq)
			} else {
				c.LocalBhDisable()
				l.freeUpTo(c, box, freed, published)
				c.LocalBhEnable()
				continue
			}
		}
		c.CpuRelax()
	}
	c.AtomicAddReturn(l.readers, 1)
}

// sender makes n alloc+free pairs from task context, holders first,
// first+1, ...: the pool disables bottom halves around each call, on
// whichever CPU the task runs on then, while NET_RX there uses the pool.
func (l *skbLoad) sender(c *sim.Ctx, first, n int) {
	for id := first; id < first+n; id++ {
		var buf uint64
		l.hist.Alloc(c, id, func() uint64 {
			c.Account(func() { buf = l.pool.alloc(c) })
			return buf
		})
		if buf == 0 {
			continue // an injected failure: nothing to free
		}
		word := c.Machine().Object(buf).Word(0)
		c.Store(word, uint64(id))
		if got := c.Load(word); got != uint64(id) {
			c.Fail(KindDoubleOwner, "sender %d's buffer #%d holds holder %d's data: two holders own one buffer", id, buf, got)
		}
		l.hist.Free(c, id, buf, func() { c.Account(func() { l.pool.free(c, buf) }) })
	}
	c.AtomicAddReturn(l.readers, 1)
}

// check: every buffer back where it belongs, and the pool model.
func (l *skbLoad) check(m *sim.Machine) *sim.Failure {
	pooled, err := l.pool.holding()
	if err != nil {
		return sim.Failf(KindCorruptQueue, "%v", err)
	}
	held := map[uint64]bool{}
	for _, obj := range pooled {
		held[obj] = true
	}
	var leaks []string
	for _, obj := range m.Live() {
		if !held[obj.Handle()] {
			leaks = append(leaks, obj.String())
		}
	}
	if len(leaks) > 0 {
		return sim.Failf(KindLeak, "%d object(s) neither freed nor in the pool: %s", len(leaks), strings.Join(leaks, "; "))
	}
	return poolVerdict(&l.hist)
}

// qmempoolHardirqScenario: a socket reader allocates and frees through
// qmempool in task context (bottom halves disabled by the pool), and a
// device's hardirq handler on the same CPU does the same through the
// _softirq variants, as a driver that trusts them might. The handler can
// come while the task is inside the pool, on the same per-CPU queue.
func qmempoolHardirqScenario() *Scenario {
	return &Scenario{
		Name:    "qmempool-hardirq",
		Summary: "qmempool used from a hardirq handler while the task it interrupted is inside the pool (fails)",
		Fails:   true,
		Params: []Param{
			{Name: "ops", Doc: "alloc+free pairs the task makes", Default: "8", Min: 1, Max: 10_000, Shrink: true},
			{Name: "fires", Doc: "interrupts", Default: "4", Min: 1, Max: 10_000, Shrink: true},
			{Name: "prealloc", Doc: "objects qmempool_create preallocates", Default: "16", Min: 0, Max: 32, Shrink: true},
			{Name: "variant", Doc: "what the handler calls: the _softirq variants, or the checked ones", Default: "softirq", Choices: []string{"softirq", "checked"}},
		},
		CPUs: func(Values) int { return 1 },
		Build: func(m *sim.Machine, v Values) Check {
			kc := m.KmemCacheCreate("skbuff_data", 2)
			pool, err := qmempool.New(m, qmempool.Config{LocalQ: 16, SharedQ: 32, Prealloc: v.Int("prealloc"), Kmem: kc, Debug: true})
			if err != nil {
				panic(err)
			}
			var hist linearizability.PoolHistory
			holder := 0
			use := func(c *sim.Ctx, p qmemPool) {
				holder++
				h := holder
				obj := hist.Alloc(c, h, func() uint64 { return p.alloc(c) })
				if obj == 0 {
					return
				}
				c.Store(c.Machine().Object(obj).Word(0), uint64(h))
				if got := c.Load(c.Machine().Object(obj).Word(0)); got != uint64(h) {
					c.Fail(KindDoubleOwner, "buffer #%d holds holder %d's data, not %d's: two holders", obj, got, h)
				}
				hist.Free(c, h, obj, func() { p.free(c, obj) })
			}
			m.Init("qmempool_create", func(c *sim.Ctx) {
				c.BugOn(pool.Prealloc(c, sim.GFPKernel) != nil, "qmempool_create: prealloc failed")
			})
			m.Go("sockread", 0, func(c *sim.Ctx) {
				for range v.Int("ops") {
					use(c, qmemPool{pool: pool})
				}
			})
			m.RequestIRQ(0, "dev", v.Int("fires"), func(c *sim.Ctx) {
				use(c, qmemPool{pool: pool, softirq: v["variant"] == "softirq"})
			})
			return func() *sim.Failure { return poolVerdict(&hist) }
		},
	}
}

// poolVerdict checks a pool history against the pool specification; a
// check that cannot decide is a failure of its own kind, never a pass.
func poolVerdict(h *linearizability.PoolHistory) *sim.Failure {
	h.About = linearizability.About{
		Title:   "the skb workload's pool",
		Spec:    "pool",
		Results: "alloc -> #n handed out object n, which no one else may hold until it is freed; free(#n) gave it back. Rows are holders: packets, or the tasks that alloc and free.",
	}
	r := h.Check()
	switch r.Verdict {
	case linearizability.Illegal:
		f := sim.Failf(KindNotLinearizable, "the %d allocs and frees do not fit the pool specification: %s", len(h.Ops), r.Reason)
		f.Attach = r.WriteHTML
		return f
	case linearizability.Undecided:
		return sim.Failf(KindCheckUndecided, "%s", r.Reason)
	}
	return nil
}
