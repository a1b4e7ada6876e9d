package sim

import (
	"fmt"
	"strconv"
)

// The simulated kernel allocator: kmem_cache and kmalloc objects made of
// machine cells, with a shadow state per object (free or allocated, who
// allocated or freed it, at which step), so that misuse is caught at the
// step it happens, the way KASAN reports it: a double free, a free of
// something never allocated (or of another cache's object), and any access
// to the memory of a freed object. What is still allocated at the end of a
// run is listed by Leaks.
//
// Freed objects go back to their cache's free list and are handed out
// again, most recently freed first, as a slab allocator does.

// Failure kinds of the allocator.
const (
	KindDoubleFree   = "double-free"
	KindInvalidFree  = "invalid-free"
	KindUseAfterFree = "use-after-free"
)

// GFP is an allocation's gfp_t, reduced to what the machine checks.
type GFP uint8

const (
	// GFPAtomic never sleeps: allowed in any context.
	GFPAtomic GFP = iota
	// GFPKernel may sleep: a BUG in softirq, hardirq, or with preemption,
	// bh or irqs disabled.
	GFPKernel
)

func (g GFP) String() string {
	if g == GFPKernel {
		return "GFP_KERNEL"
	}
	return "GFP_ATOMIC"
}

// Object is one allocated (or freed) object. Its handle, the value stored
// in pointer cells, is its number: 1, 2, 3, ... in the order the
// machine first made them.
type Object struct {
	id    uint64
	cache *KmemCache
	words []Cell
	live  bool
	// The last allocation or free, for reports.
	by   string
	step int
}

// Word returns the object's i-th word of memory.
func (o *Object) Word(i int) *Cell { return &o.words[i] }

// Handle is the value a pointer to the object holds.
func (o *Object) Handle() uint64 { return o.id }

// KmemCache is a kmem_cache of fixed-size objects.
type KmemCache struct {
	m     *Machine
	name  string
	words int
	free  []*Object // LIFO
	live  int
}

// KmemCacheCreate is kmem_cache_create: a cache named name of objects of
// words machine words each.
func (m *Machine) KmemCacheCreate(name string, words int) *KmemCache {
	if words < 1 {
		panic(fmt.Sprintf("sim: kmem_cache %s of %d words", name, words))
	}
	return &KmemCache{m: m, name: name, words: words}
}

// Live returns how many of the cache's objects are allocated.
func (kc *KmemCache) Live() int { return kc.live }

// kmallocCache returns the generic cache kmalloc serves words-sized
// requests from (sizes rounded up to a power of two, as kmalloc-N).
func (m *Machine) kmallocCache(words int) *KmemCache {
	size := 1
	for size < words {
		size *= 2
	}
	for _, kc := range m.kmalloc {
		if kc.words == size {
			return kc
		}
	}
	kc := m.KmemCacheCreate("kmalloc-"+strconv.Itoa(8*size), size)
	m.kmalloc = append(m.kmalloc, kc)
	return kc
}

// Object returns the object a handle names, or nil.
func (m *Machine) Object(h uint64) *Object {
	if h == 0 || h > uint64(len(m.objects)) {
		return nil
	}
	return m.objects[h-1]
}

// Live returns the objects still allocated, by handle.
func (m *Machine) Live() []*Object {
	var out []*Object
	for _, o := range m.objects {
		if o.live {
			out = append(out, o)
		}
	}
	return out
}

// String describes the object for leak reports: "#3 (cache) allocated by
// task t at step 12".
func (o *Object) String() string {
	return fmt.Sprintf("#%d (%s) allocated by %s at step %d", o.id, o.cache.name, o.by, o.step)
}

// KmemCacheAlloc is kmem_cache_alloc(cache, gfp). It returns a handle, or
// 0 (NULL) when the strategy injects an allocation failure here.
func (f *Ctx) KmemCacheAlloc(kc *KmemCache, gfp GFP) uint64 {
	return f.point(op{kind: opSlabAlloc, kc: kc, a: uint64(gfp)}, 0)
}

// KmemCacheFree is kmem_cache_free(cache, obj).
func (f *Ctx) KmemCacheFree(kc *KmemCache, h uint64) {
	f.point(op{kind: opSlabFree, kc: kc, a: h}, 0)
}

// Kmalloc is kmalloc(8*words, gfp).
func (f *Ctx) Kmalloc(words int, gfp GFP) uint64 {
	return f.point(op{kind: opSlabAlloc, kc: f.m.kmallocCache(words), a: uint64(gfp), b: 1}, 0)
}

// Kfree is kfree(obj); kfree(NULL) does nothing.
func (f *Ctx) Kfree(h uint64) {
	f.point(op{kind: opSlabFree, a: h}, 0)
}

func (m *Machine) slabAlloc(f *Ctx, o *op, ev *Event) uint64 {
	c, kc, gfp := f.CPU(), o.kc, GFP(o.a)
	ev.Var = kc.name
	if gfp == GFPKernel && (f.kind != CtxTask || c.preempt > 0 || c.bh > 0 || c.irqsOff) {
		m.fail(f.failure(KindBug, fmt.Sprintf("sleeping function called from invalid context: kmem_cache_alloc(%s, GFP_KERNEL) in %s with preempt_count=%d bh=%d irqs %s",
			kc.name, f.kind, c.preempt, c.bh, onOff(!c.irqsOff)), o))
	}
	if f.failAlloc {
		f.failAlloc = false
		if m.allocFailures--; m.allocFailures == 0 {
			m.markAll() // no CPU may fail an allocation any more
		}
		if m.cfg.Trace {
			ev.Value = gfp.String() + " -> NULL (failure injected)"
		}
		return 0
	}
	var obj *Object
	if n := len(kc.free); n > 0 {
		obj = kc.free[n-1]
		kc.free = kc.free[:n-1]
	} else {
		obj = &Object{id: uint64(len(m.objects) + 1), cache: kc, words: make([]Cell, kc.words)}
		for i := range obj.words {
			obj.words[i] = newCell("#"+strconv.FormatUint(obj.id, 10), i, W64, 0)
			obj.words[i].obj = obj
			m.adopt(&obj.words[i])
		}
		m.objects = append(m.objects, obj)
	}
	obj.live, obj.by, obj.step = true, f.label(), m.step
	kc.live++
	if m.cfg.Trace {
		ev.Value = gfp.String() + " -> " + fmt.Sprintf("#%d", obj.id)
	}
	return obj.id
}

func (m *Machine) slabFree(f *Ctx, o *op, ev *Event) {
	h := o.a
	if h == 0 && o.kc == nil {
		ev.Value = "NULL"
		return
	}
	obj := m.Object(h)
	switch {
	case obj == nil:
		m.fail(f.failure(KindInvalidFree, fmt.Sprintf("free of #%d, which was never allocated", h), o))
	case o.kc != nil && obj.cache != o.kc:
		m.fail(f.failure(KindInvalidFree, fmt.Sprintf("kmem_cache_free(%s, #%d), but #%d belongs to %s", o.kc.name, h, h, obj.cache.name), o))
	case !obj.live:
		m.fail(f.failure(KindDoubleFree, fmt.Sprintf("#%d (%s) freed again; it was freed by %s at step %d", h, obj.cache.name, obj.by, obj.step), o))
	}
	ev.Var = obj.cache.name
	if m.cfg.Trace {
		ev.Value = fmt.Sprintf("#%d", h)
	}
	obj.live, obj.by, obj.step = false, f.label(), m.step
	obj.cache.live--
	obj.cache.free = append(obj.cache.free, obj)
}

// checkAccess fails a memory operation on a freed object's words.
func (m *Machine) checkAccess(f *Ctx, o *op) {
	if obj := o.cell.obj; obj != nil && !obj.live {
		m.fail(f.failure(KindUseAfterFree, fmt.Sprintf("%s of %s: #%d (%s) was freed by %s at step %d",
			opNames[o.kind], o.cell.Name(), obj.id, obj.cache.name, obj.by, obj.step), o))
	}
}

// Costs count, over a run, the operations that are expensive on real
// hardware: what the algorithms under test are designed to amortise.
type Costs struct {
	Atomics  int64 `json:"atomics"`  // cmpxchg, xchg, atomic_add_return
	Barriers int64 `json:"barriers"` // smp_mb, smp_wmb, smp_rmb, smp_store_release, smp_load_acquire
	Slab     int64 `json:"slab"`     // kmem_cache_alloc/free, kmalloc/kfree
	Toggles  int64 `json:"toggles"`  // preempt, bh and irq disable/enable
}

// costCounts are a run's Costs as it counts them: by the cost an
// operation has (costOf), without a test, at every operation.
type costCounts [costSlab + 1]int64

// The costs an operation has.
const (
	costNone = iota
	costAtomic
	costBarrier
	costToggle
	costSlab
)

var costOf = [...]uint8{
	opCmpxchg: costAtomic, opXchg: costAtomic, opAddReturn: costAtomic,
	opMb: costBarrier, opWmb: costBarrier, opRmb: costBarrier, opStoreRelease: costBarrier, opLoadAcquire: costBarrier,
	opPreemptDisable: costToggle, opPreemptEnable: costToggle, opBhDisable: costToggle, opBhEnable: costToggle,
	opIrqSave: costToggle, opIrqRestore: costToggle, opIrqDisable: costToggle, opIrqEnable: costToggle,
	opSlabAlloc: costSlab, opSlabFree: costSlab,
}

func (c *costCounts) count(k opKind) { c[costOf[k]]++ }

func (c *costCounts) costs() Costs {
	return Costs{Atomics: c[costAtomic], Barriers: c[costBarrier], Slab: c[costSlab], Toggles: c[costToggle]}
}

// ScopeCosts makes the run count costs only inside Ctx.Account, so that a
// workload can report what the calls it brackets cost (a pool's alloc and
// free), leaving out its own bookkeeping and any setup or teardown.
func (m *Machine) ScopeCosts() { m.scoped = true }

// Account runs fn with its operations counted in the run's costs (see
// ScopeCosts). Interrupts that come meanwhile are not counted.
func (f *Ctx) Account(fn func()) {
	f.accounting++
	defer func() { f.accounting-- }()
	fn()
}

// Add adds d to c.
func (c *Costs) Add(d Costs) {
	c.Atomics += d.Atomics
	c.Barriers += d.Barriers
	c.Slab += d.Slab
	c.Toggles += d.Toggles
}
