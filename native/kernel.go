package native

import (
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Softirq numbers, as in package sim and the kernel's enum.
const (
	HiSoftirq = iota
	TimerSoftirq
	NetTxSoftirq
	NetRxSoftirq
	BlockSoftirq
	IrqPollSoftirq
	TaskletSoftirq
	SchedSoftirq
	HrtimerSoftirq
	RcuSoftirq
	NrSoftirqs
)

// SmpLoadAcquire is smp_load_acquire: an atomic load.
func (c *Ctx) SmpLoadAcquire(x *Cell) uint64 { return atomic.LoadUint64(&x.v) }

// SmpMb is smp_mb: nothing. Every access it orders against another CPU's is
// a sync/atomic one, and those are sequentially consistent in Go.
func (c *Ctx) SmpMb() {}

// Xchg is xchg: an atomic swap returning the old value.
func (c *Ctx) Xchg(x *Cell, v uint64) uint64 { return atomic.SwapUint64(&x.v, v) }

// AtomicAddReturn is atomic_add_return(d, &x); a negative d subtracts.
func (c *Ctx) AtomicAddReturn(x *Cell, d int64) uint64 { return atomic.AddUint64(&x.v, uint64(d)) }

// RawSmpProcessorID is raw_smp_processor_id.
func (c *Ctx) RawSmpProcessorID() int { return c.cpu }

// PreemptCount is preempt_count(): the preempt_disable depth.
func (c *Ctx) PreemptCount() int { return c.preempt }

// LocalIrqDisable is local_irq_disable: a counter, as local_irq_save's.
func (c *Ctx) LocalIrqDisable() { c.irqsOff++ }

// LocalIrqEnable is local_irq_enable.
func (c *Ctx) LocalIrqEnable() { c.irqsOff = 0 }

// InIrq is in_irq(): always false, the real machine runs no hardirq
// handlers of a workload.
func (c *Ctx) InIrq() bool { return false }

// InSoftirq is in_softirq(): serving a softirq or with bottom halves
// disabled.
func (c *Ctx) InSoftirq() bool { return c.serving || c.bh > 0 }

// InInterrupt is in_interrupt(): in softirq, as there is no hardirq here.
func (c *Ctx) InInterrupt() bool { return c.InSoftirq() }

// IrqsDisabled is irqs_disabled().
func (c *Ctx) IrqsDisabled() bool { return c.irqsOff > 0 }

// SpinLockBh is spin_lock_bh: bottom halves off, then the lock.
func (c *Ctx) SpinLockBh(l *Spinlock) {
	c.LocalBhDisable()
	c.SpinLock(l)
	c.PreemptEnable() // spin_lock's preempt_disable is the bh count's here
}

// SpinUnlockBh is spin_unlock_bh.
func (c *Ctx) SpinUnlockBh(l *Spinlock) {
	c.PreemptDisable()
	c.SpinUnlock(l)
	c.LocalBhEnable()
}

// Account runs fn: the simulator counts the costs of what fn does, the
// real machine has nothing to count.
func (c *Ctx) Account(fn func()) { fn() }

// Annotate is the simulator's trace note: nothing here.
func (c *Ctx) Annotate(format string, args ...any) {}

// Call and Return mark an operation in the simulator's trace: nothing
// here.
func (c *Ctx) Call(name string, args ...any) {}

// Return: see Call.
func (c *Ctx) Return(result ...any) {}

// Tracing is false: nothing is traced natively.
func (c *Ctx) Tracing() bool { return false }

// Ghost does nothing natively: it tells the simulator's exhaustive search
// about Go state shared between contexts, which real hardware orders by
// itself.
func (c *Ctx) Ghost() {}

// OpenSoftirq is open_softirq(nr, handler).
func (m *Machine) OpenSoftirq(nr int, handler func(*Ctx)) {
	if nr < 0 || nr >= NrSoftirqs {
		panic(fmt.Sprintf("native: open_softirq(%d)", nr))
	}
	m.softirqs[nr] = handler
}

// RaiseSoftirq is raise_softirq(nr): the handler runs on this goroutine at
// once when the context may run softirqs, else at the local_bh_enable
// that allows them again.
func (c *Ctx) RaiseSoftirq(nr int) {
	if nr < 0 || nr >= NrSoftirqs {
		panic(fmt.Sprintf("native: raise_softirq(%d)", nr))
	}
	c.pending |= 1 << nr
	if !c.InInterrupt() && c.irqsOff == 0 {
		c.doSoftirq()
	}
}

// doSoftirq runs the pending softirqs, lowest number first.
//
//go:noinline
func (c *Ctx) doSoftirq() {
	for c.pending != 0 {
		nr := bits.TrailingZeros16(c.pending)
		c.pending &^= 1 << nr
		if h := c.m.softirqs[nr]; h != nil {
			c.Softirq(h)
		}
	}
}

// Mutex is struct mutex: a sync.Mutex.
type Mutex struct {
	mu sync.Mutex
}

// NewMutex makes an unlocked mutex; the name is the simulator's.
func (m *Machine) NewMutex(name string) *Mutex { return new(Mutex) }

// MutexLock is mutex_lock: it may sleep, so it fails as a BUG where the
// kernel forbids sleeping (preemption, bottom halves or irqs disabled, or
// in softirq).
func (c *Ctx) MutexLock(mu *Mutex) {
	if c.preempt > 0 || c.bh > 0 || c.irqsOff > 0 || c.serving {
		c.Fail(KindBug, "sleeping function called from invalid context: mutex_lock")
	}
	mu.mu.Lock()
}

// MutexUnlock is mutex_unlock.
func (c *Ctx) MutexUnlock(mu *Mutex) { mu.mu.Unlock() }

// Kmalloc is kmalloc(8*words, gfp): an object of the smallest power-of-two
// kmalloc cache that holds words.
func (c *Ctx) Kmalloc(words int, gfp GFP) uint64 {
	return c.KmemCacheAlloc(c.m.kmallocCache(bits.Len(uint(max(words, 1)-1))), gfp)
}

// Kfree is kfree; kfree(NULL) does nothing.
func (c *Ctx) Kfree(h uint64) {
	if h == 0 {
		return
	}
	id := h >> cacheShift
	var kc *KmemCache
	if id < maxCaches {
		kc = c.m.caches[id].Load()
	}
	if kc == nil {
		c.Fail(KindInvalidFree, "kfree(#%d): not an object of this machine", h)
	}
	c.KmemCacheFree(kc, h)
}

// Machine is the machine this context belongs to: the subject reaches an
// object's memory through it (Machine().Object(h).Word(i)).
func (c *Ctx) Machine() *Machine { return c.m }

func (m *Machine) kmallocCache(class int) *KmemCache {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kmalloc[class] == nil {
		m.kmalloc[class] = m.KmemCacheCreate(fmt.Sprintf("kmalloc-%d", 8<<class), 1<<class)
	}
	return m.kmalloc[class]
}
