package sim

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// MoveKind is what a decision does.
type MoveKind uint8

const (
	// MoveStep advances the context on top of a CPU by one operation.
	MoveStep MoveKind = iota
	// MoveSwitch makes a task current on a CPU: it preempts the running
	// task there (only where preemption is allowed) or fills an idle CPU.
	MoveSwitch
	// MoveIRQ fires an interrupt source on its CPU (only with irqs on).
	MoveIRQ
	// MoveFailAlloc advances a CPU whose next operation is an allocation,
	// making the allocation fail (only while Config.AllocFailures lasts).
	MoveFailAlloc
)

// Move is one possible decision at a scheduling point.
type Move struct {
	Kind MoveKind
	CPU  uint8
	// Arg is the task number (MoveSwitch) or interrupt source number
	// (MoveIRQ), in creation order.
	Arg uint16
}

// FormatMove writes mv as a schedule file token: "s0" (step CPU0),
// "w1:rx" (switch CPU1 to task rx), "i0:nic" (fire nic on CPU0).
func (m *Machine) FormatMove(mv Move) string {
	switch mv.Kind {
	case MoveSwitch:
		if int(mv.Arg) >= len(m.tasks) {
			return fmt.Sprintf("w%d:?%d", mv.CPU, mv.Arg)
		}
		return "w" + strconv.Itoa(int(mv.CPU)) + ":" + m.tasks[mv.Arg].name
	case MoveIRQ:
		if int(mv.Arg) >= len(m.irqs) {
			return fmt.Sprintf("i%d:?%d", mv.CPU, mv.Arg)
		}
		return "i" + strconv.Itoa(int(mv.CPU)) + ":" + m.irqs[mv.Arg].name
	case MoveFailAlloc:
		return "f" + strconv.Itoa(int(mv.CPU))
	default:
		return "s" + strconv.Itoa(int(mv.CPU))
	}
}

// ParseMove reads a token written by FormatMove against this machine's
// tasks and interrupt sources.
func (m *Machine) ParseMove(tok string) (Move, error) {
	if len(tok) < 2 {
		return Move{}, fmt.Errorf("bad decision %q", tok)
	}
	num, name, named := strings.Cut(tok[1:], ":")
	cpu, err := strconv.Atoi(num)
	if err != nil || cpu < 0 || cpu >= len(m.cpus) {
		return Move{}, fmt.Errorf("decision %q: no CPU %q on a %d-CPU machine", tok, num, len(m.cpus))
	}
	switch tok[0] {
	case 's', 'f':
		if named {
			return Move{}, fmt.Errorf("bad decision %q", tok)
		}
		if tok[0] == 'f' {
			return Move{Kind: MoveFailAlloc, CPU: uint8(cpu)}, nil
		}
		return Move{Kind: MoveStep, CPU: uint8(cpu)}, nil
	case 'w':
		for _, t := range m.tasks {
			if t.name == name {
				return Move{Kind: MoveSwitch, CPU: uint8(cpu), Arg: uint16(t.id)}, nil
			}
		}
		return Move{}, fmt.Errorf("decision %q: no task %q", tok, name)
	case 'i':
		for i, s := range m.irqs {
			if s.name == name && s.cpu.id == cpu {
				return Move{Kind: MoveIRQ, CPU: uint8(cpu), Arg: uint16(i)}, nil
			}
		}
		return Move{}, fmt.Errorf("decision %q: no interrupt %q on CPU%d", tok, name, cpu)
	}
	return Move{}, fmt.Errorf("bad decision %q", tok)
}

// CPU is one simulated processor and its kernel context state.
type CPU struct {
	m         *Machine
	id        int
	cur       *Task // the task in task context, nil when idle
	idle      *Task // created when an interrupt first comes to the idle CPU
	ksoftirqd *Task
	preempt   int  // preempt_disable nesting
	bh        int  // local_bh_disable nesting
	serving   bool // serving a softirq
	hardirq   int  // in a hardirq handler
	irqsOff   bool
	pending   uint32 // raised softirqs
	irqSrc    []*IRQSource
	irqLeft   int     // the budget its sources have left, in all
	cands     []*Task // tasks that may run here (pinned here or free), by number
	moves     []Move  // its possible moves, computed when it was last marked
	off, n    int     // where they are in Machine.moves, and how many
	switches  int     // context switches, for statistics
}

// host is the task whose coroutine carries this CPU's contexts.
func (c *CPU) host() *Task {
	if c.cur != nil {
		return c.cur
	}
	return c.idleTask()
}

// idleTask is the CPU's idle task, made when first needed.
func (c *CPU) idleTask() *Task {
	if c.idle == nil {
		t := &Task{m: c.m, id: -1, name: cpuNames[c.id].idle, pin: c.id, idleOf: c, state: taskRunning, cpu: c}
		t.startFrames(opIdle)
		c.idle = t
		c.m.markCPU(c)
	}
	return c.idle
}

// top is the context that would run next on the CPU, or nil when the CPU
// is idle and has never needed its idle task.
func (c *CPU) top() *Ctx {
	if c.cur != nil {
		return c.cur.top()
	}
	if c.idle != nil {
		return c.idle.top()
	}
	return nil
}

// irqsOn reports whether an interrupt may fire on the CPU now.
func (c *CPU) irqsOn() bool { return !c.irqsOff && c.hardirq == 0 }

func (c *CPU) inInterrupt() bool { return c.hardirq > 0 || c.serving || c.bh > 0 }

// preemptible reports whether the task on the CPU may be switched out now:
// it runs in task context with no preempt or bh disable and irqs on. An
// idle CPU can always take a task.
func (c *CPU) preemptible() bool {
	if c.cur == nil {
		return c.idle == nil || len(c.idle.frames) == 1
	}
	return len(c.cur.frames) == 1 && c.preempt == 0 && c.bh == 0 && !c.serving && c.hardirq == 0 && !c.irqsOff
}

// gates says whether a task could be switched in on the CPU (it is
// preemptible and some task could take it) and whether an interrupt could
// fire (irqs are on and some source has budget left): what of its preempt
// and irq state its moves depend on. Preempt, bh and irq operations mark
// the CPU only when they change it, so that a CPU with nothing to switch
// to and no interrupt to come recomputes nothing at each toggle; the tasks
// and sources change only in what marks the CPU anyway.
func (c *CPU) gates() uint8 {
	var g uint8
	if c.irqsOn() && c.irqLeft > 0 {
		g |= 2
	}
	if c.preemptible() {
		for _, t := range c.cands {
			if c.mayTake(t) {
				return g | 1
			}
		}
	}
	return g
}

// mayTake reports whether t may be switched in on the CPU if it is
// preemptible. A task spinning on memory nobody changed since is not
// worth switching to: it would only spin.
func (c *CPU) mayTake(t *Task) bool {
	return (t.state == taskNew || t.state == taskReady) && (c.cur == nil || t.prio >= c.cur.prio) && t.top().runnable()
}

// enabled lists the possible moves in a fixed order: by CPU, then step,
// switches by task number, interrupts by source number. The list is kept
// from one decision to the next: only the segments of CPUs whose moves may
// have changed since (see markCPU) are computed again, so that CPUs a
// decision left alone add nothing to its cost.
func (m *Machine) enabled() []Move {
	if m.initing {
		return m.initMoves()
	}
	if m.dirty != 0 {
		m.refresh()
	}
	if checkMoves {
		m.checkEnabled()
	}
	return m.moves
}

// initMoves are the moves while the init task runs: only it moves,
// scheduled on CPU0, then stepped. They are kept apart from the CPUs'
// segments, which are all computed once it has exited.
func (m *Machine) initMoves() []Move {
	m.initMv = m.appendInitMoves(m.initMv[:0])
	return m.initMv
}

func (m *Machine) appendInitMoves(mv []Move) []Move {
	c := m.cpus[0]
	if c.cur == m.init && c.top().runnable() {
		mv = append(mv, Move{Kind: MoveStep, CPU: 0})
	} else if c.cur == nil {
		mv = append(mv, Move{Kind: MoveSwitch, CPU: 0, Arg: uint16(m.init.id)})
	}
	return mv
}

// refresh computes the marked CPUs' moves again. Segments that kept
// their length are copied in place; from the first one that did not, the
// list is rebuilt in one pass, however many CPUs changed (when a lock
// many CPUs spin on is released, all of them do).
func (m *Machine) refresh() {
	first := len(m.cpus) // the first CPU whose number of moves changed
	for d := m.dirty; d != 0; d &= d - 1 {
		c := m.cpus[bits.TrailingZeros64(d)]
		c.moves = c.appendMoves(c.moves[:0])
		if len(c.moves) != c.n {
			first = min(first, c.id)
		} else if c.id < first {
			copy(m.moves[c.off:], c.moves)
		}
	}
	m.dirty = 0
	if first == len(m.cpus) {
		return
	}
	mv := m.moves[:m.cpus[first].off]
	for _, c := range m.cpus[first:] {
		c.off, c.n = len(mv), len(c.moves)
		mv = append(mv, c.moves...)
	}
	m.moves = mv
}

// appendMoves appends the CPU's possible moves to mv.
func (c *CPU) appendMoves(mv []Move) []Move {
	m, id := c.m, uint8(c.id)
	if f := c.top(); f != nil && f.runnable() {
		mv = append(mv, Move{Kind: MoveStep, CPU: id})
		if f.op.kind == opSlabAlloc && m.allocFailures > 0 {
			mv = append(mv, Move{Kind: MoveFailAlloc, CPU: id})
		}
	}
	if c.preemptible() {
		for _, t := range c.cands {
			if c.mayTake(t) {
				mv = append(mv, Move{Kind: MoveSwitch, CPU: id, Arg: uint16(t.id)})
			}
		}
	}
	if c.irqsOn() {
		for _, s := range c.irqSrc {
			if s.left > 0 {
				mv = append(mv, Move{Kind: MoveIRQ, CPU: id, Arg: uint16(s.num)})
			}
		}
	}
	return mv
}

// startMoves readies the move list before the first decision: which
// tasks may run on each CPU, and every CPU's moves still to compute.
func (m *Machine) startMoves() {
	// The most moves a CPU can have: a step, an allocation failure, every
	// switch and every interrupt. One backing holds every CPU's
	// candidates, and one every CPU's moves and the machine's.
	ncands, most := 0, 0
	for _, c := range m.cpus {
		for _, t := range m.tasks {
			if t.pin == Any || t.pin == c.id {
				ncands++
			}
		}
		most += 2 + len(c.irqSrc)
	}
	most += ncands
	cands := make([]*Task, 0, ncands)
	moves := make([]Move, 2*most)
	m.moves, moves = moves[:0:most], moves[most:]
	for _, c := range m.cpus {
		start := len(cands)
		for _, t := range m.tasks {
			if t.pin == Any || t.pin == c.id {
				cands = append(cands, t)
			}
		}
		c.cands = cands[start:len(cands):len(cands)]
		n := 2 + len(c.cands) + len(c.irqSrc)
		c.moves, moves = moves[:0:n], moves[n:]
	}
	m.markAll()
}

// markCPU notes that c's moves may have changed. A decision marks only
// what it changes that the moves depend on (see appendMoves), so that a
// plain memory operation recomputes nothing: the top frame (interrupts
// and softirqs pushing and popping theirs, a task leaving or taking the
// CPU), whether it can run (cpu_relax), whether its operation is an
// allocation that may fail (point), preemptibility and irqs (gates), an
// interrupt source's budget, the state of a task (markTask), a cell that
// a spinning context watches (wakeSpinners), the injection budget running
// out and the init task's exit (every CPU).
func (m *Machine) markCPU(c *CPU) { m.dirty |= 1 << c.id }

func (m *Machine) markAll() { m.dirty = 1<<len(m.cpus) - 1 }

// markTask notes that t's state changed: every CPU it may be switched to
// has other moves now.
func (m *Machine) markTask(t *Task) {
	if t.pin == Any {
		m.markAll()
	} else {
		m.dirty |= 1 << t.pin
	}
}

// startSpinning makes f wait in cpu_relax for its watched cells to change.
func (m *Machine) startSpinning(f *Ctx) {
	f.spinning = true
	m.markCPU(f.CPU())
	for _, w := range f.watch {
		w.cell.watchers++
	}
	m.spinners = append(m.spinners, f)
}

// stopSpinning ends f's wait, if it waits.
func (m *Machine) stopSpinning(f *Ctx) {
	if !f.spinning {
		return
	}
	f.spinning = false
	for _, w := range f.watch {
		w.cell.watchers--
	}
	i := slices.Index(m.spinners, f)
	m.spinners[i] = m.spinners[len(m.spinners)-1]
	m.spinners = m.spinners[:len(m.spinners)-1]
}

// wakeSpinners marks the CPUs of every spinning context after a write to a
// cell one of them watches: the write may have let it go on.
func (m *Machine) wakeSpinners() {
	for _, f := range m.spinners {
		m.markCPU(f.CPU())
		if s := f.t.state; s == taskNew || s == taskReady {
			m.markTask(f.t)
		}
	}
}

// rescan computes the possible moves from scratch, into a new list: what
// enabled must return (checked in builds with the simcheck tag, and by
// the tests).
func (m *Machine) rescan() []Move {
	if m.initing {
		return m.appendInitMoves(nil)
	}
	var all []Move
	for _, c := range m.cpus {
		all = c.appendMoves(all)
	}
	return all
}

// checkEnabled compares the kept move list with a rescan.
func (m *Machine) checkEnabled() {
	if all := m.rescan(); !slices.Equal(all, m.moves) {
		panic(fmt.Sprintf("sim: step %d: kept moves %v, computed %v", m.step, m.moves, all))
	}
}

// stepBudgetSpent records the failure of a run that reached
// Config.MaxSteps.
func (m *Machine) stepBudgetSpent() {
	m.failure = &Failure{Kind: KindStepBudget, Step: m.step, CPU: -1,
		Message: fmt.Sprintf("no end after %d steps (livelock, or a budget too small for the workload)", m.step)}
	m.record(Event{Kind: EvFailure, CPU: -1, Note: m.failure.Kind + ": " + m.failure.Message})
}

// stopped reports whether Config.Stop is closed, and then ends the run
// with ErrStopped.
func (m *Machine) stopped() bool {
	select {
	case <-m.cfg.Stop:
		m.err = fmt.Errorf("step %d: %w", m.step, ErrStopped)
		m.finished = true
		return true
	default:
		return false
	}
}

// badChoice records why the strategy could not go on: it failed, or it
// chose move i of n.
func (m *Machine) badChoice(i, n int, err error) {
	if err == nil {
		err = fmt.Errorf("strategy chose move %d of %d", i, n)
	}
	m.err = fmt.Errorf("step %d: %w", m.step, err)
	m.finished = true
}

// schedule takes decisions until one advances self's top frame, and
// returns to run it. Moves on other CPUs hand control to their coroutine
// (see handOff). self is nil when the caller cannot continue (the driver,
// or a task that has exited): schedule then names the next coroutine in
// m.next and returns.
//
// Each decision is taken here, in the loop, rather than in a function of
// its own: this is the hottest path of the machine. The run is over when
// no move is possible, the step budget is spent, or the strategy gave up;
// the rare ends are apart (stepBudgetSpent, badChoice).
func (m *Machine) schedule(self *Task) {
	for {
		if m.finished || m.step >= m.cfg.MaxSteps {
			m.endRun(self)
			return
		}
		if m.step%stopGrain == 0 && m.cfg.Stop != nil && m.stopped() {
			m.endRun(self)
			return
		}
		moves := m.moves // enabled's answer, unless it has work to do
		if m.initing || m.dirty != 0 || checkMoves {
			moves = m.enabled()
		}
		if len(moves) == 0 {
			m.endRun(self)
			return
		}
		var i int
		var err error
		if r, ok := m.strategy.(*Random); ok {
			i = r.intN(len(moves)) // Random.Choose, called directly: the common case
		} else {
			i, err = m.strategy.Choose(m, moves)
		}
		if err != nil || uint(i) >= uint(len(moves)) {
			m.badChoice(i, len(moves), err)
			m.endRun(self)
			return
		}
		mv := moves[i]
		m.step++
		m.decisions = append(m.decisions, mv)
		m.beginAccess(mv)
		if int(mv.CPU) != m.lastCPU {
			if m.lastCPU >= 0 {
				m.switches++
			}
			m.lastCPU = int(mv.CPU)
		}
		c := m.cpus[mv.CPU]
		switch mv.Kind {
		case MoveSwitch:
			if c.cur != nil {
				m.preemptions++
			}
			m.switchTo(c, m.tasks[mv.Arg])
			continue
		case MoveIRQ:
			m.interrupts++
			src := m.irqs[mv.Arg]
			src.left--
			c.irqLeft--
			m.markCPU(c)
			host := c.host()
			if host == self {
				m.deliverIRQ(self, src)
				continue
			}
			host.wake, host.irq = wakeIRQ, src
			m.next = host
		default:
			host := c.host()
			if mv.Kind == MoveFailAlloc {
				host.top().failAlloc = true
			}
			if host == self {
				return
			}
			host.wake = wakeStep
			m.next = host
		}
		if self == nil {
			return
		}
		m.handOff(self)
		if m.resumed(self) {
			return
		}
	}
}

// endRun ends the run when no decision can be taken, unwinding self if it
// is a coroutine that would go on. A spent step budget is a failure.
func (m *Machine) endRun(self *Task) {
	if !m.finished && m.step >= m.cfg.MaxSteps {
		m.stepBudgetSpent()
	}
	m.finished = true
	m.next = nil
	if self != nil {
		panic(errAbort)
	}
}

// handOff runs the coroutine named in m.next until a decision names self
// again. A coroutine resumes the next one itself, one switch, rather than
// through the driver, two: the coroutines blocked in resume form a chain
// down from the driver, and a coroutine on that chain (or the driver,
// when the run is over) is reached by yielding up to it. Each coroutine
// that gets control takes its turn if it is named, resumes the named one
// if that one is parked, and yields up otherwise.
func (m *Machine) handOff(self *Task) {
	for {
		switch t := m.next; {
		case t == self:
			m.next = nil
			return
		case t != nil && !t.chained:
			self.chained = true
			t.resume()
			self.chained = false
		default:
			if !self.yield(struct{}{}) || m.finished {
				panic(errAbort)
			}
		}
	}
}

// resumed handles why a coroutine was resumed. It reports true when the
// task's top frame must now run its pending operation.
func (m *Machine) resumed(t *Task) bool {
	if t.wake == wakeIRQ {
		m.deliverIRQ(t, t.irq)
		return false
	}
	return true
}

// switchTo makes t the running task on c, preempting the current one.
func (m *Machine) switchTo(c *CPU, t *Task) {
	prev := c.cur
	if prev != nil {
		prev.state = taskReady
		m.markTask(prev)
	}
	from := t.cpu
	t.state, t.cpu, c.cur = taskRunning, c, t
	m.markTask(t)
	m.markCPU(c)
	c.switches++
	if m.cfg.Trace {
		note := "schedule " + t.name
		if prev != nil {
			note = "preempt " + prev.name + ", switch to " + t.name
		}
		if from != nil && from != c {
			note += fmt.Sprintf(" (migrated from CPU%d)", from.id)
		}
		m.record(Event{Kind: EvSwitch, CPU: c.id, frame: t.frames[0], Note: note, Decision: true})
	}
}

// deliverIRQ runs src's handler nested on top of t's current frame, then
// irq_exit: pending softirqs run unless the interrupted context is
// itself in interrupt (serving a softirq or with bh disabled).
func (m *Machine) deliverIRQ(t *Task, src *IRQSource) {
	c := src.cpu
	f := m.newFrame(t, CtxHardirq, src.name, c)
	if m.cfg.Trace {
		m.record(Event{Kind: EvIRQ, CPU: c.id, frame: f, Note: "hardirq " + src.name + " fires", Decision: true})
	}
	c.hardirq++
	savedIrqsOff := c.irqsOff
	c.irqsOff = true // handlers run with irqs off
	t.frames = append(t.frames, f)
	m.markCPU(c)
	m.lastFrame = f
	m.toUser()
	src.handler(f)
	m.toSim()
	m.popFrame(t)
	c.irqsOff = savedIrqsOff
	c.hardirq--
	if m.cfg.Trace {
		m.record(Event{Kind: EvIRQExit, CPU: c.id, frame: f, Note: "irq_exit"})
	}
	if c.pending != 0 && !c.inInterrupt() {
		m.doSoftirq(t, c)
	}
}

// popFrame ends the interrupt or softirq frame on top of t; its spin
// buffers go to the next frame that reads.
func (m *Machine) popFrame(t *Task) {
	f := t.top()
	m.stopSpinning(f)
	t.frames = t.frames[:len(t.frames)-1]
	if f.reads != nil {
		m.freeBufs = append(m.freeBufs, f.reads[:0]) // the whole buffer
		f.reads, f.watch = nil, nil
	}
	m.markCPU(f.CPU())
}

// maxSoftirqRestart bounds how often do_softirq re-reads the pending mask,
// as the kernel's MAX_SOFTIRQ_RESTART does; what is left stays pending for
// the next irq_exit, local_bh_enable or the idle CPU.
const maxSoftirqRestart = 10

// doSoftirq runs pending softirq handlers in a softirq frame on top of t.
// Handlers run with irqs on, so hardirqs may nest above them.
func (m *Machine) doSoftirq(t *Task, c *CPU) {
	f := m.newFrame(t, CtxSoftirq, "softirq", c)
	t.frames = append(t.frames, f)
	c.serving = true
	m.markCPU(c)
	savedIrqsOff := c.irqsOff
	for range maxSoftirqRestart {
		pending := c.pending
		if pending == 0 {
			break
		}
		c.pending = 0
		c.irqsOff = false
		m.markCPU(c) // handlers run with irqs on, whatever the last one left
		for nr := range NrSoftirqs {
			if pending&(1<<nr) == 0 {
				continue
			}
			a := m.softirqs[nr]
			if a.handler == nil {
				continue
			}
			f.name = a.name
			if m.cfg.Trace {
				m.record(Event{Kind: EvSoftirq, CPU: c.id, frame: f, Note: "softirq " + a.name + " runs"})
			}
			m.lastFrame = f
			m.toUser()
			a.handler(f)
			m.toSim()
		}
	}
	c.irqsOff = savedIrqsOff
	c.serving = false
	m.popFrame(t)
	if c.pending != 0 {
		// Still pending after the restarts: hand them to ksoftirqd.
		m.wakeKsoftirqd(c)
	}
}

// addKsoftirqd makes the per-CPU softirq threads when any softirq is in
// use. They sleep until softirqs are left pending (raised from task
// context, or more than do_softirq's restarts could serve) and then
// compete for their CPU like any task, preempting where that is allowed.
func (m *Machine) addKsoftirqd() {
	used := false
	for _, a := range m.softirqs {
		used = used || a.handler != nil
	}
	if !used {
		return
	}
	ts := make([]Task, len(m.cpus)) // one allocation for them all
	for _, c := range m.cpus {
		name := cpuNames[c.id].ksoftirqd
		for _, t := range m.tasks {
			if t.name == name {
				panic("sim: task name " + name + " is taken by the kernel")
			}
		}
		t := &ts[c.id]
		*t = Task{m: m, id: len(m.tasks), name: name, pin: c.id, kernel: true, state: taskSleeping}
		t.startFrames(opKsoftirqd)
		t.fn = func(f *Ctx) {
			for {
				f.point(op{kind: opKsoftirqd}, 0)
			}
		}
		c.ksoftirqd = t
		m.tasks = append(m.tasks, t)
	}
}

// cpuNames are the names of each CPU's kernel tasks, made once.
var cpuNames = func() (n [MaxCPUs]struct{ idle, ksoftirqd string }) {
	for i := range n {
		n[i].idle, n[i].ksoftirqd = "idle/"+strconv.Itoa(i), "ksoftirqd/"+strconv.Itoa(i)
	}
	return n
}()

// wakeKsoftirqd is wakeup_softirqd().
func (m *Machine) wakeKsoftirqd(c *CPU) {
	if t := c.ksoftirqd; t != nil && t.state == taskSleeping {
		t.state = taskReady
		m.markTask(t)
		if m.cfg.Trace {
			m.record(Event{Kind: EvNote, CPU: c.id, frame: t.frames[0], Note: "wakeup_softirqd"})
		}
	}
}

// checkStuck runs when no move is left: it is the normal end unless some
// task has not finished.
func (m *Machine) checkStuck() {
	var spinning, waiting []string
	var first *Ctx // the first spinner names the place of a soft lockup
	alive := 0
	for _, t := range m.tasks {
		if t.state == taskDone || (t.kernel && t.state == taskSleeping) {
			continue
		}
		alive++
		for _, f := range t.frames {
			if f.spinning {
				first = cmp.Or(first, f)
				spinning = append(spinning, f.spinReport())
			}
		}
		waiting = append(waiting, t.stuckReport())
	}
	for _, c := range m.cpus {
		if c.idle == nil {
			continue
		}
		for _, f := range c.idle.frames {
			if f.spinning {
				alive++
				first = cmp.Or(first, f)
				spinning = append(spinning, f.spinReport())
			}
		}
	}
	if alive == 0 {
		return
	}
	f := &Failure{Step: m.step, CPU: -1}
	if first != nil {
		f.CPU, f.Context, f.Source = first.CPU().id, first.label(), first.relaxAt
		f.Kind = KindSoftLockup
		f.Message = strings.Join(spinning, "; ") + "; no context that can still run can change it [" + strings.Join(waiting, "; ") + "]"
	} else {
		f.Kind = KindDeadlock
		f.Message = "no context can run: " + strings.Join(waiting, "; ")
	}
	m.failure = f
	m.record(Event{Kind: EvFailure, CPU: -1, Note: f.Kind + ": " + f.Message})
}

func (t *Task) stuckReport() string {
	switch t.state {
	case taskSleeping:
		if t.sleep == nil {
			return "task " + t.name + " sleeps"
		}
		holder := "nobody"
		if t.sleep.owner != nil {
			holder = "task " + t.sleep.owner.name
		}
		return fmt.Sprintf("task %s sleeps in mutex_lock(%s) held by %s", t.name, t.sleep.name, holder)
	case taskRunning:
		c := t.cpu
		return fmt.Sprintf("task %s runs on CPU%d (%s, preempt_count=%d, bh=%d, irqs %s)",
			t.name, c.id, t.top().label(), c.preempt, c.bh, onOff(!c.irqsOff))
	default:
		if t.pin != Any {
			if cur := t.m.cpus[t.pin].cur; cur != nil && cur.prio > t.prio {
				return fmt.Sprintf("task %s is %s and waits for CPU%d, which runs higher-priority task %s", t.name, t.state, t.pin, cur.name)
			}
			return fmt.Sprintf("task %s is %s and waits for CPU%d, which cannot be preempted", t.name, t.state, t.pin)
		}
		return fmt.Sprintf("task %s is %s and waits for a CPU that can be preempted", t.name, t.state)
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
