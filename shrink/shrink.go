// Package shrink makes a failing schedule smaller while it keeps failing
// the same way (the same identity, sim.Failure.ID: kind and site, whatever
// numbers the message holds): fewer preemptions and interrupts first, then
// fewer steps, then fewer switches between CPUs, and smaller workloads
// where the scenario marks a parameter as shrinkable.
//
// It is delta debugging over the decision list. A candidate list is
// replayed leniently (sim.Lenient): decisions that no longer fit are
// skipped and the gaps are filled with quiet defaults. The candidates drop
// single preemptions and interrupts, interrupts with all their handler's
// steps, runs of consecutive decisions, and runs of one CPU's steps (which
// then come later), and lower parameters. The run that results is recorded
// exactly, so every accepted candidate is itself a schedule that replays
// strictly. Shrinking is deterministic: the same file and budget of
// attempts always give the same result; a time budget can only stop it
// earlier.
package shrink

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
)

// Budget bounds a shrink.
type Budget struct {
	Time     time.Duration // 0: no time bound
	Attempts int           // replays at most; 0: DefaultAttempts
	// Workers is how many goroutines run a re-search's seeded schedules
	// at once, each on a host of its own (0 means 1); with a budget of
	// attempts alone the result does not depend on it (a time budget may
	// stop a re-search where the workers happen to be).
	Workers int
	// Stop, when closed, ends the shrink at once, the replay going on
	// included: the outcome is the smallest schedule found so far
	// (Interrupted set).
	Stop <-chan struct{}
}

// DefaultAttempts bounds a shrink when the budget names no count.
const DefaultAttempts = 50_000

// Stats describe a schedule's size.
type Stats struct {
	Steps       int
	Switches    int // decisions that advance a different CPU than the one before
	Preemptions int
	Interrupts  int
	Params      string
}

func (s Stats) String() string {
	return fmt.Sprintf("%d steps, %d CPU switches, %d preemptions, %d interrupts (%s)", s.Steps, s.Switches, s.Preemptions, s.Interrupts, s.Params)
}

// Outcome is a shrink's result.
type Outcome struct {
	Before, After Stats
	File          *schedule.File
	Attempts      int
	// Complete is false when the budget ran out before no candidate
	// was left to try.
	Complete bool
	// Interrupted is set when Budget.Stop ended the shrink.
	Interrupted bool
}

type state struct {
	values scenario.Values
	result sim.Result
}

// score orders candidates: fewer preemptions and interrupts, then fewer
// steps, then fewer switches between CPUs.
func (s state) score() [3]int {
	r := s.result
	return [3]int{r.Preemptions + r.Interrupts, r.Steps, r.Switches}
}

func less(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

type shrinker struct {
	host *sim.Host // every candidate runs on its goroutines
	// hosts are the re-search's workers' (the first is host).
	hosts    []*sim.Host
	sc       *scenario.Scenario
	want     *sim.Failure
	maxSteps int
	// positions runs candidates with source positions, which the wanted
	// failure needs to have its site (a spinning context's line).
	positions bool
	// greedy takes any smaller workload that keeps the failure.
	greedy   bool
	budget   Budget
	deadline time.Time
	attempts int
	best     state
}

// ErrNotFailing is returned for a schedule that does not fail as it
// recorded.
var ErrNotFailing = errors.New("the schedule does not fail the way it recorded, so there is nothing to keep while shrinking")

// ErrHangs is returned for a watchdog failure: every replay of it hangs
// simulated code until the watchdog fires, so it is not shrunk.
var ErrHangs = errors.New("a watchdog failure is not shrunk: each replay hangs until the watchdog fires")

// Shrink shrinks a failing schedule of scenario sc.
func Shrink(sc *scenario.Scenario, f *schedule.File, b Budget) (Outcome, error) {
	if f.Failure != nil && f.Failure.Kind == sim.KindWatchdog {
		return Outcome{}, ErrHangs
	}
	rep, err := explore.ReplayUntil(b.Stop, sc, f, false)
	if err != nil {
		return Outcome{}, err
	}
	if !rep.Reproduced {
		return Outcome{}, ErrNotFailing
	}
	v, err := sc.ValuesOf(f.Params)
	if err != nil {
		return Outcome{}, err
	}
	if b.Attempts == 0 {
		b.Attempts = DefaultAttempts
	}
	hosts := make([]*sim.Host, max(b.Workers, 1))
	for i := range hosts {
		hosts[i] = sim.NewHost()
		defer hosts[i].Close()
	}
	host := hosts[0]
	s := &shrinker{host: host, hosts: hosts, sc: sc, want: rep.Failure, maxSteps: f.MaxSteps, budget: b, best: state{v, rep.Result}}
	// A run without positions knows every line but a spinning context's:
	// when the replay needed them to name the site, candidates need them.
	fast := sc.Run(v, s.options(), sim.NewReplayTokens(f.Decisions))
	s.positions = !fast.Failure.Same(rep.Failure)
	if b.Time > 0 {
		s.deadline = time.Now().Add(b.Time)
	}
	before := s.stats(s.best)
	complete := s.run()
	after := s.best
	out := Outcome{Before: before, After: s.stats(after), Attempts: s.attempts, Complete: complete, Interrupted: s.stopped()}
	out.File = &schedule.File{
		Scenario: f.Scenario, Params: sc.Set(after.values), MaxSteps: f.MaxSteps,
		FoundBy:   strings.TrimSpace(f.FoundBy + " shrunk"),
		Failure:   explore.Record(after.result.Failure),
		Decisions: after.result.Tokens(),
	}
	return out, nil
}

func (s *shrinker) stats(st state) Stats {
	r := st.result
	return Stats{Steps: r.Steps, Switches: r.Switches, Preemptions: r.Preemptions, Interrupts: r.Interrupts, Params: s.sc.String(st.values)}
}

func (s *shrinker) options() scenario.Options {
	return scenario.Options{MaxSteps: s.maxSteps, Host: s.host, Positions: s.positions, Stop: s.budget.Stop}
}

// stopped reports whether Budget.Stop is closed.
func (s *shrinker) stopped() bool {
	select {
	case <-s.budget.Stop:
		return true
	default:
		return false
	}
}

func (s *shrinker) exhausted() bool {
	return s.attempts >= s.budget.Attempts || s.late()
}

func (s *shrinker) late() bool {
	return (!s.deadline.IsZero() && time.Now().After(s.deadline)) || s.stopped()
}

// try replays moves leniently under values and makes the run the new best
// when it fails the same way and is smaller.
func (s *shrinker) try(values scenario.Values, moves []sim.Move) bool {
	r, ok := s.attempt(values, sim.NewLenient(moves))
	if !ok || !less(state{values, r}.score(), s.best.score()) {
		return false
	}
	s.best = state{values, r}
	return true
}

// run shrinks the schedule alone, on the workload as recorded, then the
// workload too, starting from that schedule, which the smaller workloads'
// replays then follow: once taking a smaller workload only when its run is
// shorter, once greedily, keeping the smaller of the two results. Neither
// way wins everywhere: greedy reaches small workloads whose runs shorten
// only later, and misses short runs of a larger one. It reports false when
// the budget stopped it.
func (s *shrinker) run() bool {
	if !s.fixpoint(false) {
		return false
	}
	start := s.best
	complete := s.fixpoint(true)
	careful := s.best
	s.best, s.greedy = start, true
	complete = s.fixpoint(true) && complete
	if less(careful.score(), s.best.score()) {
		s.best = careful
	}
	return complete
}

// fixpoint repeats the passes until none improves; it reports false when
// the budget stopped it.
func (s *shrinker) fixpoint(params bool) bool {
	for {
		improved := params && s.shrinkParams()
		improved = s.dropNoisy() || improved
		improved = s.dropHandlers() || improved
		improved = s.ddmin() || improved
		improved = s.laterCPU() || improved
		improved = s.stayOnCPU() || improved
		if !improved {
			// Last resort: another interleaving of the same workload.
			improved = s.research(s.best.values)
		}
		if s.exhausted() {
			return false
		}
		if !improved {
			return true
		}
	}
}

// researchRuns is how many seeded random schedules shrinkParams tries
// for a smaller workload whose old decisions no longer fail the same way.
const researchRuns = 200

// shrinkParams lowers shrinkable parameters: for each, the values on a
// ladder below the current one (minimum, then doubling) are tried, each by
// replaying the current decisions or, failing that, in researchRuns seeded
// random schedules (re-search: a smaller workload usually needs a different
// interleaving to fail the same way). Of the values that keep the failure
// the one with the smallest schedule is taken, the smaller value on a tie,
// if its schedule is smaller than the current one (or, greedy, whatever
// its schedule: a smaller workload is progress by itself, and often
// shrinks further). The smallest workload is not always the shortest run:
// a pool with no objects preallocated refills from the slab, which takes
// longer.
func (s *shrinker) shrinkParams() bool {
	improved := false
	for _, p := range s.sc.Params {
		if !p.Shrink {
			continue
		}
		var best *state
		lo, below := p.Min-1, p.Min-1 // the last value without the failure, and the one below best
		for n := p.Min; n < s.best.values.Int(p.Name); n = max(n*2, n+1) {
			c := s.withParam(p.Name, n)
			if c == nil {
				lo = n
				continue
			}
			if best == nil || less(c.score(), best.score()) {
				best, below = c, lo
			}
		}
		if best == nil || !(s.greedy || less(best.score(), s.best.score())) {
			continue
		}
		s.best, improved = *best, true
		// Between the best ladder value and the last one below it that
		// lost the failure, bisection looks for a smaller value.
		for hi := s.best.values.Int(p.Name); hi-below > 1; {
			mid := below + (hi-below)/2
			if c := s.withParam(p.Name, mid); c != nil && (s.greedy || less(c.score(), s.best.score())) {
				s.best, hi = *c, mid
			} else {
				below = mid
			}
		}
	}
	return improved
}

// withParam returns the smallest run found that fails the same way with
// parameter name at n, or nil.
func (s *shrinker) withParam(name string, n int) *state {
	v := maps.Clone(s.best.values)
	v[name] = strconv.Itoa(n)
	if s.sc.Validate != nil && s.sc.Validate(v) != nil {
		return nil
	}
	if r, ok := s.attempt(v, sim.NewLenient(s.best.result.Decisions)); ok {
		return &state{v, r}
	}
	return s.search(v)
}

// attempt runs one candidate, if the budget allows, and reports whether it
// fails the same way.
func (s *shrinker) attempt(values scenario.Values, strategy sim.Strategy) (sim.Result, bool) {
	if s.exhausted() {
		return sim.Result{}, false
	}
	s.attempts++
	r := s.sc.Run(values, s.options(), strategy)
	return r, r.Err == nil && r.Failure.Same(s.want)
}

// search returns the smallest of researchRuns seeded random schedules under
// values that fails the same way, or nil. The schedules run on the
// workers at once, as many as the budget of attempts allows; the smallest
// (the lowest seed of equals) does not depend on which ran first.
func (s *shrinker) search(values scenario.Values) *state {
	n := max(0, min(researchRuns, s.budget.Attempts-s.attempts))
	runs := make([]*sim.Result, n)
	var next atomic.Int64
	work := func(h *sim.Host) {
		opt := s.options()
		opt.Host = h
		for i := int(next.Add(1) - 1); i < n && !s.late(); i = int(next.Add(1) - 1) {
			r := s.sc.Run(values, opt, sim.NewRandom(sim.RunSeed(uint64(i), 0)))
			runs[i] = &r
		}
	}
	if len(s.hosts) == 1 {
		work(s.host)
	} else {
		var wg sync.WaitGroup
		for _, h := range s.hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				work(h)
			}()
		}
		wg.Wait()
	}
	var found *state
	for _, r := range runs {
		if r == nil {
			continue
		}
		s.attempts++
		if r.Err == nil && r.Failure.Same(s.want) {
			if cand := (state{values, *r}); found == nil || less(cand.score(), found.score()) {
				found = &cand
			}
		}
	}
	return found
}

// research replaces the best run by a smaller one of the same workload
// found by search.
func (s *shrinker) research(values scenario.Values) bool {
	found := s.search(values)
	if found == nil || !less(found.score(), s.best.score()) {
		return false
	}
	s.best = *found
	return true
}

// dropNoisy removes single preemptions and interrupts, last first.
func (s *shrinker) dropNoisy() bool {
	improved := false
	for i := len(s.best.result.Decisions) - 1; i >= 0; i-- {
		d := s.best.result.Decisions
		if i >= len(d) {
			continue
		}
		if k := d[i].Kind; k != sim.MoveIRQ && k != sim.MoveSwitch {
			continue
		}
		if s.try(s.best.values, remove(d, i, i+1)) {
			improved = true
		}
	}
	return improved
}

// dropHandlers removes interrupts together with every step their handlers
// took, last first. Removing the interrupt alone (dropNoisy) hands its
// handler's steps to the context it interrupted, which changes the
// interleaving; removing the handler's steps too leaves the rest as it
// was.
func (s *shrinker) dropHandlers() bool {
	improved := false
	for k := s.best.result.Interrupts - 1; k >= 0; k-- {
		spans, ok := s.handlerSpans()
		if !ok || k >= len(spans) {
			continue
		}
		if s.try(s.best.values, removeIndices(s.best.result.Decisions, spans[k])) {
			improved = true
		}
	}
	return improved
}

// handlerSpans replays the best run with its trace and returns, for each
// interrupt in order, the indices of its decision and of its handler's
// steps.
func (s *shrinker) handlerSpans() ([][]int, bool) {
	if s.exhausted() {
		return nil, false
	}
	s.attempts++
	opt := s.options()
	opt.Trace = true
	r := s.sc.Run(s.best.values, opt, sim.NewReplay(s.best.result.Decisions))
	if r.Err != nil {
		return nil, false
	}
	var spans [][]int
	open := map[string]int{} // a running handler's context -> its span
	for _, e := range r.Trace {
		switch {
		case e.Kind == sim.EvIRQ && e.Decision:
			open[e.Ctx] = len(spans)
			spans = append(spans, []int{e.Step - 1})
		case e.Kind == sim.EvIRQExit:
			delete(open, e.Ctx)
		case e.Decision:
			if i, ok := open[e.Ctx]; ok {
				spans[i] = append(spans[i], e.Step-1)
			}
		}
	}
	return spans, true
}

func removeIndices(d []sim.Move, drop []int) []sim.Move {
	out := make([]sim.Move, 0, len(d))
	for i, mv := range d {
		if len(drop) > 0 && drop[0] == i {
			drop = drop[1:]
			continue
		}
		out = append(out, mv)
	}
	return out
}

// ddmin removes runs of decisions, halving their length down to one.
func (s *shrinker) ddmin() bool {
	improved := false
	for n := len(s.best.result.Decisions) / 2; n >= 1; n /= 2 {
		for start := 0; start < len(s.best.result.Decisions); {
			d := s.best.result.Decisions
			end := min(start+n, len(d))
			if s.try(s.best.values, remove(d, start, end)) {
				improved = true
				continue // the same place now holds what came after
			}
			start += n
		}
	}
	return improved
}

// laterCPU removes runs of one CPU's steps, halving their length down to
// one, for each CPU in turn. Ddmin removes runs of consecutive decisions;
// this removes a CPU's steps from between the other CPUs' ones, which the
// lenient replay then takes later: what a failure needs of a CPU that
// must stand still (a task interrupted mid-operation while the others
// lap it) is that it does not run, and its steps can move past the rest.
func (s *shrinker) laterCPU() bool {
	improved := false
	for cpu := range s.best.result.CPUs {
		for n := s.cpuSteps(cpu) / 2; n >= 1; n /= 2 {
			for start := 0; start < s.cpuSteps(cpu); {
				if s.try(s.best.values, removeCPUSteps(s.best.result.Decisions, cpu, start, start+n)) {
					improved = true
					continue
				}
				start += n
			}
		}
	}
	return improved
}

// cpuSteps counts the best schedule's steps of one CPU.
func (s *shrinker) cpuSteps(cpu int) int {
	n := 0
	for _, d := range s.best.result.Decisions {
		if d.Kind == sim.MoveStep && int(d.CPU) == cpu {
			n++
		}
	}
	return n
}

// removeCPUSteps drops the steps of cpu numbered from to to (0-based,
// counting that CPU's steps only).
func removeCPUSteps(d []sim.Move, cpu, from, to int) []sim.Move {
	out := make([]sim.Move, 0, len(d))
	k := 0
	for _, mv := range d {
		if mv.Kind == sim.MoveStep && int(mv.CPU) == cpu {
			k++
			if k > from && k <= to {
				continue
			}
		}
		out = append(out, mv)
	}
	return out
}

// stayOnCPU replaces a step on another CPU by a step on the CPU before it,
// so that fewer switches between CPUs remain.
func (s *shrinker) stayOnCPU() bool {
	improved := false
	for i := 1; i < len(s.best.result.Decisions); i++ {
		d := s.best.result.Decisions
		if d[i].Kind != sim.MoveStep || d[i-1].Kind != sim.MoveStep || d[i].CPU == d[i-1].CPU {
			continue
		}
		c := append([]sim.Move(nil), d...)
		c[i].CPU = d[i-1].CPU
		if s.try(s.best.values, c) {
			improved = true
		}
	}
	return improved
}

func remove(d []sim.Move, from, to int) []sim.Move {
	out := make([]sim.Move, 0, len(d)-(to-from))
	return append(append(out, d[:from]...), d[to:]...)
}
