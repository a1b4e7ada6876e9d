package sim

import "fmt"

// Spinlock is the kernel's spinlock_t, built from the machine's own
// operations (a test-and-set lock), so its every step is scheduled.
type Spinlock struct {
	word *Cell
}

// NewSpinlock makes an unlocked spinlock named name.
func (m *Machine) NewSpinlock(name string) *Spinlock {
	return &Spinlock{word: m.NewCell(name, W32, 0)}
}

// locked reads the lock word outside the schedule, for unlock's check.
func (l *Spinlock) locked() bool { return l.word.v != 0 }

func (f *Ctx) spinAcquire(l *Spinlock) {
	for f.point(op{kind: opCmpxchg, cell: l.word, a: 0, b: 1}, 1) != 0 {
		for f.point(op{kind: opReadOnce, cell: l.word}, 1) != 0 {
			f.point(op{kind: opCpuRelax}, 1)
		}
	}
}

// SpinLock is spin_lock(l): preemption off, then spin until l is taken.
func (f *Ctx) SpinLock(l *Spinlock) {
	f.point(op{kind: opPreemptDisable}, 0)
	f.spinAcquire(l)
}

// SpinUnlock is spin_unlock(l).
func (f *Ctx) SpinUnlock(l *Spinlock) {
	f.mustHold(l, "spin_unlock")
	f.point(op{kind: opStoreRelease, cell: l.word, a: 0}, 0)
	f.point(op{kind: opPreemptEnable}, 0)
}

// SpinLockBh is spin_lock_bh(l).
func (f *Ctx) SpinLockBh(l *Spinlock) {
	f.point(op{kind: opBhDisable}, 0)
	f.spinAcquire(l)
}

// SpinUnlockBh is spin_unlock_bh(l).
func (f *Ctx) SpinUnlockBh(l *Spinlock) {
	f.mustHold(l, "spin_unlock_bh")
	f.point(op{kind: opStoreRelease, cell: l.word, a: 0}, 0)
	f.point(op{kind: opBhEnable}, 0)
}

// SpinLockIrqsave is spin_lock_irqsave(l, flags).
func (f *Ctx) SpinLockIrqsave(l *Spinlock) IrqFlags {
	fl := IrqFlags(f.point(op{kind: opIrqSave}, 0))
	f.point(op{kind: opPreemptDisable}, 0)
	f.spinAcquire(l)
	return fl
}

// SpinUnlockIrqrestore is spin_unlock_irqrestore(l, flags).
func (f *Ctx) SpinUnlockIrqrestore(l *Spinlock, fl IrqFlags) {
	f.mustHold(l, "spin_unlock_irqrestore")
	f.point(op{kind: opStoreRelease, cell: l.word, a: 0}, 0)
	f.point(op{kind: opIrqRestore, a: uint64(fl)}, 0)
	f.point(op{kind: opPreemptEnable}, 0)
}

// mustHold is BUG_ON(!spin_is_locked(l)) in the unlock named fn, naming
// the unlock's line that calls it, as BugOn would. It builds its message
// only when it fails: BugOn's arguments would allocate at every unlock.
func (f *Ctx) mustHold(l *Spinlock, fn string) {
	if !l.locked() {
		f.m.fail(f.failureHere(KindBug, fn+"("+l.word.name+") of an unlocked lock", 1))
	}
}

// Mutex is a sleeping lock (struct mutex): a task that finds it held
// sleeps and gives up its CPU until the holder unlocks it.
type Mutex struct {
	name    string
	owner   *Task
	waiters []*Task
}

// NewMutex makes an unlocked mutex named name.
func (m *Machine) NewMutex(name string) *Mutex { return &Mutex{name: name} }

// MutexLock is mutex_lock(mu). Sleeping is allowed only in task context
// with preemption, bh and irqs enabled; anywhere else it is the kernel's
// "sleeping function called from invalid context" BUG.
func (f *Ctx) MutexLock(mu *Mutex) { f.point(op{kind: opMutexLock, mu: mu}, 0) }

// MutexUnlock is mutex_unlock(mu).
func (f *Ctx) MutexUnlock(mu *Mutex) { f.point(op{kind: opMutexUnlock, mu: mu}, 0) }

func (m *Machine) mutexLock(f *Ctx, o *op, ev *Event) {
	c, mu, t := f.CPU(), o.mu, f.t
	if f.kind != CtxTask || c.preempt > 0 || c.bh > 0 || c.irqsOff {
		m.fail(f.failure(KindBug, fmt.Sprintf("sleeping function called from invalid context: mutex_lock(%s) in %s with preempt_count=%d bh=%d irqs %s",
			mu.name, f.kind, c.preempt, c.bh, onOff(!c.irqsOff)), o))
	}
	if mu.owner == t {
		m.fail(f.failure(KindDeadlock, fmt.Sprintf("task %s locks mutex %s it already holds", t.name, mu.name), o))
	}
	if mu.owner == nil {
		mu.owner = t
		if m.cfg.Trace {
			ev.Value = "acquired " + mu.name
		}
		return
	}
	// Sleep: leave the CPU, wait to be handed the mutex and scheduled again.
	if m.cfg.Trace {
		ev.Value = fmt.Sprintf("%s held by task %s: sleeps", mu.name, mu.owner.name)
		m.record(*ev)
	}
	ev.Kind = EvNone
	t.state, t.sleep = taskSleeping, mu
	m.markTask(t)
	mu.waiters = append(mu.waiters, t)
	c.cur = nil
	m.markCPU(c)
	f.op = op{kind: opMutexWake, mu: mu, file: o.file, line: o.line}
	m.schedule(t)
	m.exec(f)
}

func (m *Machine) mutexUnlock(f *Ctx, o *op, ev *Event) {
	mu := o.mu
	if mu.owner != f.t {
		holder := "nobody"
		if mu.owner != nil {
			holder = "task " + mu.owner.name
		}
		m.fail(f.failure(KindBug, fmt.Sprintf("mutex_unlock(%s) by task %s, held by %s", mu.name, f.t.name, holder), o))
	}
	mu.owner = nil
	if m.cfg.Trace {
		ev.Value = "released " + mu.name
	}
	if len(mu.waiters) > 0 {
		w := mu.waiters[0]
		mu.waiters = mu.waiters[1:]
		mu.owner, w.state, w.sleep = w, taskReady, nil
		m.markTask(w)
		if m.cfg.Trace {
			ev.Value += ", wakes task " + w.name
		}
	}
}
