package explore

import (
	"context"
	"errors"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/sim"
)

// calibrationRuns is how many of the first runs PCT's guess of a run's
// length is measured on. Run 0 guesses initialPCTSteps; run i in
// [1, calibrationRuns) guesses the mean length of runs [0, p), p the
// largest power of two not above i; every later run guesses the mean of
// runs [0, calibrationRuns). The guess is so a function of run numbers
// alone, and run i is the same schedule on any worker and on any shard.
const calibrationRuns = 64

// spanSteps is about how many steps a worker runs before it reports: a
// span of runs is long enough that handing it over costs nothing, short
// enough that workers finish close together.
const spanSteps = 1 << 14

// maxSpan bounds the runs in one span.
const maxSpan = 1024

// Shard is one of Count disjoint shares of an exploration's run numbers:
// those i with i % Count == Index.
type Shard struct {
	Index, Count int
}

// Contains reports whether run number run is in the share.
func (s Shard) Contains(run int) bool { return s.Count <= 1 || run%s.Count == s.Index }

// RunStat is what one run did.
type RunStat struct {
	Run   int
	Steps int
	Costs sim.Costs
}

// plan lays the run numbers an exploration runs out in positions 0, 1, ...
// Positions [0, calib) are runs 0..calib-1, run by every shard when
// strategies need their lengths (uncounted where another shard owns
// them); the shard's later run numbers follow, from first on.
type plan struct {
	budget        int // run numbers below this (0: no bound)
	calib         int
	first, stride int
	shard         Shard
}

func newPlan(c *Config) plan {
	sh := c.Shard
	if sh.Count < 1 {
		sh = Shard{0, 1}
	}
	p := plan{budget: c.Runs, shard: sh, stride: sh.Count}
	if c.usesLength() {
		p.calib = calibrationRuns
		if c.Runs > 0 {
			p.calib = min(p.calib, c.Runs)
		}
	}
	p.first = p.calib + (sh.Index-p.calib%sh.Count+sh.Count)%sh.Count
	return p
}

func (p plan) run(pos int) int {
	if pos < p.calib {
		return pos
	}
	return p.first + (pos-p.calib)*p.stride
}

func (p plan) has(pos int) bool { return p.budget == 0 || p.run(pos) < p.budget }

// barrier reports whether the run at pos needs the lengths of every run
// before it: the guesses change at powers of two up to calibrationRuns.
func (p plan) barrier(pos int) bool {
	return pos > 0 && pos <= p.calib && (pos == p.calib || pos&(pos-1) == 0)
}

// nextBarrier is the first barrier after pos, or -1.
func (p plan) nextBarrier(pos int) int {
	if pos >= p.calib {
		return -1
	}
	return min(1<<bits.Len(uint(pos)), p.calib)
}

// usesLength reports whether the strategy guesses a run's length.
func (c *Config) usesLength() bool { return c.Strategy == PCT || c.Strategy == Mix }

// span is positions [from, to) of the plan, run in order by one worker.
type span struct {
	from, to int
	k        int // PCT's guess of a run's length for these runs
}

// spanResult is what a worker did with a span: every run's length, the
// counted runs, and the first counted run that failed or erred, where
// the span stopped.
type spanResult struct {
	span
	lengths []int // by position from span.from, counted or not
	done    []RunStat
	end     *sim.Result // the failing run, the last of done
	cover   *sim.Coverage
	cut     bool // stopped by the context or the time budget
}

// explorer runs one exploration's spans on its workers.
type explorer struct {
	ctx   context.Context
	c     *Config
	plan  plan
	start time.Time
	// stopAt is the lowest position known to fail: workers drop the
	// positions after it, which cannot change the answer.
	stopAt atomic.Int64
}

func (e *explorer) overTime() bool { return e.c.Time > 0 && time.Since(e.start) >= e.c.Time }

// runSpan runs sp's positions on host, in one batch on its driver (see
// sim.Host.Do).
func (e *explorer) runSpan(host *sim.Host, sp span) spanResult {
	res := spanResult{span: sp}
	opt := e.c.Options
	opt.Host = host
	opt.Stop = e.ctx.Done() // an interrupt ends the run going on, not only the span
	if e.c.Options.Cover != nil {
		res.cover = sim.NewCoverage()
	}
	at := -1 // the position running
	stopped := host.Do(func() {
		for pos := sp.from; pos < sp.to; pos++ {
			if int64(pos) > e.stopAt.Load() {
				break
			}
			if e.ctx.Err() != nil || e.overTime() {
				res.cut = true
				break
			}
			at = pos
			r := e.c.Scenario.Run(e.c.Values, e.optionsAt(opt, pos, res.cover), e.c.strategy(e.plan.run(pos), sp.k))
			if e.record(&res, pos, r) {
				break
			}
		}
		at = -1
	})
	if stopped != nil && at >= 0 {
		e.record(&res, at, *stopped)
	}
	return res
}

// optionsAt are the options of the run at pos: coverage only where the
// run is counted.
func (e *explorer) optionsAt(opt scenario.Options, pos int, cover *sim.Coverage) scenario.Options {
	opt.Cover = nil
	if e.plan.shard.Contains(e.plan.run(pos)) {
		opt.Cover = cover
	}
	return opt
}

// record adds the run at pos to res, and reports whether it ends the span:
// the first counted run that failed or erred.
func (e *explorer) record(res *spanResult, pos int, r sim.Result) bool {
	if errors.Is(r.Err, sim.ErrStopped) {
		res.cut = true // the run did not end: it counts for nothing
		return true
	}
	res.lengths = append(res.lengths, r.Steps)
	run := e.plan.run(pos)
	if !e.plan.shard.Contains(run) {
		return false
	}
	res.done = append(res.done, RunStat{run, r.Steps, r.Costs})
	if r.Err != nil || r.Failure != nil {
		res.end = &r
		e.lowerStop(int64(pos))
		return true
	}
	return false
}

// lowerStop makes pos the lowest failing position, if it is lower.
func (e *explorer) lowerStop(pos int64) {
	for cur := e.stopAt.Load(); pos < cur; cur = e.stopAt.Load() {
		if e.stopAt.CompareAndSwap(cur, pos) {
			return
		}
	}
}

// explore runs the plan on c.Workers workers and folds their spans in
// position order, so that what it reports is what one worker running the
// positions in order would: the counted runs up to the first that failed.
func (e *explorer) explore(out *Outcome) (end *sim.Result, endRun int, beyond bool) {
	workers := max(e.c.Workers, 1)
	e.stopAt.Store(1<<63 - 1)
	jobs := make(chan span)
	results := make(chan spanResult, workers)
	var wg sync.WaitGroup
	for w := range workers {
		host := e.c.Options.Host
		if w > 0 {
			host = sim.NewHost()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w > 0 {
				defer host.Close()
			}
			for sp := range jobs {
				results <- e.runSpan(host, sp)
			}
		}()
	}
	defer func() {
		close(jobs)
		wg.Wait()
	}()

	var (
		lengths  []int // of the calibration runs, by run number
		next     int   // the next position to hand out
		folded   int   // positions before this are folded
		inflight int
		stop     bool
		gap      bool // a span stopped early was folded: nothing after it is
		pending  = map[int]spanResult{}
		units    int64
	)
	if e.c.Scenario.Units != nil {
		units = int64(e.c.Scenario.Units(e.c.Values))
	}
	var allRuns, allSteps int64 // every run folded, counted or not: the span size's measure
	for {
		for !stop && inflight < workers && e.plan.has(next) && !(e.plan.barrier(next) && folded < next) {
			if e.ctx.Err() != nil || e.overTime() {
				out.Interrupted = e.ctx.Err() != nil
				stop = true
				break
			}
			sp := span{from: next, k: e.guess(next, lengths)}
			size := 1
			if allRuns > 0 {
				size = int(max(1, min(maxSpan, spanSteps*allRuns/max(allSteps, 1))))
			}
			if e.plan.budget > 0 {
				left := (e.plan.budget - e.plan.run(next) + e.plan.stride - 1) / e.plan.stride
				if next < e.plan.calib {
					left = e.plan.calib - next
				}
				size = max(1, min(size, left, (left+workers-1)/workers))
			}
			sp.to = next + size
			if b := e.plan.nextBarrier(next); b > 0 {
				sp.to = min(sp.to, b)
			}
			jobs <- sp
			inflight++
			next = sp.to
		}
		if inflight == 0 {
			if end == nil && gap {
				end, endRun = beyondCut(pending)
				beyond = end != nil
			}
			return end, endRun, beyond
		}
		res := <-results
		inflight--
		pending[res.from] = res
		for {
			r, ok := pending[folded]
			if !ok || end != nil || gap {
				break
			}
			delete(pending, folded)
			folded = r.to
			for i, n := range r.lengths {
				if pos := r.from + i; pos < e.plan.calib {
					lengths = append(lengths, n)
				}
				allRuns++
				allSteps += int64(n)
			}
			for _, d := range r.done {
				out.Runs++
				out.Steps += int64(d.Steps)
				out.Costs.Add(d.Costs)
				out.Units += units
				if e.c.Log {
					out.Log = append(out.Log, d)
				}
			}
			if r.cover != nil {
				e.c.Options.Cover.Merge(r.cover)
			}
			out.Elapsed = time.Since(e.start)
			if e.c.Progress != nil {
				e.c.Progress(out.Stats)
			}
			if r.cut {
				// The runs after the cut did not all run: what later
				// spans did is not folded, so that the runs counted are
				// a prefix and a failure reported is the first.
				out.Interrupted = out.Interrupted || e.ctx.Err() != nil
				stop, gap = true, true
			}
			if r.end != nil {
				end, endRun, stop = r.end, r.done[len(r.done)-1].Run, true
			}
		}
	}
}

// beyondCut is the lowest failing run of the spans not folded after a
// cut: a failure found, which an interrupted exploration reports rather
// than loses, though a run below it may fail too.
func beyondCut(pending map[int]spanResult) (*sim.Result, int) {
	var end *sim.Result
	at, run := -1, 0
	for from, r := range pending {
		if r.end != nil && r.end.Err == nil && (at < 0 || from < at) {
			end, at, run = r.end, from, r.done[len(r.done)-1].Run
		}
	}
	return end, run
}

// guess is PCT's guess of the length of the run at pos (see
// calibrationRuns), from the lengths of the calibration runs so far.
func (e *explorer) guess(pos int, lengths []int) int {
	if !e.c.usesLength() {
		return 0
	}
	run := e.plan.run(pos)
	if run == 0 {
		return initialPCTSteps
	}
	n := min(1<<(bits.Len(uint(run))-1), calibrationRuns)
	sum := 0
	for _, l := range lengths[:n] {
		sum += l
	}
	return (sum + n - 1) / n
}
