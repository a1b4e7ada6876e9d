// Package stress is the baseline the simulator is measured against: it
// runs a scenario's workload on the real machine (package native, the
// subjects' generated native builds, real goroutines on real CPUs) round
// after round for a time budget, checking each round the way the
// scenario's own check does (conservation of values or buffers, and for
// short queue rounds linearizability with porcupine on real timestamps),
// and reports the first failure: a BUG_ON, a panic, a Go runtime error in
// the subject, or a check that fails.
//
// What the native machine cannot do is said in the result's Note: there
// are no priorities, no interrupts and no preemption decisions, only what
// the host's schedulers happen to do.
package stress

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kernelsim/lfsim/native"
	"github.com/kernelsim/lfsim/scenario"
)

// Config is one stress run.
type Config struct {
	Scenario *scenario.Scenario
	Values   scenario.Values
	// Budget bounds the run's wall time.
	Budget time.Duration
	// Seed varies the operation mix from round to round.
	Seed uint64
	// Hang is how long a round may take before it counts as a lockup
	// (default 10 s).
	Hang time.Duration
}

// Result is what a stress run saw.
type Result struct {
	Scenario string
	// Failure is the first failure, nil if none was seen.
	Failure *native.Failure
	// Round is the failing round's number, from 0.
	Round int
	// Rounds and Ops count what ran (Ops: calls into the subject).
	Rounds int
	Ops    int64
	// Elapsed is the run's wall time; FirstFailure the time to the failure.
	Elapsed, FirstFailure time.Duration
	// Note says what the native machine cannot reproduce of the scenario.
	Note string
}

// workload is a scenario's workload on the real machine.
type workload interface {
	// round runs round n; it returns the calls it made.
	round(r *round) int64
	// note says what the simulated scenario has that this cannot.
	note() string
}

// builders are the scenarios stress can run, by name.
var builders = map[string]func(v scenario.Values) (workload, error){
	"ring2005":        func(v scenario.Values) (workload, error) { return newRingLoad(v, false), nil },
	"ring2005-locked": func(v scenario.Values) (workload, error) { return newRingLoad(v, true), nil },
	"alf-mpmc":        func(v scenario.Values) (workload, error) { return newAlfLoad("alf-mpmc", v) },
	"alf-aba":         func(v scenario.Values) (workload, error) { return newAlfLoad("alf-aba", v) },
	"alf-preempt":     func(v scenario.Values) (workload, error) { return newAlfLoad("alf-preempt", v) },
	"skb":             newSKBLoad,
}

// Supported lists the scenarios stress can run.
func Supported() []string {
	names := make([]string, 0, len(builders))
	for n := range builders {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FoundMarker starts the line the race-enabled stress test prints on a
// failure.
const FoundMarker = "stress found"

// Run stresses the scenario until a failure, the budget, or ctx's end.
func Run(ctx context.Context, cfg Config) (Result, error) {
	build, ok := builders[cfg.Scenario.Name]
	if !ok {
		return Result{}, fmt.Errorf("stress %s: no native workload (stress runs %s)", cfg.Scenario.Name, strings.Join(Supported(), ", "))
	}
	if cfg.Budget <= 0 {
		return Result{}, fmt.Errorf("stress %s: budget %v: want a positive duration", cfg.Scenario.Name, cfg.Budget)
	}
	if cfg.Hang <= 0 {
		cfg.Hang = 10 * time.Second
	}
	w, err := build(cfg.Values)
	if err != nil {
		return Result{}, fmt.Errorf("stress %s: %w", cfg.Scenario.Name, err)
	}
	res := Result{Scenario: cfg.Scenario.Name, Note: w.note()}
	start := time.Now()
	deadline := start.Add(cfg.Budget)
	for n := 0; time.Now().Before(deadline) && ctx.Err() == nil; n++ {
		r := &round{n: n, seed: cfg.Seed*1_000_003 + uint64(n), start: time.Now()}
		done := make(chan int64, 1)
		go func() { done <- w.round(r) }()
		select {
		case ops := <-done:
			res.Ops += ops
		case <-time.After(cfg.Hang):
			// The round's goroutines stay stuck: a real lockup cannot be
			// undone, only reported.
			r.fail(&native.Failure{Kind: "lockup", CPU: -1, Msg: fmt.Sprintf("round %d did not finish in %v", n, cfg.Hang)})
		}
		res.Rounds++
		if f := r.failure(); f != nil {
			res.Failure, res.Round, res.FirstFailure = f, n, time.Since(start)
			break
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// round is one round's shared state: its number, its seed, the first
// failure any of its goroutines met, and a stop flag they poll.
type round struct {
	n     int
	seed  uint64
	start time.Time
	first atomic.Pointer[native.Failure]
	stop  atomic.Bool
}

func (r *round) fail(f *native.Failure) {
	r.first.CompareAndSwap(nil, f)
	r.stop.Store(true)
}

func (r *round) failure() *native.Failure { return r.first.Load() }

// callTime and returnTime are timestamps for histories: nanoseconds since
// the round started, doubled so that a return and a call read at the same
// nanosecond order the return first (the call's clock read came after the
// operation that returned had finished).
func (r *round) callTime() int64   { return 2*time.Since(r.start).Nanoseconds() + 1 }
func (r *round) returnTime() int64 { return 2 * time.Since(r.start).Nanoseconds() }

// goAll runs fn(i) for i in 0..n-1 on goroutines of their own, turning a
// panic in any of them into the round's failure, and waits for them.
func (r *round) goAll(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					r.fail(asFailure(p, i))
				}
			}()
			fn(i)
		})
	}
	wg.Wait()
}

// mailboxes spreads packets over cpus CPUs the way the scenarios do (the
// first packets%cpus get one more) and makes each CPU a channel that can
// hold all of them.
func mailboxes[T any](packets, cpus int) (quota []int, boxes []chan T) {
	quota, boxes = make([]int, cpus), make([]chan T, cpus)
	for c := range cpus {
		quota[c] = packets / cpus
		if c < packets%cpus {
			quota[c]++
		}
		boxes[c] = make(chan T, packets)
	}
	return quota, boxes
}

// asFailure names a recovered panic the way the simulator does.
func asFailure(p any, cpu int) *native.Failure {
	if f, ok := p.(*native.Failure); ok {
		return f
	}
	msg := fmt.Sprint(p)
	kind := native.KindGoPanic
	if err, ok := p.(runtime.Error); ok {
		msg = err.Error()
		switch {
		case strings.Contains(msg, "index out of range"), strings.Contains(msg, "slice bounds out of range"):
			kind = native.KindOutOfBounds
		case strings.Contains(msg, "nil pointer"):
			kind = native.KindNilDeref
		}
	}
	return &native.Failure{Kind: kind, CPU: cpu, Msg: msg}
}
