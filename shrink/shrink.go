// Package shrink makes a failing schedule smaller while it keeps failing
// the same way (the same identity, sim.Failure.ID: kind and site, whatever
// numbers the message holds): fewer preemptions and
// interrupts first, then fewer steps, then fewer switches between CPUs,
// and smaller workloads where the scenario marks a parameter as
// shrinkable.
//
// It is delta debugging over the decision list. A candidate list (with a
// decision or a run of them removed, or a parameter lowered) is replayed
// leniently (sim.Lenient): decisions that no longer fit are skipped and
// the gaps are filled with quiet defaults. The run that results is
// recorded exactly, so every accepted candidate is itself a schedule that
// replays strictly. Shrinking is deterministic: the same file and budget
// of attempts always give the same result; a time budget can only stop it
// earlier.
package shrink

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
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
}

// DefaultAttempts bounds a shrink when the budget names no count.
const DefaultAttempts = 20_000

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
	host     *sim.Host // every candidate runs on its goroutines
	sc       *scenario.Scenario
	want     *sim.Failure
	maxSteps int
	// positions runs candidates with source positions, which the wanted
	// failure needs to have its site (a spinning context's line).
	positions bool
	budget    Budget
	deadline  time.Time
	attempts  int
	best      state
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
	rep, err := explore.Replay(sc, f, false)
	if err != nil {
		return Outcome{}, err
	}
	if !rep.Reproduced {
		return Outcome{}, ErrNotFailing
	}
	v, err := sc.Values(f.Params)
	if err != nil {
		return Outcome{}, err
	}
	if b.Attempts == 0 {
		b.Attempts = DefaultAttempts
	}
	host := sim.NewHost()
	defer host.Close()
	s := &shrinker{host: host, sc: sc, want: rep.Failure, maxSteps: f.MaxSteps, budget: b, best: state{v, rep.Result}}
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
	out := Outcome{Before: before, After: s.stats(after), Attempts: s.attempts, Complete: complete}
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
	return scenario.Options{MaxSteps: s.maxSteps, Host: s.host, Positions: s.positions}
}

func (s *shrinker) exhausted() bool {
	return s.attempts >= s.budget.Attempts || (!s.deadline.IsZero() && time.Now().After(s.deadline))
}

// try replays moves leniently under values and makes the run the new best
// when it fails the same way and is smaller (or, with smallerParams, when
// it fails the same way at all: a smaller workload is progress by itself).
func (s *shrinker) try(values scenario.Values, moves []sim.Move, smallerParams bool) bool {
	if s.exhausted() {
		return false
	}
	s.attempts++
	r := s.sc.Run(values, s.options(), sim.NewLenient(moves))
	if r.Err != nil || !r.Failure.Same(s.want) {
		return false
	}
	cand := state{values, r}
	if !smallerParams && !less(cand.score(), s.best.score()) {
		return false
	}
	s.best = cand
	return true
}

// run repeats the passes until none improves; it reports false when the
// budget stopped it.
func (s *shrinker) run() bool {
	for {
		improved := s.shrinkParams()
		improved = s.dropNoisy() || improved
		improved = s.ddmin() || improved
		improved = s.stayOnCPU() || improved
		if !improved {
			// Last resort: another interleaving of the same workload.
			improved = s.research(s.best.values, false)
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

// shrinkParams lowers shrinkable parameters: for each, the smallest value
// on a ladder (minimum, then doubling) at which the failure persists,
// either by replaying the current decisions or, failing that, in one of
// researchRuns seeded random schedules (re-search: a smaller workload
// usually needs a different interleaving to fail the same way).
func (s *shrinker) shrinkParams() bool {
	improved := false
	for _, p := range s.sc.Params {
		if !p.Shrink {
			continue
		}
		// The ladder finds a value that fails the same way; bisection
		// then looks below it, down to the last ladder value that did not.
		lo := p.Min - 1
		for n := p.Min; n < s.best.values.Int(p.Name); n = max(n*2, n+1) {
			if s.fitsWith(p.Name, n) {
				improved = true
				break
			}
			lo = n
		}
		for hi := s.best.values.Int(p.Name); hi-lo > 1; {
			mid := lo + (hi-lo)/2
			if s.fitsWith(p.Name, mid) {
				hi = mid
			} else {
				lo = mid
			}
		}
	}
	return improved
}

// fitsWith tries parameter name at n and keeps it if the failure persists.
func (s *shrinker) fitsWith(name string, n int) bool {
	v := maps.Clone(s.best.values)
	v[name] = strconv.Itoa(n)
	if s.sc.Validate != nil && s.sc.Validate(v) != nil {
		return false
	}
	return s.try(v, s.best.result.Decisions, true) || s.research(v, true)
}

// research looks for the failure in researchRuns seeded random schedules
// under values and keeps the smallest that fails the same way, if it is
// smaller than the best so far or (with smallerParams) at all.
func (s *shrinker) research(values scenario.Values, smallerParams bool) bool {
	var found *state
	for seed := range uint64(researchRuns) {
		if s.exhausted() {
			break
		}
		s.attempts++
		r := s.sc.Run(values, s.options(), sim.NewRandom(sim.RunSeed(seed, 0)))
		if r.Err == nil && r.Failure.Same(s.want) {
			if cand := (state{values, r}); found == nil || less(cand.score(), found.score()) {
				found = &cand
			}
		}
	}
	if found == nil || (!smallerParams && !less(found.score(), s.best.score())) {
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
		if s.try(s.best.values, remove(d, i, i+1), false) {
			improved = true
		}
	}
	return improved
}

// ddmin removes runs of decisions, halving their length down to one.
func (s *shrinker) ddmin() bool {
	improved := false
	for n := len(s.best.result.Decisions) / 2; n >= 1; n /= 2 {
		for start := 0; start < len(s.best.result.Decisions); {
			d := s.best.result.Decisions
			end := min(start+n, len(d))
			if s.try(s.best.values, remove(d, start, end), false) {
				improved = true
				continue // the same place now holds what came after
			}
			start += n
		}
	}
	return improved
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
		if s.try(s.best.values, c, false) {
			improved = true
		}
	}
	return improved
}

func remove(d []sim.Move, from, to int) []sim.Move {
	out := make([]sim.Move, 0, len(d)-(to-from))
	return append(append(out, d[:from]...), d[to:]...)
}
