package sim

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// CtxKind is the kernel execution context a frame runs in.
type CtxKind uint8

const (
	CtxTask CtxKind = iota
	CtxSoftirq
	CtxHardirq
)

func (k CtxKind) String() string { return [...]string{"task", "softirq", "hardirq"}[k] }

// Ctx is one execution context: a task, or a softirq or hardirq handler
// running nested on top of one. Simulated code receives it and does every
// shared-memory access and context change through it. A Ctx is valid only
// inside the function it was passed to.
type Ctx struct {
	m    *Machine
	t    *Task
	kind CtxKind
	name string
	cpu  *CPU // fixed for interrupt frames; task frames follow their task
	id   int

	op op // the operation waiting for its scheduling decision

	// Spin detection: what the frame read and whether it stored anything
	// since its last cpu_relax, and what it waits on while spinning.
	reads    []watch
	overflow bool
	wrote    bool
	spinning bool
	watch    []watch
	relaxAt  string // where the spinning cpu_relax is, when traced

	// The last reads, newest at recentN-1 (mod 8), for the ABA notes
	// that only traces show: kept when tracing.
	recent  *[8]seen
	recentN int

	failAlloc  bool     // the strategy injects a failure into the pending allocation
	accounting int      // nesting of Ctx.Account
	calls      []string // the operations Call began that have not returned, when tracing
}

type watch struct {
	cell *Cell
	v    uint64
}

// seen is a read remembered for ABA reports.
type seen struct {
	cell    *Cell
	changes int // the cell's change count when it was read
	step    int
}

// maxSpinReads bounds what a frame remembers between two cpu_relax calls;
// an iteration that reads more is not treated as a pure spin.
const maxSpinReads = 16

// CPU returns the CPU the context runs on now.
func (f *Ctx) CPU() *CPU {
	if f.cpu != nil {
		return f.cpu
	}
	return f.t.cpu
}

// Machine returns the machine the context runs on.
func (f *Ctx) Machine() *Machine { return f.m }

func (f *Ctx) label() string {
	if f.kind == CtxTask {
		return "task " + f.name
	}
	return f.kind.String() + " " + f.name + " over " + f.t.name
}

// ID returns the CPU number.
func (c *CPU) ID() int { return c.id }

type opKind uint8

const (
	opStart opKind = iota
	opIdle
	opKsoftirqd
	opLoad
	opReadOnce
	opLoadAcquire
	opStore
	opWriteOnce
	opStoreRelease
	opCmpxchg
	opXchg
	opAddReturn
	opMb
	opWmb
	opRmb
	opPreemptDisable
	opPreemptEnable
	opBhDisable
	opBhEnable
	opIrqSave
	opIrqRestore
	opIrqDisable
	opIrqEnable
	opRaiseSoftirq
	opCpuRelax
	opMutexLock
	opMutexWake
	opMutexUnlock
	opSlabAlloc
	opSlabFree
)

var opNames = [...]string{
	opStart: "start", opIdle: "idle", opKsoftirqd: "run_ksoftirqd", opLoad: "load", opReadOnce: "READ_ONCE",
	opLoadAcquire: "smp_load_acquire", opStore: "store", opWriteOnce: "WRITE_ONCE",
	opStoreRelease: "smp_store_release", opCmpxchg: "cmpxchg", opXchg: "xchg",
	opAddReturn: "atomic_add_return", opMb: "smp_mb", opWmb: "smp_wmb", opRmb: "smp_rmb",
	opPreemptDisable: "preempt_disable", opPreemptEnable: "preempt_enable",
	opBhDisable: "local_bh_disable", opBhEnable: "local_bh_enable",
	opIrqSave: "local_irq_save", opIrqRestore: "local_irq_restore",
	opIrqDisable: "local_irq_disable", opIrqEnable: "local_irq_enable",
	opRaiseSoftirq: "raise_softirq", opCpuRelax: "cpu_relax",
	opMutexLock: "mutex_lock", opMutexWake: "mutex_lock", opMutexUnlock: "mutex_unlock",
	opSlabAlloc: "kmem_cache_alloc", opSlabFree: "kmem_cache_free",
}

type op struct {
	kind opKind
	cell *Cell
	a, b uint64
	mu   *Mutex
	kc   *KmemCache
	file string // source position, when traced
	line int
}

// point is a scheduling point: the frame announces its next operation and
// waits until the strategy lets its CPU advance, then performs it. skip is
// the number of sim-internal frames between the public API call and the
// simulated code calling it.
func (f *Ctx) point(o op, skip int) uint64 {
	m := f.m
	m.toSim()
	if m.finished {
		panic(errAbort)
	}
	if m.cfg.Positions {
		o.file, o.line = callerLine(3 + skip)
	}
	if (o.kind == opSlabAlloc) != (f.op.kind == opSlabAlloc) && m.allocFailures > 0 {
		m.markCPU(f.CPU()) // it gains or loses its failure injection
	}
	f.op = o
	m.schedule(f.t)
	var r uint64
	if m.cfg.Cover == nil {
		r = m.execOp(f) // exec without its coverage test, on the hot path
	} else {
		r = m.exec(f)
	}
	m.lastFrame = f
	m.toUser()
	return r
}

func callerLine(skip int) (string, int) {
	var pc [1]uintptr
	if runtime.Callers(skip+1, pc[:]) == 0 {
		return "", 0
	}
	if p, ok := positions.Load(pc[0]); ok {
		p := p.(position)
		return p.file, p.line
	}
	fr, _ := runtime.CallersFrames(pc[:]).Next()
	positions.Store(pc[0], position{fr.File, fr.Line})
	return fr.File, fr.Line
}

// positions holds callerLine's answers by program counter: a pc's line
// costs several times what finding the pc does, and never changes.
var positions sync.Map // uintptr -> position

type position struct {
	file string
	line int
}

// runnable reports whether the frame's pending operation may run now.
func (f *Ctx) runnable() bool {
	if f.op.kind == opIdle {
		return false // the idle task only hosts interrupts
	}
	if !f.spinning {
		return true
	}
	for _, w := range f.watch {
		if w.cell.v != w.v {
			return true
		}
	}
	return false
}

// exec performs the frame's pending operation.
func (m *Machine) exec(f *Ctx) uint64 {
	if cv := m.cfg.Cover; cv != nil && f.op.kind > opKsoftirqd && f.op.kind != opMutexWake {
		return m.execCovered(f, cv)
	}
	return m.execOp(f)
}

// execCovered is exec collecting coverage: the point counts once the
// operation is over, or once it failed. It is apart from execOp so that
// uncovered runs pay nothing for the defer.
func (m *Machine) execCovered(f *Ctx, cv *Coverage) uint64 {
	o := &f.op
	defer func() { cv.point(f, o, m.wrote(o.cell)) }()
	return m.execOp(f)
}

// execOp is exec's operation itself. Memory operations, the most of
// them, run here; the others change the CPU's kernel state (execKernel).
// Traced runs take execTraced, which records what the operation did, so
// that untraced ones test for nothing of the trace's.
func (m *Machine) execOp(f *Ctx) uint64 {
	if m.cfg.Trace {
		return m.execTraced(f)
	}
	// prepare's work, written out: this is the hot path, and prepare is
	// too large for the compiler to inline. Keep the two alike.
	o := &f.op
	if f.spinning {
		m.spunOut(f)
	}
	if !m.scoped || f.accounting > 0 {
		m.costs.count(o.kind)
	}
	if o.cell != nil && o.cell.obj != nil {
		m.global()
		m.checkAccess(f, o)
	}
	if o.kind < opLoad || o.kind > opRmb {
		// An untraced run writes the event's fields into the machine's
		// scratch event, which nothing reads (and which nested
		// operations, a mutex sleeper's or a softirq's, share).
		return m.execKernel(f, o, &m.scratch)
	}
	ret, _ := m.memOp(f, o)
	return ret
}

// execTraced is execOp recording the operation's event.
func (m *Machine) execTraced(f *Ctx) uint64 {
	o := &f.op
	ev := &Event{Kind: EvOp, CPU: f.CPU().id, frame: f, Op: opNames[o.kind], File: o.file, Line: o.line, Decision: true}
	if o.cell != nil {
		ev.Var = o.cell.Name()
	}
	m.prepare(f, o)
	if o.kind < opLoad || o.kind > opRmb {
		return m.execKernel(f, o, ev)
	}
	var changes int
	if o.cell != nil {
		changes = o.cell.changes // before a cmpxchg's own store
	}
	ret, ok := m.memOp(f, o)
	switch o.kind {
	case opLoad, opReadOnce, opLoadAcquire:
		ev.Value = "-> " + o.cell.format(ret)
	case opStore, opWriteOnce, opStoreRelease:
		ev.Value = "= " + o.cell.format(o.cell.v)
	case opCmpxchg:
		if ok {
			ev.Note = f.abaNote(o.cell, changes)
		}
		ev.Value = fmt.Sprintf("%s -> %s: -> %s (%s)", o.cell.format(o.a), o.cell.format(o.b), o.cell.format(ret), swapped(ok))
	case opXchg:
		ev.Value = fmt.Sprintf("= %s, -> %s", o.cell.format(o.cell.v), o.cell.format(ret))
	case opAddReturn:
		ev.Value = fmt.Sprintf("+= %d -> %s", int64(o.a), o.cell.format(ret))
	}
	m.record(*ev)
	return ret
}

// prepare does what every operation does first: it ends the frame's
// spin, counts the operation's cost (first: some operations return
// early, a bh enable that runs softirqs, ksoftirqd) and checks that the
// object of the cell it uses is live.
func (m *Machine) prepare(f *Ctx, o *op) {
	if f.spinning {
		m.spunOut(f)
	}
	if !m.scoped || f.accounting > 0 {
		m.costs.count(o.kind)
	}
	if o.cell != nil && o.cell.obj != nil {
		// Whether the object is live is the allocator's state.
		m.global()
		m.checkAccess(f, o)
	}
}

// memOp performs a memory operation or a barrier; ok says whether a
// cmpxchg swapped.
func (m *Machine) memOp(f *Ctx, o *op) (ret uint64, ok bool) {
	switch o.kind {
	case opLoad, opReadOnce, opLoadAcquire:
		m.touch(o.cell, false)
		ret = o.cell.v
		f.noteRead(o.cell, ret)
	case opStore, opWriteOnce, opStoreRelease:
		m.write(f, o.cell, o.a)
	case opCmpxchg:
		ret = o.cell.v
		ok = ret == o.a&o.cell.mask
		m.touch(o.cell, ok)
		if ok {
			m.write(f, o.cell, o.b)
		} else {
			f.noteRead(o.cell, ret)
		}
	case opXchg:
		ret = o.cell.v
		m.write(f, o.cell, o.a)
	case opAddReturn:
		ret = (o.cell.v + o.a) & o.cell.mask
		m.write(f, o.cell, ret)
	}
	return ret, ok
}

// spunOut ends the spin of a frame that runs because a watched cell
// changed: which cells it waited on is part of what the decision
// depended on.
func (m *Machine) spunOut(f *Ctx) {
	for _, w := range f.watch {
		m.touch(w.cell, false)
	}
	m.stopSpinning(f)
}

// execKernel performs an operation on the CPU's kernel state: the task's
// start, ksoftirqd, preempt, bh and irq state, softirqs, cpu_relax,
// mutexes and the allocator. It records the event ev.
func (m *Machine) execKernel(f *Ctx, o *op, ev *Event) uint64 {
	c, tr := f.CPU(), m.cfg.Trace
	// Preempt, bh and irq operations change the CPU's switch and
	// interrupt moves only when they open or close one of its gates.
	gated := o.kind >= opPreemptDisable && o.kind <= opIrqEnable
	var gates uint8
	if gated {
		gates = c.gates()
	}
	var ret uint64
	switch o.kind {
	case opStart:
		ev.Kind = EvStart
	case opKsoftirqd:
		if c.pending == 0 {
			ev.Value = "nothing pending: sleeps"
			m.recordOp(ev)
			f.t.state, c.cur = taskSleeping, nil
			m.markTask(f.t)
			m.markCPU(c)
			return 0
		}
		m.recordOp(ev)
		m.doSoftirq(f.t, c)
		return 0
	case opPreemptDisable:
		c.preempt++
		if tr {
			ev.Value = fmt.Sprintf("preempt_count=%d", c.preempt)
		}
	case opPreemptEnable:
		if c.preempt == 0 {
			m.fail(f.failure(KindBug, "preempt_enable() with preempt_count 0 (unbalanced)", o))
		}
		c.preempt--
		if tr {
			ev.Value = fmt.Sprintf("preempt_count=%d", c.preempt)
		}
	case opBhDisable:
		c.bh++
		if tr {
			ev.Value = fmt.Sprintf("bh_disable_count=%d", c.bh)
		}
	case opBhEnable:
		if c.hardirq > 0 || c.irqsOff {
			m.fail(f.failure(KindBug, "local_bh_enable() in hardirq context or with irqs disabled", o))
		}
		if c.bh == 0 {
			m.fail(f.failure(KindBug, "local_bh_enable() without local_bh_disable() (unbalanced)", o))
		}
		c.bh--
		if tr {
			ev.Value = fmt.Sprintf("bh_disable_count=%d", c.bh)
		}
		if c.bh == 0 && c.pending != 0 && !c.inInterrupt() {
			m.recordOp(ev)
			m.doSoftirq(f.t, c)
			return 0
		}
	case opIrqSave:
		if c.irqsOff || c.hardirq > 0 {
			ret = 1
		}
		c.irqsOff = true
		ev.Value = "irqs off"
	case opIrqRestore:
		c.irqsOff = o.a != 0
		if tr {
			ev.Value = "irqs " + onOff(!c.irqsOff)
		}
	case opIrqDisable:
		c.irqsOff = true
		ev.Value = "irqs off"
	case opIrqEnable:
		if c.hardirq > 0 {
			m.fail(f.failure(KindBug, "local_irq_enable() in hardirq context", o))
		}
		c.irqsOff = false
		ev.Value = "irqs on"
	case opRaiseSoftirq:
		c.pending |= 1 << o.a
		ev.Value = softirqNames[o.a]
		if !c.inInterrupt() {
			m.recordOp(ev)
			m.wakeKsoftirqd(c)
			return 0
		}
	case opCpuRelax:
		// Whether the context now waits depends on what those cells hold
		// from here on.
		for _, r := range f.reads {
			m.touch(r.cell, false)
		}
		if !f.wrote && !f.overflow && len(f.reads) > 0 {
			// One entry per cell, holding the value read last: that is
			// the value the spin is waiting to see change.
			f.watch = f.watch[:0]
			for _, r := range f.reads {
				if i := slices.IndexFunc(f.watch, func(w watch) bool { return w.cell == r.cell }); i >= 0 {
					f.watch[i].v = r.v
				} else {
					f.watch = append(f.watch, r)
				}
			}
			m.startSpinning(f)
			if tr {
				ev.Value = "waits for " + f.watchString() + " to change"
			}
			if m.cfg.Positions {
				f.relaxAt = shortPos(o.file, o.line)
			}
		}
		f.reads, f.wrote, f.overflow = f.reads[:0], false, false
	case opMutexLock:
		m.global()
		m.mutexLock(f, o, ev)
	case opMutexWake:
		m.global()
		ev.Value = "acquired " + o.mu.name + " after sleeping"
	case opMutexUnlock:
		m.global()
		m.mutexUnlock(f, o, ev)
	case opSlabAlloc:
		m.global()
		if o.b == 1 {
			ev.Op = "kmalloc"
		}
		ret = m.slabAlloc(f, o, ev)
	case opSlabFree:
		m.global()
		if o.kc == nil {
			ev.Op = "kfree"
		}
		m.slabFree(f, o, ev)
	}
	if gated && c.gates() != gates {
		m.markCPU(c)
	}
	m.recordOp(ev)
	return ret
}

// spinBuffers are empty read and watch lists for a frame, as large as
// they get, in one buffer that an ended frame left or a new one: the
// reads take its first maxSpinReads entries, the watch the rest (see
// popFrame).
func (m *Machine) spinBuffers() (reads, watches []watch) {
	var b []watch
	if n := len(m.freeBufs); n > 0 {
		b = m.freeBufs[n-1]
		m.freeBufs = m.freeBufs[:n-1]
	} else {
		b = make([]watch, 2*maxSpinReads)
	}
	return b[:0], b[maxSpinReads:maxSpinReads]
}

// noteRead remembers that the frame read v from c (see maxSpinReads).
func (f *Ctx) noteRead(c *Cell, v uint64) {
	if f.m.cfg.Trace {
		f.noteRecent(c)
	}
	n := len(f.reads)
	if n == maxSpinReads {
		f.overflow = true
		return
	}
	if f.reads == nil {
		f.reads, f.watch = f.m.spinBuffers()
	}
	f.reads = f.reads[:n+1] // the buffer has room for all it remembers
	f.reads[n] = watch{c, v}
}

// noteRecent remembers a read of c for ABA notes.
func (f *Ctx) noteRecent(c *Cell) {
	if f.recent == nil {
		f.recent = new([8]seen)
	}
	f.recent[f.recentN%len(f.recent)] = seen{c, c.changes, f.m.step}
	f.recentN++
}

// abaNote names an ABA: a successful cmpxchg on a cell whose value others
// changed since this context last read it, and which holds the old value
// again. It runs before the cmpxchg's own store is counted.
func (f *Ctx) abaNote(c *Cell, before int) string {
	for i := f.recentN - 1; i >= max(0, f.recentN-len(f.recent)); i-- {
		if r := f.recent[i%len(f.recent)]; r.cell == c {
			if n := before - r.changes; n > 0 {
				return fmt.Sprintf("ABA: %s changed %d times since this context read it at step %d", c.Name(), n, r.step)
			}
			return ""
		}
	}
	return ""
}

func (m *Machine) write(f *Ctx, c *Cell, v uint64) {
	m.touch(c, true)
	if v&c.mask != c.v {
		c.changes++
	}
	if c.watchers > 0 {
		m.wakeSpinners()
	}
	c.v = v & c.mask
	c.lastWriter, c.lastStep = f, m.step
	f.wrote = true
}

func (f *Ctx) watchString() string {
	s := ""
	for i, w := range f.watch {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s (=%s)", w.cell.Name(), w.cell.format(w.v))
	}
	return s
}

// spinReport says what a spinning frame waits for, and who last changed it.
func (f *Ctx) spinReport() string {
	s := fmt.Sprintf("CPU%d %s spins in cpu_relax waiting for %s to change", f.CPU().id, f.label(), f.watchString())
	for _, w := range f.watch {
		if w.cell.lastWriter != nil {
			s += fmt.Sprintf(" (%s last written by %s at step %d)", w.cell.Name(), w.cell.lastWriter.label(), w.cell.lastStep)
		}
	}
	return s
}

// failure builds a failure raised by this frame's own operation o.
func (f *Ctx) failure(kind, msg string, o *op) *Failure {
	src := ""
	if o != nil && o.file != "" {
		src = shortPos(o.file, o.line)
	}
	return &Failure{Kind: kind, Message: msg, Step: f.m.step, CPU: f.CPU().id, Context: f.label(), Source: src, frame: f}
}

// failureHere builds a failure at the caller skip frames above it.
func (f *Ctx) failureHere(kind, msg string, skip int) *Failure {
	file, line := callerLine(skip + 2)
	fl := f.failure(kind, msg, nil)
	fl.Source = shortPos(file, line)
	return fl
}

// --- Kernel API: memory ---

// Load is a plain load (x in C), a separate access each time it is used.
func (f *Ctx) Load(x *Cell) uint64 { return f.point(op{kind: opLoad, cell: x}, 0) }

// Store is a plain store.
func (f *Ctx) Store(x *Cell, v uint64) { f.point(op{kind: opStore, cell: x, a: v}, 0) }

// ReadOnce is READ_ONCE(x).
func (f *Ctx) ReadOnce(x *Cell) uint64 { return f.point(op{kind: opReadOnce, cell: x}, 0) }

// WriteOnce is WRITE_ONCE(x, v).
func (f *Ctx) WriteOnce(x *Cell, v uint64) { f.point(op{kind: opWriteOnce, cell: x, a: v}, 0) }

// SmpLoadAcquire is smp_load_acquire(&x).
func (f *Ctx) SmpLoadAcquire(x *Cell) uint64 {
	return f.point(op{kind: opLoadAcquire, cell: x}, 0)
}

// SmpStoreRelease is smp_store_release(&x, v).
func (f *Ctx) SmpStoreRelease(x *Cell, v uint64) {
	f.point(op{kind: opStoreRelease, cell: x, a: v}, 0)
}

// Cmpxchg is cmpxchg(&x, old, new): it stores new if x holds old, and
// returns what x held. A full barrier.
func (f *Ctx) Cmpxchg(x *Cell, old, new uint64) uint64 {
	return f.point(op{kind: opCmpxchg, cell: x, a: old, b: new}, 0)
}

// Xchg is xchg(&x, v): it stores v and returns the previous value.
func (f *Ctx) Xchg(x *Cell, v uint64) uint64 { return f.point(op{kind: opXchg, cell: x, a: v}, 0) }

// AtomicAddReturn is atomic_add_return(d, &x); a negative d subtracts.
func (f *Ctx) AtomicAddReturn(x *Cell, d int64) uint64 {
	return f.point(op{kind: opAddReturn, cell: x, a: uint64(d)}, 0)
}

// SmpMb is smp_mb().
func (f *Ctx) SmpMb() { f.point(op{kind: opMb}, 0) }

// SmpWmb is smp_wmb().
func (f *Ctx) SmpWmb() { f.point(op{kind: opWmb}, 0) }

// SmpRmb is smp_rmb().
func (f *Ctx) SmpRmb() { f.point(op{kind: opRmb}, 0) }

// CpuRelax is cpu_relax(): the context is waiting for shared memory it has
// read to change (see the package documentation).
func (f *Ctx) CpuRelax() { f.point(op{kind: opCpuRelax}, 0) }

// --- Kernel API: context ---

// SmpProcessorID is smp_processor_id(). Like the kernel with
// CONFIG_DEBUG_PREEMPT, it is a BUG in preemptible code of a task that may
// migrate, where the answer can be stale before it is used.
func (f *Ctx) SmpProcessorID() int {
	c := f.CPU()
	if f.kind == CtxTask && f.t.pin == Any && c.preemptible() {
		f.m.fail(f.failureHere(KindBug, "using smp_processor_id() in preemptible code", 1))
	}
	return c.id
}

// RawSmpProcessorID is raw_smp_processor_id(): no check.
func (f *Ctx) RawSmpProcessorID() int { return f.CPU().id }

// PreemptDisable is preempt_disable().
func (f *Ctx) PreemptDisable() { f.point(op{kind: opPreemptDisable}, 0) }

// PreemptEnable is preempt_enable().
func (f *Ctx) PreemptEnable() { f.point(op{kind: opPreemptEnable}, 0) }

// LocalBhDisable is local_bh_disable().
func (f *Ctx) LocalBhDisable() { f.point(op{kind: opBhDisable}, 0) }

// LocalBhEnable is local_bh_enable(): softirqs raised meanwhile run here.
func (f *Ctx) LocalBhEnable() { f.point(op{kind: opBhEnable}, 0) }

// IrqFlags is what LocalIrqSave returns.
type IrqFlags uint64

// LocalIrqSave is local_irq_save(flags).
func (f *Ctx) LocalIrqSave() IrqFlags { return IrqFlags(f.point(op{kind: opIrqSave}, 0)) }

// LocalIrqRestore is local_irq_restore(flags).
func (f *Ctx) LocalIrqRestore(fl IrqFlags) { f.point(op{kind: opIrqRestore, a: uint64(fl)}, 0) }

// LocalIrqDisable is local_irq_disable().
func (f *Ctx) LocalIrqDisable() { f.point(op{kind: opIrqDisable}, 0) }

// LocalIrqEnable is local_irq_enable().
func (f *Ctx) LocalIrqEnable() { f.point(op{kind: opIrqEnable}, 0) }

// InIrq is in_irq(): running a hardirq handler.
func (f *Ctx) InIrq() bool { return f.kind == CtxHardirq }

// InServingSoftirq is in_serving_softirq().
func (f *Ctx) InServingSoftirq() bool { return f.kind == CtxSoftirq }

// InSoftirq is in_softirq(): serving a softirq or with bh disabled.
func (f *Ctx) InSoftirq() bool { c := f.CPU(); return c.serving || c.bh > 0 }

// InInterrupt is in_interrupt(): hardirq, softirq or bh disabled.
func (f *Ctx) InInterrupt() bool { return f.CPU().inInterrupt() }

// IrqsDisabled is irqs_disabled().
func (f *Ctx) IrqsDisabled() bool { c := f.CPU(); return c.irqsOff || c.hardirq > 0 }

// PreemptCount returns the CPU's preempt_disable nesting.
func (f *Ctx) PreemptCount() int { return f.CPU().preempt }

// RaiseSoftirq is raise_softirq(nr): the softirq runs at the next irq_exit
// or local_bh_enable on this CPU, or when the CPU is idle.
func (f *Ctx) RaiseSoftirq(nr int) {
	if nr < 0 || nr >= NrSoftirqs {
		panic(fmt.Sprintf("sim: raise_softirq(%d)", nr))
	}
	f.point(op{kind: opRaiseSoftirq, a: uint64(nr)}, 0)
}

// --- Failures raised by simulated code ---

// BugOn is BUG_ON(cond): when cond holds the run fails with KindBug.
func (f *Ctx) BugOn(cond bool, format string, args ...any) {
	if cond {
		f.m.fail(f.failureHere(KindBug, fmt.Sprintf(format, args...), 1))
	}
}

// Panic is the kernel's panic(msg): the run fails with KindPanic.
func (f *Ctx) Panic(format string, args ...any) {
	f.m.fail(f.failureHere(KindPanic, fmt.Sprintf(format, args...), 1))
}

// Fail ends the run with a failure of the given kind. Workloads use it for
// the checks they make while running (two owners of one buffer, ...).
func (f *Ctx) Fail(kind string, format string, args ...any) {
	f.m.fail(f.failureHere(kind, fmt.Sprintf(format, args...), 1))
}

// Annotate adds a line to the trace (when tracing) without a scheduling
// point: what the workload is doing, in its own words.
// It inlines to a test, as workloads annotate in their hot loops.
func (f *Ctx) Annotate(format string, args ...any) {
	if f.m.cfg.Trace {
		f.annotate(format, args)
	}
}

func (f *Ctx) annotate(format string, args []any) {
	m := f.m
	m.toSim()
	file, line := callerLine(3) // Annotate's caller
	m.record(Event{Kind: EvNote, CPU: f.CPU().id, frame: f, Note: fmt.Sprintf(format, args...), File: file, Line: line})
	m.toUser()
}

// Call marks, in the trace, the start of an operation of the code under
// test, with its arguments: "mp_enqueue([8 9])". Return marks its end.
// A trace groups the memory events between the two under the call, and
// can show an operation that no other CPU interleaved with as one line.
// Like Annotate, it inlines to a test when the run is not traced.
func (f *Ctx) Call(name string, args ...any) {
	if f.m.cfg.Trace {
		f.call(name, args)
	}
}

// Tracing reports whether the run is traced: a workload that marks its
// calls tests it first where making Call's or Return's arguments would
// cost an untraced run something (a value boxed into an interface).
func (f *Ctx) Tracing() bool { return f.m.cfg.Trace }

// Return marks the end of the latest operation this context began with
// Call and has not ended, with its result: "0 (full)". Without one it
// panics, as an unbalanced trace would mislead its reader.
func (f *Ctx) Return(result ...any) {
	if f.m.cfg.Trace {
		f.ret(result)
	}
}

func (f *Ctx) call(name string, args []any) {
	m := f.m
	m.toSim()
	file, line := callerLine(3) // Call's caller
	f.calls = append(f.calls, name)
	m.record(Event{Kind: EvCall, CPU: f.CPU().id, frame: f, Op: name, Value: joinArgs(args, ", "), File: file, Line: line})
	m.toUser()
}

func (f *Ctx) ret(result []any) {
	m := f.m
	m.toSim()
	if len(f.calls) == 0 {
		panic("sim: Return without a Call in " + f.label())
	}
	name := f.calls[len(f.calls)-1]
	f.calls = f.calls[:len(f.calls)-1]
	file, line := callerLine(3) // Return's caller
	m.record(Event{Kind: EvReturn, CPU: f.CPU().id, frame: f, Op: name, Value: joinArgs(result, " "), File: file, Line: line})
	m.toUser()
}

// joinArgs formats each argument as fmt.Sprint would alone.
func joinArgs(args []any, sep string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteString(sep)
		}
		fmt.Fprint(&b, a)
	}
	return b.String()
}

func swapped(ok bool) string {
	if ok {
		return "swapped"
	}
	return "failed"
}
