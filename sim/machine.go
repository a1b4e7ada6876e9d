package sim

import (
	"errors"
	"fmt"
	"iter"
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
	// Watchdog is how long simulated code may run on the host without
	// reaching a scheduling point before the run is reported as hung.
	// It is measured in wall time but decides nothing inside the run.
	// 0 means DefaultWatchdog; negative disables it.
	Watchdog time.Duration
	// AllocFailures is how many allocations the strategy may make fail in
	// one run (each a decision, token "f" and the CPU).
	AllocFailures int
}

// Defaults for Config fields left zero.
const (
	DefaultMaxSteps = 200_000
	DefaultWatchdog = 2 * time.Second
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

	step      int    // decisions taken so far
	decisions []Move // every decision, in order
	moves     []Move // scratch for enabled()
	frameSeq  int    // numbers frames for strategies and traces
	next      *Task  // the coroutine the driver resumes next
	finished  bool   // the run is over: points unwind
	failure   *Failure
	err       error // a strategy error (replay divergence)
	trace     []Event
	started   bool

	init          *Task        // runs alone, before any other task or interrupt
	objects       []*Object    // every object the allocator made, by handle - 1
	kmalloc       []*KmemCache // kmalloc's generic caches, made on demand
	allocFailures int          // injections left
	costs         Costs
	scoped        bool // count costs only inside Ctx.Account

	preemptions, interrupts, switches int
	lastCPU                           int

	// Read by the watchdog from another goroutine.
	progress  atomic.Int64
	lastFrame atomic.Pointer[Ctx]
	hung      atomic.Bool
}

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
	m := &Machine{cfg: cfg, allocFailures: cfg.AllocFailures, lastCPU: -1}
	for i := range cfg.CPUs {
		m.cpus = append(m.cpus, &CPU{m: m, id: i})
	}
	return m, nil
}

// CPUs returns the number of CPUs.
func (m *Machine) CPUs() int { return len(m.cpus) }

// Step returns the number of decisions taken so far.
func (m *Machine) Step() int { return m.step }

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
	t.frames = []*Ctx{m.newFrame(t, CtxTask, name, nil)}
	t.frames[0].op = op{kind: opStart}
	m.tasks = append(m.tasks, t)
	return t
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

func (m *Machine) newFrame(t *Task, kind CtxKind, name string, cpu *CPU) *Ctx {
	m.frameSeq++
	return &Ctx{m: m, t: t, kind: kind, name: name, cpu: cpu, id: m.frameSeq}
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
	m.addKsoftirqd()
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.drive()
	}()
	if m.cfg.Watchdog < 0 {
		<-done
		return m.result()
	}
	tick := m.cfg.Watchdog / 4
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	last, still := m.progress.Load(), time.Duration(0)
	for {
		select {
		case <-done:
			return m.result()
		case <-ticker.C:
			p := m.progress.Load()
			if p != last {
				last, still = p, 0
				continue
			}
			if still += tick; still < m.cfg.Watchdog {
				continue
			}
			return m.watchdog()
		}
	}
}

// EndFailure records f, found by an end-of-run check after a clean run,
// as the run's failure, and returns the run's result with it.
func (m *Machine) EndFailure(f *Failure) Result {
	f.Step, f.CPU = m.step, -1
	m.failure = f
	m.record(Event{Kind: EvFailure, CPU: -1, Note: "end-of-run check: " + f.Kind + ": " + f.Message})
	return m.result()
}

func (m *Machine) result() Result {
	return Result{CPUs: len(m.cpus), Steps: m.step, Decisions: m.decisions, Failure: m.failure, Trace: m.trace, Err: m.err, Costs: m.costs,
		Preemptions: m.preemptions, Interrupts: m.interrupts, Switches: m.switches, m: m}
}

// watchdog reports a run whose simulated code stopped reaching scheduling
// points. It reads only what the stuck code published before leaving its
// last scheduling point (lastFrame and progress are stored after it), and
// copies it, because the stuck code may still reach a point later: it then
// sees hung and unwinds.
func (m *Machine) watchdog() Result {
	m.hung.Store(true)
	steps := int(m.progress.Load())
	f := m.lastFrame.Load()
	where := "before the first scheduling point"
	if f != nil {
		where = fmt.Sprintf("after step %d in %s", steps, f.label())
	}
	fail := &Failure{
		Kind:    KindWatchdog,
		Message: fmt.Sprintf("simulated code ran for %v without reaching a scheduling point %s", m.cfg.Watchdog, where),
		Step:    steps,
		CPU:     -1,
	}
	if f != nil {
		fail.Context = f.label()
	}
	return Result{CPUs: len(m.cpus), Steps: steps, Decisions: append([]Move(nil), m.decisions[:steps]...), Failure: fail, m: m}
}

// drive runs the whole schedule on the run's own goroutine: it takes the
// first decisions, then resumes whichever coroutine each decision names
// until none is named, and finally unwinds every coroutine still parked.
func (m *Machine) drive() {
	m.schedule(nil)
	for m.next != nil {
		t := m.next
		m.next = nil
		t.resume()
	}
	m.finished = true
	if m.failure == nil && m.err == nil {
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

	next  func() (struct{}, bool)
	halt  func()
	yield func(struct{}) bool
	wake  wakeKind
	irq   *IRQSource // the interrupt to deliver on wakeIRQ
	sleep *Mutex     // the mutex a sleeping task waits for
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
// back to the driver.
func (t *Task) resume() {
	if t.next == nil {
		t.next, t.halt = iter.Pull(t.body)
	}
	t.next()
}

// stop unwinds a coroutine parked in a scheduling point.
func (t *Task) stop() {
	if t.halt != nil {
		t.halt()
	}
}

// body is the coroutine: the task's function, framed by the machine.
func (t *Task) body(yield func(struct{}) bool) {
	m := t.m
	t.yield = yield
	defer m.recoverTask(t)
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
	t.fn(f)
	m.exitTask(t)
	m.schedule(nil)
}

// recoverTask turns a panic in simulated code into the run's failure.
func (m *Machine) recoverTask(t *Task) {
	r := recover()
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
	m.record(Event{Kind: EvExit, CPU: c.id, frame: t.frames[0]})
	t.state = taskDone
	c.cur = nil
}
