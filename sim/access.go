package sim

import "slices"

// Access is what one decision touched while it ran: its CPU's own state,
// the cells it read or wrote, and whether it touched state that every
// context can observe (the allocator, mutexes and the tasks they wake,
// which task runs where, the injection budget). Reading the step clock
// counts as writing a cell of its own. Two
// decisions whose accesses do not conflict commute: taken in either order
// from the same state they reach the same state, with the same moves
// possible on the way. That is what partial-order reduction relies on.
//
// The machine sees only what simulated code does through a Ctx. Workload
// code that shares Go variables between contexts (a checker's ledger, a
// counter numbering packets) must say so with Ctx.Ghost where it touches
// them, or the reduction may treat those decisions as independent and
// explore one order of them only. Reading the step clock (Machine.Step),
// as histories of calls do, orders a decision against the others that
// read it.
type Access struct {
	CPU    int
	Global bool
	uses   []cellUse
}

// cellUse is a cell's number in its machine (see Cell.id) and whether
// the decision wrote it.
type cellUse struct {
	id    uint32
	write bool
}

// Conflicts reports whether the two decisions' order can matter: they ran
// on the same CPU, either touched global state, or both used one cell and
// at least one of them wrote it.
func (a *Access) Conflicts(b *Access) bool {
	if a.CPU == b.CPU || a.Global || b.Global {
		return true
	}
	for _, u := range a.uses {
		for _, v := range b.uses {
			if u.id == v.id && (u.write || v.write) {
				return true
			}
		}
	}
	return false
}

// Clone returns a copy that later decisions do not change.
func (a *Access) Clone() Access {
	return Access{CPU: a.CPU, Global: a.Global, uses: slices.Clone(a.uses)}
}

// LastAccess returns what the latest decision touched; it is valid until
// the next decision. A strategy reads it at the next Choose, or after the
// run for the run's last decision.
func (m *Machine) LastAccess() *Access {
	m.endAccess()
	return &m.acc
}

// endAccess completes the record of the latest decision. A decision that
// leaves its CPU with a spinning context on top (an interrupt handler
// returning to a task that waits in cpu_relax, say) has made whether that
// CPU can move depend on the cells the spinner watches: it reads them, so
// that a write to them elsewhere is not taken to commute with it.
func (m *Machine) endAccess() {
	if m.accDone || m.step == 0 {
		return
	}
	m.accDone = true
	if f := m.cpus[m.acc.CPU].top(); f != nil && f.spinning {
		for _, w := range f.watch {
			m.touch(w.cell, false)
		}
	}
}

// Preempts reports whether move mv takes the CPU from a task that could
// go on running there: a switch on a CPU whose current task is not
// blocked in a spin.
func (m *Machine) Preempts(mv Move) bool {
	if mv.Kind != MoveSwitch {
		return false
	}
	c := m.cpus[mv.CPU]
	return c.cur != nil && c.cur.top().runnable()
}

// Pending returns what move mv would touch if taken now, as far as it can
// be told before it runs: a compare-and-exchange counts as a write, and a
// step that may run interrupt or softirq handlers counts only its own
// operation (their accesses are decisions of their own).
func (m *Machine) Pending(mv Move) Access {
	a := Access{CPU: int(mv.CPU), Global: mv.Kind == MoveSwitch || mv.Kind == MoveFailAlloc}
	if mv.Kind != MoveStep {
		return a
	}
	f := m.cpus[mv.CPU].top()
	o := &f.op
	if o.cell != nil && o.cell.obj != nil {
		a.Global = true
	}
	switch o.kind {
	case opLoad, opReadOnce, opLoadAcquire:
		a.uses = append(a.uses, cellUse{o.cell.id, false})
	case opStore, opWriteOnce, opStoreRelease, opCmpxchg, opXchg, opAddReturn:
		a.uses = append(a.uses, cellUse{o.cell.id, true})
	case opCpuRelax:
		for _, r := range f.reads {
			a.uses = append(a.uses, cellUse{r.cell.id, false})
		}
	case opMutexLock, opMutexWake, opMutexUnlock, opSlabAlloc, opSlabFree:
		a.Global = true
	}
	if f.spinning {
		for _, w := range f.watch {
			a.uses = append(a.uses, cellUse{w.cell.id, false})
		}
	}
	return a
}

// beginAccess starts recording the decision mv.
func (m *Machine) beginAccess(mv Move) {
	m.accDone = false
	m.acc.CPU = int(mv.CPU)
	m.acc.uses = m.acc.uses[:0]
	m.acc.Global = mv.Kind == MoveSwitch || mv.Kind == MoveFailAlloc
}

// touch records a use of cell c by the running decision.
func (m *Machine) touch(c *Cell, write bool) { m.use(c.id, write) }

// use records a use of the cell numbered id by the running decision.
func (m *Machine) use(id uint32, write bool) {
	for i, u := range m.acc.uses {
		if u.id == id {
			m.acc.uses[i].write = u.write || write
			return
		}
	}
	m.acc.uses = append(m.acc.uses, cellUse{id, write})
}

// wrote reports whether the running decision wrote cell c.
func (m *Machine) wrote(c *Cell) bool {
	if c == nil {
		return false
	}
	for _, u := range m.acc.uses {
		if u.id == c.id {
			return u.write
		}
	}
	return false
}

// Ghost declares that the code running now reads or writes Go state that
// other contexts share (a checker's ledger, a workload's counter): the
// decision it belongs to is then ordered against every other by the
// exhaustive search's reduction. It costs nothing and changes no run.
func (f *Ctx) Ghost() {
	if f.m.inUser {
		f.m.global()
	}
}

// clockID is the step clock's number among the cells: no cell has it.
const clockID = 0

// touchClock records a read of the step clock by the running decision,
// as a write, so that any two decisions reading it are ordered.
func (m *Machine) touchClock() { m.use(clockID, true) }

// global marks the running decision as touching state every context can
// observe.
func (m *Machine) global() { m.acc.Global = true }

// newCellID numbers the machine's cells in the order they are made, so
// that the same cell has the same number in every run that has made it.
func (m *Machine) newCellID() uint32 {
	m.cellSeq++
	return m.cellSeq
}

// Fingerprint summarises the state a run ended in: every cell's value
// and which objects are allocated. Runs that differ only in the order of
// independent decisions end with the same fingerprint.
func (r Result) Fingerprint() uint64 {
	if r.m == nil {
		return 0
	}
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	mix := func(v uint64) {
		for range 8 {
			h = (h ^ (v & 0xff)) * prime
			v >>= 8
		}
	}
	for _, c := range r.m.cells {
		mix(c.v)
	}
	for _, o := range r.m.objects {
		if o.live {
			mix(o.id)
		}
	}
	return h
}
