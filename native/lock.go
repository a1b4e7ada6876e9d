package native

import (
	"runtime"
	"sync/atomic"
)

// Spinlock is spinlock_t: a word taken with compare-and-swap, the waiter
// yielding between attempts.
type Spinlock struct {
	word atomic.Uint32
}

// NewSpinlock makes an unlocked spinlock; the name is the simulator's.
func (m *Machine) NewSpinlock(name string) *Spinlock { return new(Spinlock) }

// SpinLock is spin_lock: preemption off, then the lock.
func (c *Ctx) SpinLock(l *Spinlock) {
	c.PreemptDisable()
	for !l.word.CompareAndSwap(0, 1) {
		runtime.Gosched()
	}
}

// SpinUnlock is spin_unlock.
func (c *Ctx) SpinUnlock(l *Spinlock) {
	c.BugOn(l.word.Swap(0) != 1, "spin_unlock of an unlocked spinlock")
	c.PreemptEnable()
}

// SpinLockIrqsave is spin_lock_irqsave.
func (c *Ctx) SpinLockIrqsave(l *Spinlock) IrqFlags {
	fl := c.LocalIrqSave()
	c.SpinLock(l)
	return fl
}

// SpinUnlockIrqrestore is spin_unlock_irqrestore.
func (c *Ctx) SpinUnlockIrqrestore(l *Spinlock, fl IrqFlags) {
	c.SpinUnlock(l)
	c.LocalIrqRestore(fl)
}
