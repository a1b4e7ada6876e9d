package sim

import (
	"iter"
	"sync/atomic"
	"time"
)

// Host keeps the goroutines that runs execute on, a driver and the
// coroutines that carry tasks, from one run to the next. A program that
// runs many machines in a row (an exploration, a shrink) runs them on one
// Host: the race detector keeps state for every coroutine ever started,
// because Go's runtime does not tell it when a coroutine exits, so fresh
// coroutines for every run grow a race-enabled build without bound.
//
// Which goroutine carries which task decides nothing in a run. A Host
// runs one machine at a time and is not safe for concurrent use; Close
// ends its goroutines.
type Host struct {
	r      *runner
	closed bool
	steps  int // decisions the last run took, to size the next one's list
	// cur is the machine a batch (Do) is driving, for its watchdog.
	cur atomic.Pointer[Machine]
	// newTicker starts the watchdog's clock; tests replace it.
	newTicker func(d time.Duration) (<-chan time.Time, func())
	// The watchdog's clock, kept from one run to the next: its period,
	// its ticks and how to stop it.
	every    time.Duration
	tick     <-chan time.Time
	stopTick func()
}

// NewHost returns a host with no goroutines yet: they start with the
// first run.
func NewHost() *Host {
	return &Host{newTicker: func(d time.Duration) (<-chan time.Time, func()) {
		t := time.NewTicker(d)
		return t.C, t.Stop
	}}
}

// Close ends the host's goroutines and waits for them, except those of a
// run the watchdog gave up on: they end when that run's simulated code
// reaches a scheduling point or returns. No machine may run on the host
// afterwards.
func (h *Host) Close() {
	if h.r != nil {
		close(h.r.jobs)
		<-h.r.exited
		h.r = nil
	}
	if h.stopTick != nil {
		h.stopTick()
		h.tick, h.stopTick = nil, nil
	}
	h.closed = true
}

// ticker returns the watchdog's clock for a run about to start, ticking
// every d: the one the last run used if it had that period, without the
// tick it may have left, so that the run's first tick comes after it
// starts, as with a clock of its own.
func (h *Host) ticker(d time.Duration) <-chan time.Time {
	if h.tick == nil || h.every != d {
		if h.stopTick != nil {
			h.stopTick()
		}
		h.tick, h.stopTick = h.newTicker(d)
		h.every = d
	}
	select {
	case <-h.tick:
	default:
	}
	return h.tick
}

// runner returns the driver that runs the next machine, starting it if
// there is none (the first run, or after the previous driver was
// abandoned or exited).
func (h *Host) runner() *runner {
	if h.closed {
		panic("sim: Run on a closed Host")
	}
	if h.r == nil {
		h.r = &runner{jobs: make(chan func()), done: make(chan bool, 1), exited: make(chan struct{})}
		go h.r.loop()
	}
	return h.r
}

// abandon leaves the current driver to finish a run the watchdog gave up
// on; it exits after that run, and the next run gets a fresh driver.
func (h *Host) abandon() {
	close(h.r.jobs)
	h.r = nil
}

// runner is a driver goroutine with the coroutines it resumes. Only the
// driver and those coroutines, which run one at a time on its behalf,
// touch free and inline; runs are handed over through jobs and done.
type runner struct {
	jobs   chan func() // a run to drive, or a batch of them (Host.Do)
	done   chan bool   // after each job: whether the driver goes on
	exited chan struct{}
	free   []*worker
	// inline is set while a batch runs: its machines are driven where
	// Run is called, on the driver, with no handoff each.
	inline bool
}

// loop drives one machine after another until jobs is closed, or until
// simulated code calls runtime.Goexit, which ends the driver too.
func (r *runner) loop() {
	defer func() {
		for _, w := range r.free {
			w.stop()
		}
		close(r.exited)
	}()
	for job := range r.jobs {
		r.run(job)
	}
}

// run runs a job and then tells its caller whether the driver goes on.
func (r *runner) run(job func()) {
	alive := false
	defer func() { r.done <- alive }()
	job()
	alive = true
}

// Do runs fn on the host's driver goroutine, so that the machines fn runs
// on this host are driven right there, without handing each run to the
// driver and back: for many short runs in a row, that handoff (waking a
// thread when a CPU is idle) costs as much as a run. The watchdog watches
// whichever of them is running, looking every quarter of DefaultWatchdog
// (so a run's own shorter Watchdog is judged to that grain). Do returns nil when fn returned; when one
// of its runs stopped the batch (the watchdog gave up on it, or its
// simulated code ended the driver with runtime.Goexit), it returns that
// run's result, and fn went no further.
func (h *Host) Do(fn func()) *Result {
	r := h.runner()
	h.cur.Store(nil)
	r.jobs <- func() {
		r.inline = true
		defer func() { r.inline = false }()
		fn()
	}
	tick := h.ticker(DefaultWatchdog / 4)
	var (
		watched *Machine
		last    uint64
		still   time.Duration
	)
	for {
		select {
		case alive := <-r.done:
			if alive {
				return nil
			}
			// Simulated code ended the driver (runtime.Goexit) in a run.
			h.r = nil
			if m := h.cur.Swap(nil); m != nil {
				res := m.result()
				return &res
			}
			return nil
		case <-tick:
			m := h.cur.Load()
			if m == nil || m.cfg.Watchdog <= 0 {
				watched = nil
				continue
			}
			sec := m.section.Load()
			if m != watched || sec&1 == 0 || sec != last {
				watched, last, still = m, sec, 0
				continue
			}
			if still += DefaultWatchdog / 4; still < m.cfg.Watchdog {
				continue
			}
			if m.section.CompareAndSwap(sec, hungSection) {
				h.abandon()
				res := m.watchdog()
				return &res
			}
		}
	}
}

// worker takes a parked coroutine, or starts one.
func (r *runner) worker() *worker {
	if n := len(r.free); n > 0 {
		w := r.free[n-1]
		r.free = r.free[:n-1]
		return w
	}
	w := &worker{}
	w.next, w.stop = iter.Pull(w.loop)
	return w
}

// worker is a coroutine that carries one task after another.
type worker struct {
	next func() (struct{}, bool)
	stop func()
	task *Task // the task it carries; nil once that task's body returned
}

func (w *worker) loop(yield func(struct{}) bool) {
	for {
		w.task.body(yield)
		w.task = nil
		if !yield(struct{}{}) {
			return
		}
	}
}
