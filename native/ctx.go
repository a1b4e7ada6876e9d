package native

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// Ctx is one CPU id's execution context. Every method is small enough to
// be inlined where a subject calls it.
type Ctx struct {
	m       *Machine
	cpu     int
	pending uint16 // raised softirqs
	preempt int    // preempt_disable depth
	bh      int    // local_bh_disable depth
	irqsOff int    // local_irq_save depth
	serving bool
	spins   uint // cpu_relax calls
}

// IrqFlags is what local_irq_save returns.
type IrqFlags uint64

// Load is a plain load.
func (c *Ctx) Load(x *Cell) uint64 { return x.v }

// Store is a plain store.
func (c *Ctx) Store(x *Cell, v uint64) { x.v = v }

// ReadOnce is READ_ONCE.
func (c *Ctx) ReadOnce(x *Cell) uint64 { return atomic.LoadUint64(&x.v) }

// WriteOnce is WRITE_ONCE.
func (c *Ctx) WriteOnce(x *Cell, v uint64) { atomic.StoreUint64(&x.v, v) }

// SmpStoreRelease is smp_store_release.
func (c *Ctx) SmpStoreRelease(x *Cell, v uint64) { atomic.StoreUint64(&x.v, v) }

// Cmpxchg is cmpxchg: it returns the value the cell held, old when the
// exchange happened. Go's compare-and-swap returns only whether it
// swapped, so a failed one reads the cell; should that read see old again
// (the cell changed and came back), the exchange is retried, so that the
// result never claims a swap that did not happen.
func (c *Ctx) Cmpxchg(x *Cell, old, new uint64) uint64 {
	for {
		if atomic.CompareAndSwapUint64(&x.v, old, new) {
			return old
		}
		if cur := atomic.LoadUint64(&x.v); cur != old {
			return cur
		}
	}
}

// CmpxchgSwapped is Cmpxchg(x, old, new) == old: whether the exchange
// happened. Subjects call Cmpxchg; nativegen writes a comparison of its
// result with old as this (see its swap tests), which compiles to the
// compare-and-swap and its flag, where the comparison would be made once
// more after it.
func (c *Ctx) CmpxchgSwapped(x *Cell, old, new uint64) bool {
	return atomic.CompareAndSwapUint64(&x.v, old, new)
}

// SmpWmb is smp_wmb: nothing, see the package doc.
func (c *Ctx) SmpWmb() {}

// SmpRmb is smp_rmb: nothing, see the package doc.
func (c *Ctx) SmpRmb() {}

// CpuRelax is cpu_relax: a spin iteration, and every relaxYield-th one
// yields the host CPU to another goroutine (the one waited for may be
// waiting for this CPU).
func (c *Ctx) CpuRelax() {
	c.spins++
	if c.spins%relaxYield == 0 {
		runtime.Gosched()
	}
}

// relaxYield is how many spin iterations pass between yields: a wait for
// a goroutine running on another CPU is usually over within a few.
const relaxYield = 16

// SmpProcessorID is smp_processor_id.
func (c *Ctx) SmpProcessorID() int { return c.cpu }

// PreemptDisable is preempt_disable: a counter.
func (c *Ctx) PreemptDisable() { c.preempt++ }

// PreemptEnable is preempt_enable.
func (c *Ctx) PreemptEnable() {
	if c.preempt == 0 {
		c.unbalanced("preempt_enable")
	}
	c.preempt--
}

// LocalBhDisable is local_bh_disable: a counter.
func (c *Ctx) LocalBhDisable() { c.bh++ }

// LocalBhEnable is local_bh_enable.
func (c *Ctx) LocalBhEnable() {
	if c.bh == 0 {
		c.unbalanced("local_bh_enable")
	}
	c.bh--
	if c.bh == 0 && c.pending != 0 && !c.serving && c.irqsOff == 0 {
		c.doSoftirq()
	}
}

// unbalanced fails an enable without its disable; kept out of line so that
// the enables inline.
//
//go:noinline
func (c *Ctx) unbalanced(op string) {
	c.Fail(KindBug, "%s without a matching disable", op)
}

// LocalIrqSave is local_irq_save.
func (c *Ctx) LocalIrqSave() IrqFlags {
	c.irqsOff++
	return IrqFlags(c.irqsOff - 1)
}

// LocalIrqRestore is local_irq_restore.
func (c *Ctx) LocalIrqRestore(fl IrqFlags) { c.irqsOff = int(fl) }

// InServingSoftirq is in_serving_softirq: inside Softirq.
func (c *Ctx) InServingSoftirq() bool { return c.serving }

// Softirq runs fn as softirq work on this CPU id.
func (c *Ctx) Softirq(fn func(*Ctx)) {
	was := c.serving
	c.serving = true
	defer func() { c.serving = was }()
	fn(c)
}

// Balanced reports an error if a disable was left without its enable.
func (c *Ctx) Balanced() error {
	if c.preempt != 0 || c.bh != 0 || c.irqsOff != 0 || c.serving {
		return fmt.Errorf("cpu %d: preempt_count %d, bh %d, irqs saved %d, in softirq %t", c.cpu, c.preempt, c.bh, c.irqsOff, c.serving)
	}
	return nil
}

// BugOn is BUG_ON: a panic with a *Failure of kind "bug" when cond holds.
func (c *Ctx) BugOn(cond bool, format string, args ...any) {
	if cond {
		c.Fail(KindBug, format, args...)
	}
}

// Panic is the kernel's panic().
func (c *Ctx) Panic(format string, args ...any) { c.Fail(KindPanic, format, args...) }

// Fail stops this goroutine with a failure of the given kind.
func (c *Ctx) Fail(kind, format string, args ...any) {
	panic(&Failure{Kind: kind, CPU: c.cpu, Msg: fmt.Sprintf(format, args...)})
}
