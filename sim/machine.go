package sim

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"time"
)

// MaxCPUs is the largest machine the simulator builds.
const MaxCPUs = 64

// Config is the machine's setup. Together with the scenario that populates
// the machine and the list of decisions, it determines a run completely.
type Config struct {
	// CPUs is the number of simulated CPUs, 1..MaxCPUs.
	CPUs int
	// MaxSteps bounds the number of decisions in one run; a run that needs
	// more fails with KindStepBudget. 0 means DefaultMaxSteps.
	MaxSteps int
	// Trace records every step with its source position (slower).
	Trace bool
	// Positions records each operation's source position without keeping
	// a trace, so that failures name the line they happened at (slower;
	// Trace implies it).
	Positions bool
	// Watchdog is how long simulated code may run on the host between two
	// scheduling points before the run is reported as hung. Only that
	// code is timed, never the simulator's own work between the points
	// (strategy, trace, bookkeeping), so a run that keeps reaching
	// scheduling points is never stopped, however busy the host is. It is
	// measured in wall time but decides nothing inside the run.
	// 0 means DefaultWatchdog; negative disables it.
	Watchdog time.Duration
	// AllocFailures is how many allocations the strategy may make fail in
	// one run (each a decision, token "f" and the CPU).
	AllocFailures int
	// Host, when set, runs the machine on goroutines kept from earlier
	// runs (see Host); nil runs it on goroutines of its own.
	Host *Host
	// Cover, when set, collects the run's concurrency coverage (implies
	// Positions).
	Cover *Coverage
	// Stop, when closed, stops the run within stopGrain decisions:
	// Result.Err is then ErrStopped, and the run is neither a pass nor a
	// failure. It lets a command end a long run when it is interrupted,
	// rather than wait for it.
	Stop <-chan struct{}
}

// ErrStopped is the error of a run that Config.Stop stopped.
var ErrStopped = errors.New("the run was stopped before its end")

// stopGrain is how many decisions go by between two looks at Config.Stop:
// a look costs a channel poll, a decision tens of nanoseconds.
const stopGrain = 1024

// Defaults for Config fields left zero.
const (
	DefaultMaxSteps = 200_000
	DefaultWatchdog = 10 * time.Second
)

// Machine is one simulated multi-core machine for one run. Build it with
// New, populate it (cells, tasks, interrupt sources, softirq handlers),
// then call Run once.
type Machine struct {
	cfg      Config
	cpus     []*CPU
	tasks    []*Task // user tasks, in creation order
	irqs     []*IRQSource
	softirqs [NrSoftirqs]softirqAction
	strategy Strategy

	step      int       // decisions taken so far
	decisions []Move    // every decision, in order
	moves     []Move    // the possible moves (see enabled)
	initMv    []Move    // the moves while the init task runs
	dirty     uint64    // CPUs whose moves may have changed, by bit
	spinners  []*Ctx    // contexts waiting in cpu_relax
	freeBufs  [][]watch // spin buffers of ended frames (see spinBuffers)
	frameSeq  int       // numbers frames for strategies and traces
	frames    []Ctx     // frames made and not yet handed out (see newFrame)
	next      *Task     // the coroutine to run next (see handOff)
	finished  bool      // the run is over: points unwind
	failure   *Failure
	err       error // a strategy error (replay divergence)
	trace     []Event
	scratch   Event // exec's event, built only when tracing
	started   bool

	init          *Task        // runs alone, before any other task or interrupt
	initing       bool         // init has not exited yet
	objects       []*Object    // every object the allocator made, by handle - 1
	kmalloc       []*KmemCache // kmalloc's generic caches, made on demand
	allocFailures int          // injections left
	costs         costCounts
	scoped        bool // count costs only inside Ctx.Account

	preemptions, interrupts, switches int
	lastCPU                           int

	acc     Access  // what the latest decision touched (see LastAccess)
	accDone bool    // acc is complete (see endAccess)
	cellSeq uint32  // cells made so far
	cells   []*Cell // every cell, in order of making

	runner *runner // the driver and coroutines of this run

	// The watchdog's view of the run (see toUser): the run goroutines
	// write sec, inUser and lastFrame, and publish them through section,
	// which the watchdog reads and, giving up on the run, claims.
	sec       uint64 // stretches of simulated code started so far, times two
	inUser    bool
	lastFrame *Ctx // the frame whose simulated code runs now or ran last
	section   atomic.Uint64
}

// hungSection is section's value once the watchdog has given up on the
// run; the stretch counter never reaches it.
const hungSection = ^uint64(0)

// New makes a machine with cfg.CPUs idle CPUs.
func New(cfg Config) (*Machine, error) {
	if cfg.CPUs < 1 || cfg.CPUs > MaxCPUs {
		return nil, fmt.Errorf("sim: %d CPUs: want 1..%d", cfg.CPUs, MaxCPUs)
	}
	if cfg.MaxSteps < 0 {
		return nil, fmt.Errorf("sim: step budget %d: must not be negative", cfg.MaxSteps)
	}
	if cfg.MaxSteps == 0 {
		cfg.MaxSteps = DefaultMaxSteps
	}
	if cfg.Watchdog == 0 {
		cfg.Watchdog = DefaultWatchdog
	}
	cfg.Positions = cfg.Positions || cfg.Trace || cfg.Cover != nil
	m := &Machine{cfg: cfg, allocFailures: cfg.AllocFailures, lastCPU: -1}
	cpus := make([]CPU, cfg.CPUs) // one allocation for them all
	m.cpus = make([]*CPU, cfg.CPUs)
	for i := range cpus {
		cpus[i] = CPU{m: m, id: i}
		m.cpus[i] = &cpus[i]
	}
	return m, nil
}

// CPUs returns the number of CPUs.
func (m *Machine) CPUs() int { return len(m.cpus) }

// Step returns the number of decisions taken so far. Simulated code that
// reads it (to time-stamp calls in a history) makes the decision it runs
// in depend on every other decision that reads it: the order of two
// time-stamps is observable, their distance is not (equivalent schedules
// may give a call other numbers, so keep them out of the end state).
func (m *Machine) Step() int {
	if m.inUser {
		m.touchClock()
	}
	return m.step
}

// Any pins nothing: a task created with it may run on, and migrate to, any CPU
// when it is preempted.
const Any = -1

// Go adds a task named name that runs fn. pin is the CPU it must run on, or
// Any. Tasks start when the strategy first schedules them.
func (m *Machine) Go(name string, pin int, fn func(*Ctx)) *Task {
	if m.started {
		panic("sim: Go after Run")
	}
	if pin != Any && (pin < 0 || pin >= len(m.cpus)) {
		panic(fmt.Sprintf("sim: task %s pinned to CPU%d of %d", name, pin, len(m.cpus)))
	}
	mustName("task", name)
	for _, t := range m.tasks {
		if t.name == name {
			panic("sim: two tasks named " + name)
		}
	}
	t := &Task{m: m, id: len(m.tasks), name: name, fn: fn, pin: pin}
	t.startFrames(opStart)
	if m.tasks == nil {
		m.tasks = make([]*Task, 0, 8) // a workload's few tasks, at once
	}
	m.tasks = append(m.tasks, t)
	return t
}

// startFrames gives the task its task frame, frames[0], whose pending
// operation is kind. The frame and the first frames' backing are part of
// the task: one allocation, however many interrupts nest on it (up to
// len(frameBuf)).
func (t *Task) startFrames(kind opKind) {
	m := t.m
	m.frameSeq++
	t.base = Ctx{m: m, t: t, kind: CtxTask, name: t.name, id: m.frameSeq, op: op{kind: kind}}
	t.frames = append(t.frameBuf[:0], &t.base)
}

func mustName(what, name string) {
	if name == "" {
		panic("sim: empty " + what + " name")
	}
	for _, r := range name {
		if r <= ' ' || r == '*' || r == ':' || r == '#' || r > '~' {
			panic(fmt.Sprintf("sim: %s name %q: use printable ASCII without spaces, '*', ':' or '#'", what, name))
		}
	}
}

// newFrame makes an interrupt or softirq frame. Frames are allocated a
// few at a time: a run makes one for every interrupt and softirq it runs.
func (m *Machine) newFrame(t *Task, kind CtxKind, name string, cpu *CPU) *Ctx {
	if len(m.frames) == 0 {
		m.frames = make([]Ctx, 8)
	}
	f := &m.frames[0]
	m.frames = m.frames[1:]
	m.frameSeq++
	*f = Ctx{m: m, t: t, kind: kind, name: name, cpu: cpu, id: m.frameSeq}
	return f
}

// Result is what one run produced.
type Result struct {
	// CPUs is the machine's size.
	CPUs int
	// Steps is the number of decisions taken.
	Steps int
	// Decisions is every decision in order: replaying them rebuilds the run.
	Decisions []Move
	// Failure is what went wrong, or nil for a clean run.
	Failure *Failure
	// Trace holds every step when Config.Trace was set.
	Trace []Event
	// Err is set when the strategy could not go on (a replayed schedule
	// that does not fit this machine). The run is then incomplete.
	Err error
	// Costs count the operations that cost on real hardware.
	Costs Costs
	// Preemptions and Interrupts count the decisions that preempted a
	// running task or fired an interrupt; Switches counts decisions that
	// advanced a different CPU than the decision before.
	Preemptions, Interrupts, Switches int

	m *Machine
}

// Tokens returns the decisions as schedule file tokens (see FormatMove).
func (r Result) Tokens() []string {
	t := make([]string, len(r.Decisions))
	for i, mv := range r.Decisions {
		t[i] = r.m.FormatMove(mv)
	}
	return t
}

// Run runs the machine to its end under s: until every task has finished
// and no interrupt is left to fire, or until a failure. A machine runs once.
func (m *Machine) Run(s Strategy) Result {
	if m.started {
		panic("sim: Run called twice")
	}
	m.started = true
	m.strategy = s
	if m.cfg.Cover != nil {
		m.cfg.Cover.startRun()
	}
	m.addKsoftirqd()
	m.startMoves()
	h := m.cfg.Host
	if h == nil {
		h = NewHost()
		defer h.Close()
	}
	r := h.runner()
	m.runner = r
	// Room for as many decisions as the host's last run took, and some:
	// runs in a row tend to be alike, and the list is the run's to keep.
	m.decisions = make([]Move, 0, h.steps+h.steps/4)
	if r.inline {
		return m.driveInline(h)
	}
	var tick <-chan time.Time
	if m.cfg.Watchdog > 0 {
		tick = h.ticker(m.cfg.Watchdog / 4)
	}
	r.jobs <- m.drive
	// The watchdog counts the ticks that find the same stretch of
	// simulated code still running; it gives up after a Watchdog's worth.
	var last uint64
	var still time.Duration
	for {
		select {
		case alive := <-r.done:
			if !alive {
				h.r = nil
			}
			h.steps = m.step
			return m.result()
		case <-tick:
			sec := m.section.Load()
			if sec&1 == 0 || sec != last {
				last, still = sec, 0
				continue
			}
			if still += m.cfg.Watchdog / 4; still < m.cfg.Watchdog {
				continue
			}
			if m.section.CompareAndSwap(sec, hungSection) {
				h.abandon()
				return m.watchdog()
			}
		}
	}
}

// driveInline drives m on the calling goroutine, the host's driver in a
// batch (Host.Do), whose watchdog watches it meanwhile. When the watchdog
// gives up on it, the driver ends here: Do has reported this run, and the
// rest of the batch must not run.
func (m *Machine) driveInline(h *Host) Result {
	h.cur.Store(m)
	m.drive()
	if m.section.Load() == hungSection {
		runtime.Goexit()
	}
	h.cur.CompareAndSwap(m, nil)
	h.steps = m.step
	return m.result()
}

// toUser starts a stretch of simulated code, the only time the watchdog
// counts. Only the goroutine running the machine calls toUser and toSim.
func (m *Machine) toUser() {
	m.sec += 2
	m.inUser = true
	m.section.Store(m.sec | 1)
}

// toSim ends the stretch of simulated code, if one runs, and unwinds the
// calling coroutine if the watchdog has already given up on the run.
func (m *Machine) toSim() {
	if !m.leaveUser() {
		panic(errAbort)
	}
}

// leaveUser is toSim without the unwinding: it reports false when the
// watchdog has given up on the run, which must then change nothing the
// watchdog's result reads (steps, decisions, trace).
func (m *Machine) leaveUser() bool {
	if !m.inUser {
		return m.section.Load() != hungSection
	}
	m.inUser = false
	return m.section.CompareAndSwap(m.sec|1, m.sec)
}

// EndFailure records f, found by an end-of-run check after a clean run,
// as the run's failure, and returns the run's result with it.
func (m *Machine) EndFailure(f *Failure) Result {
	f.Step, f.CPU = m.step, -1
	if f.Source == "" && f.Check == "" {
		f.Check = "end-of-run check"
	}
	m.failure = f
	m.record(Event{Kind: EvFailure, CPU: -1, Note: "end-of-run check: " + f.Kind + ": " + f.Message, Value: f.Value})
	return m.result()
}

func (m *Machine) result() Result {
	return Result{CPUs: len(m.cpus), Steps: m.step, Decisions: m.decisions, Failure: m.failure, Trace: m.trace, Err: m.err, Costs: m.costs.costs(),
		Preemptions: m.preemptions, Interrupts: m.interrupts, Switches: m.switches, m: m}
}

// watchdog reports a run whose simulated code stopped reaching scheduling
// points. Having claimed section, it reads what the run published before
// that stretch began: the stuck code can only unwind from now on, without
// touching steps, decisions or trace.
func (m *Machine) watchdog() Result {
	f := m.lastFrame
	fail := &Failure{
		Kind: KindWatchdog,
		Message: fmt.Sprintf("simulated code ran for %v of host time without reaching a scheduling point after step %d in %s (a judgement of host time, not a verdict on the schedule)",
			m.cfg.Watchdog, m.step, f.label()),
		Step:    m.step,
		CPU:     -1,
		Context: f.label(),
	}
	trace := m.trace
	if m.cfg.Trace {
		trace = append(slices.Clip(trace), Event{Step: m.step, Kind: EvFailure, CPU: -1, Note: fail.Kind + ": " + fail.Message})
	}
	return Result{CPUs: len(m.cpus), Steps: m.step, Decisions: slices.Clone(m.decisions), Failure: fail, Trace: trace, m: m}
}

// drive runs the whole schedule on the run's own goroutine: it takes the
// first decisions, then resumes whichever coroutine they name, which hand
// control on among themselves (see handOff) and back to the driver when
// one exits with the next coroutine parked, until none is named; finally
// it unwinds every coroutine still parked.
func (m *Machine) drive() {
	m.schedule(nil)
	for m.next != nil {
		m.next.resume()
	}
	m.finished = true
	if m.failure == nil && m.err == nil && m.section.Load() != hungSection {
		m.checkStuck()
	}
	for _, c := range m.cpus {
		if c.idle != nil {
			c.idle.stop()
		}
	}
	for _, t := range m.tasks {
		t.stop()
	}
}

// errAbort unwinds a coroutine whose run is over.
var errAbort = errors.New("sim: run aborted")

// fail records f as the run's failure and ends the run. Called from
// simulated code's goroutine, it unwinds that goroutine.
func (m *Machine) fail(f *Failure) {
	m.toSim()
	if m.failure == nil {
		if f.Step == 0 {
			f.Step = m.step
		}
		m.failure = f
		m.record(Event{Kind: EvFailure, CPU: f.CPU, frame: f.frame, Note: f.Kind + ": " + f.Message})
	}
	m.finished = true
	m.next = nil
	panic(errAbort)
}

// Task is a simulated kernel thread: a named function running in task
// context, pinned to one CPU or free to migrate when preempted.
type Task struct {
	m      *Machine
	id     int
	name   string
	fn     func(*Ctx)
	pin    int
	idleOf *CPU // set for a CPU's idle task
	kernel bool // a kernel thread (ksoftirqd): the run may end while it sleeps
	state  taskState
	cpu    *CPU   // the CPU it runs on, or last ran on
	frames []*Ctx // frames[0] is the task frame; interrupt frames nest above
	prio   int    // scheduling priority: higher preempts lower, never the reverse

	w       *worker // the coroutine carrying the task, while its body runs
	yield   func(struct{}) bool
	chained bool // blocked resuming another coroutine (see handOff)
	wake    wakeKind
	irq     *IRQSource // the interrupt to deliver on wakeIRQ
	sleep   *Mutex     // the mutex a sleeping task waits for

	// Last, apart from the fields above that every decision reads.
	frameBuf [4]*Ctx // frames' first backing
	base     Ctx     // the task frame (see startFrames)
}

type taskState uint8

const (
	taskNew taskState = iota
	taskReady
	taskRunning
	taskSleeping
	taskDone
)

func (s taskState) String() string {
	return [...]string{"not started", "ready", "running", "sleeping", "done"}[s]
}

type wakeKind uint8

const (
	wakeStep wakeKind = iota // run the top frame's pending operation
	wakeIRQ                  // deliver t.irq, then decide again
)

// Init adds a task that runs alone on CPU0 before anything else: no other
// task is scheduled and no interrupt fires until it returns, as a module's
// init runs before its device is opened. A machine has at most one.
func (m *Machine) Init(name string, fn func(*Ctx)) *Task {
	if m.init != nil {
		panic("sim: a second Init")
	}
	m.init = m.Go(name, 0, fn)
	m.initing = true
	return m.init
}

// SetPriority gives the task a scheduling priority (0 by default), like a
// real-time priority: a task can preempt only a task of equal or lower
// priority, so a higher-priority task that spins keeps a lower-priority
// one it preempted off its CPU.
func (t *Task) SetPriority(p int) {
	if t.m.started {
		panic("sim: SetPriority after Run")
	}
	t.prio = p
}

func (t *Task) top() *Ctx { return t.frames[len(t.frames)-1] }

// resume starts or continues the task's coroutine until it hands control
// back to its caller, the driver or another task's coroutine. A body that
// returns frees its coroutine for the next task.
func (t *Task) resume() {
	if t.w == nil {
		t.w = t.m.runner.worker()
		t.w.task = t
	}
	t.w.next()
	if t.w.task == nil {
		t.m.runner.free = append(t.m.runner.free, t.w)
		t.w = nil
	}
}

// stop unwinds a coroutine parked in a scheduling point: once the run is
// finished, resuming it makes it unwind.
func (t *Task) stop() {
	if t.w != nil {
		t.resume()
	}
}

// body is the coroutine: the task's function, framed by the machine.
func (t *Task) body(yield func(struct{}) bool) {
	m := t.m
	t.yield = yield
	defer m.recoverTask(t)
	m.next = nil // the task was named to start
	if !m.resumed(t) {
		m.schedule(t)
	}
	f := t.frames[0]
	if t.idleOf != nil {
		for {
			f.point(op{kind: opIdle}, 0)
		}
	}
	m.exec(f) // start
	m.lastFrame = f
	m.toUser()
	t.fn(f)
	m.toSim()
	m.exitTask(t)
	m.schedule(nil)
}

// recoverTask turns a panic in simulated code into the run's failure.
func (m *Machine) recoverTask(t *Task) {
	r := recover()
	if !m.leaveUser() {
		m.finished, m.next = true, nil
		return
	}
	if r == nil || r == errAbort {
		return
	}
	if m.failure == nil && !m.finished {
		m.failure = panicFailure(t.top(), r)
		m.record(Event{Kind: EvFailure, CPU: m.failure.CPU, frame: t.top(), Note: m.failure.Kind + ": " + m.failure.Message})
	}
	m.finished = true
	m.next = nil
}

func (m *Machine) exitTask(t *Task) {
	c := t.cpu
	if m.cfg.Trace {
		m.record(Event{Kind: EvExit, CPU: c.id, frame: t.frames[0]})
	}
	t.state = taskDone
	c.cur = nil
	m.markTask(t)
	m.markCPU(c)
	if t == m.init {
		m.initing = false
		m.markAll()
	}
}
