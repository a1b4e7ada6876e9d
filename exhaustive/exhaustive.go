// Package exhaustive runs every schedule of a workload within bounds, so
// that a pass is a proof for those bounds and not a sample: "no failure in
// any schedule with at most B preemptions and I interrupts".
//
// The search is depth-first over the machine's decisions, re-running the
// workload from the start for every schedule (stateless, as CHESS, loom
// and Nidhugg do), with iterative context bounding (Musuvathi and Qadeer,
// PLDI 2007): first every schedule without a preemption, then those with
// at most one, and so on, so that the first failure found needs as few
// preemptions as any failure does.
//
// Costs. The context that ran the previous decision is the current one.
// A decision costs a preemption for each context it switches away from
// while that context could go on: the current one, when another CPU
// moves while the current CPU could step, and a running task that a
// switch takes the CPU from. An interrupt costs one interrupt unless
// nothing but interrupts can happen (then it is how the idle machine gets
// work, and free); an injected allocation failure costs one failure.
// Nothing else costs: a CPU whose context finished, sleeps or spins on
// memory nobody changed gives way for free, and a spin iteration that
// would read the same values is never a decision at all (the machine
// blocks the spinner until a cell it watches changes).
//
// Reduction. Schedules that differ only in the order of independent
// decisions (different CPUs, no cell in common that either writes,
// nothing global: see sim.Access) reach the same state, and only one of
// each such family needs to run. The search uses sleep sets (Godefroid,
// 1996) restricted so that they stay sound under the preemption bound:
// at each decision the current context's own step is explored first, and
// only that step is put to sleep for the decision's other branches. A
// schedule the sleep set prunes, one where the current CPU's step comes
// later past independent decisions, has an equivalent schedule in the
// branch explored first that costs no more preemptions (moving the
// current context's step forward never adds a switch away from a context
// that could go on), so pruning it loses nothing within the bound. That
// needs "independent" to cover whether a CPU can move: a decision that
// leaves its CPU blocked in a spin reads the cells the spinner watches
// (sim.Access), so a write that would wake it is not moved past it.
// Unrestricted sleep sets would: preemption bounding makes independent
// decisions dependent (Coons, Musuvathi and McKinley, OOPSLA 2013).
package exhaustive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/kernelsim/lfsim/sim"
)

// Bounds limit the schedules searched.
type Bounds struct {
	// Preemptions is the most preemptions a schedule may have; the search
	// deepens from 0 to it.
	Preemptions int `json:"preemptions"`
	// Interrupts is the most interrupts a schedule may fire while other
	// moves were possible.
	Interrupts int `json:"interrupts"`
	// Failures is the most allocation failures a schedule may inject (it
	// cannot exceed what the scenario allows).
	Failures int `json:"failures"`
}

// Config is one search.
type Config struct {
	Bounds Bounds
	// MaxExecutions stops the search after this many runs (0: no limit):
	// the result then says how far it got.
	MaxExecutions int
	// NoReduction runs every schedule within the bounds, equivalent or
	// not: for measuring what the reduction saves, and for checking it.
	NoReduction bool
	// Progress, when set, is called after every run; it must be cheap.
	Progress func(Stats)
	// EachEnd, when set, is called with every run that reached its end,
	// failing or not; pruned runs are not passed.
	EachEnd func(sim.Result)
	// KeepGoing searches on past failures (for EachEnd); the result's
	// Failure is then the first one found. Each preemption bound runs
	// the schedules of the lower ones again, so EachEnd sees those again.
	KeepGoing bool
	// Part, when its Count is above 1, searches only that share of each
	// bound's tree (see Part), for Merge to combine with the others. A
	// part searches every bound up to Bounds.Preemptions unless it finds
	// a failure: whether a deeper bound is needed is known only once
	// every part's cuts are merged.
	Part Part
}

// Stats count what a search did.
type Stats struct {
	// Executions is every run started; Pruned of them stopped early as
	// equivalent to a schedule explored before, and Cut stopped where
	// every way on exceeded the bounds.
	Executions, Pruned, Cut int
	Steps                   int64
	// Bound is the preemption bound being searched.
	Bound int
}

// Cost is what a schedule spent of the bounds.
type Cost struct {
	Preemptions int `json:"preemptions"`
	Interrupts  int `json:"interrupts"`
	Failures    int `json:"failures"`
}

func (c Cost) add(d Cost) Cost {
	return Cost{c.Preemptions + d.Preemptions, c.Interrupts + d.Interrupts, c.Failures + d.Failures}
}

func (c Cost) within(b Bounds) bool {
	return c.Preemptions <= b.Preemptions && c.Interrupts <= b.Interrupts && c.Failures <= b.Failures
}

// Result is what a search established.
type Result struct {
	Stats
	// Complete is set when every schedule within the bounds ran or is
	// equivalent to one that ran; Unbounded, when moreover no schedule
	// was cut by the preemption bound, so that no bound finds more.
	Complete, Unbounded bool
	// Failure is the first failure found, in Run, whose schedule spent
	// Spent; with Complete unset and no failure, the budget ran out.
	Failure *sim.Failure
	Run     sim.Result
	Spent   Cost
	// Remaining estimates, when the budget ran out, how many more runs
	// the bound being searched needs (from the share of the search tree
	// already covered); -1 when that bound had not started.
	Remaining float64
	// Interrupted is set when ctx was cancelled before the search ended:
	// the result is then incomplete.
	Interrupted bool
	// Probes counts the runs made only to walk past other parts' units
	// (not in Executions).
	Probes int
	// Levels and Units are, for a search of a Part, what Merge needs:
	// every bound's shape and this part's units, in order.
	Levels []Level
	Units  []Unit
}

// errPruned stops a run every continuation of which is covered elsewhere.
var errPruned = errors.New("exhaustive: pruned")

// errCut stops a run every continuation of which exceeds the bounds.
var errCut = errors.New("exhaustive: cut by the bounds")

// errProbe stops a run that has reached another walker's unit.
var errProbe = errors.New("exhaustive: another part's unit")

// Search runs the schedules until the bounds are covered, a failure is
// found, the budget is spent or ctx is cancelled. run builds a fresh
// machine with the workload and runs it under the given strategy; it must
// be deterministic: the same decisions give the same run. An error means
// it was not.
func Search(ctx context.Context, run func(sim.Strategy) sim.Result, cfg Config) (Result, error) {
	return SearchOn(ctx, []func(sim.Strategy) sim.Result{run}, cfg)
}

// SearchOn is Search on len(runs) goroutines, each calling its own run
// function (each with a machine and host of its own). The units of each
// bound's tree (see Part) are dealt out to them, and what they did is
// folded in the tree's order, so that the result is the one goroutine's:
// the same failure, schedule and counts, and with MaxExecutions the same
// cut, since each goroutine may spend the whole budget and the fold
// counts the runs in the tree's order up to it. Only a cancellation
// makes the result depend on timing.
func SearchOn(ctx context.Context, runs []func(sim.Strategy) sim.Result, cfg Config) (Result, error) {
	switch {
	case cfg.Bounds.Preemptions < 0 || cfg.Bounds.Interrupts < 0 || cfg.Bounds.Failures < 0:
		return Result{}, errors.New("exhaustive: negative bound")
	case cfg.MaxExecutions < 0:
		return Result{}, errors.New("exhaustive: negative execution budget")
	case len(runs) == 0:
		return Result{}, errors.New("exhaustive: no run function")
	case cfg.Part != (Part{}) && (cfg.Part.Count < 1 || cfg.Part.Index < 0 || cfg.Part.Index >= cfg.Part.Count):
		return Result{}, fmt.Errorf("exhaustive: part %d of %d", cfg.Part.Index, cfg.Part.Count)
	case (len(runs) > 1 || cfg.Part.Count > 0) && (cfg.EachEnd != nil || cfg.KeepGoing):
		return Result{}, errors.New("exhaustive: EachEnd and KeepGoing need the whole tree on one goroutine")
	}
	sh := &shared{cfg: cfg}
	part := cfg.Part.Count > 0
	var res Result
	for bound := 0; bound <= cfg.Bounds.Preemptions; bound++ {
		b := cfg.Bounds
		b.Preemptions = bound
		res.Bound = bound
		budget := -1 // runs each walker may make at this bound (-1: no bound)
		if cfg.MaxExecutions > 0 {
			budget = cfg.MaxExecutions - res.Executions
		}
		ws := make([]*walker, len(runs))
		for i := range ws {
			own := func(u int) bool {
				return cfg.Part.owns(u) && (len(runs) == 1 || (u/max(cfg.Part.Count, 1))%len(runs) == i)
			}
			ws[i] = &walker{bounds: b, reduce: !cfg.NoReduction, own: own, sh: sh, budget: budget, keepRuns: budget >= 0}
		}
		sh.startBound()
		var wg sync.WaitGroup
		for i, w := range ws {
			if len(ws) == 1 {
				w.search(ctx, runs[i], cfg)
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.search(ctx, runs[i], cfg)
			}()
		}
		wg.Wait()
		lv, cuts, done, err := fold(ws, bound, &res, cfg)
		if part {
			res.Levels = append(res.Levels, lv)
		}
		if err != nil || !done || (res.Failure != nil && !cfg.KeepGoing) {
			return res, err
		}
		if !cuts && !part {
			res.Complete, res.Unbounded = true, true
			return res, nil
		}
	}
	// A part's share proves nothing alone: Merge decides.
	res.Complete = !part
	return res, nil
}

// fold adds what the walkers of one bound did to res in the tree's order,
// as one walker would have met it: every unit up to the first that failed
// (all of them with KeepGoing), or up to the first error, gap or exhausted
// budget. It reports the bound's shape, whether the preemption bound left
// a move out anywhere in what was folded, and whether the bound was
// searched to its end (or to that failure).
func fold(ws []*walker, bound int, res *Result, cfg Config) (lv Level, cuts, done bool, err error) {
	lv = Level{Bound: bound, Units: -1}
	var units []Unit
	errUnit, errOf := -1, error(nil)
	for _, w := range ws {
		units = append(units, w.units...)
		lv.TopCut = lv.TopCut || w.topCut
		res.Probes += w.probes
		res.Interrupted = res.Interrupted || w.interrupted
		if w.walked {
			lv.Units = w.unit + 1
		}
		if w.err != nil && (errOf == nil || w.unit < errUnit) {
			errUnit, errOf = w.unit, w.err
		}
	}
	slices.SortFunc(units, func(a, b Unit) int { return a.Index - b.Index })
	cuts = lv.TopCut
	var kept []Unit
	start := res.Executions
	covered := 0.0
	done = true
	budget := cfg.MaxExecutions
	over := func(n int) bool { return budget > 0 && res.Executions+n > budget }
	next := 0 // the first unit of units not yet folded
	for want := 0; ; want++ {
		if want == errUnit {
			return lv, cuts, false, errOf
		}
		if lv.Units >= 0 && want == lv.Units {
			break // the tree's end
		}
		if !cfg.Part.owns(want) {
			if lv.Units < 0 && next == len(units) {
				done = false
				break
			}
			continue // another part's
		}
		if next == len(units) || units[next].Index != want {
			// A unit no walker ran: past another's failure (which the
			// fold has not reached) or past a stop.
			done = false
			break
		}
		u := units[next]
		next++
		if over(u.Executions) {
			takeRuns(res, &u, budget-res.Executions)
			done = false
			break
		}
		res.add(u)
		cuts = cuts || u.Cuts
		if u.partial {
			// Its walker stopped inside it (the budget, ctx): the runs it
			// made are the tree's next, and the last the fold has.
			done = false
			break
		}
		covered += u.share
		kept = append(kept, u)
		if u.Failed && res.Failure == nil {
			w := ownerOf(ws, u.Index)
			res.Failure, res.Run, res.Spent = w.failure.Failure, *w.failure, w.spentOnFail
			if !cfg.KeepGoing {
				break
			}
		}
		if budget > 0 && res.Executions >= budget && !(lv.Units >= 0 && want+1 == lv.Units) {
			done = false
			break
		}
	}
	if cfg.Part.Count > 0 {
		res.Units = append(res.Units, kept...)
	}
	if !done && res.Failure == nil {
		res.Remaining = -1
		if ran := float64(res.Executions - start); covered > 0 && ran > 0 {
			res.Remaining = ran * (1 - covered) / covered
		}
	}
	return lv, cuts, done, nil
}

// takeRuns adds the first n runs of unit u, which the budget cuts.
func takeRuns(res *Result, u *Unit, n int) {
	for _, r := range u.runs[:min(n, len(u.runs))] {
		res.Executions++
		res.Steps += r.steps
		switch r.kind {
		case runPruned:
			res.Pruned++
		case runCut:
			res.Cut++
		}
	}
}

// ownerOf is the walker that ran unit u.
func ownerOf(ws []*walker, u int) *walker {
	for _, w := range ws {
		if w.failure != nil && w.failUnit == u {
			return w
		}
	}
	panic(fmt.Sprintf("exhaustive: no walker failed in unit %d", u))
}

// shared is what the walkers of a search share: the progress callback,
// and the lowest unit known to fail at the bound in progress.
type shared struct {
	cfg      Config
	mu       sync.Mutex
	stats    Stats
	failUnit int
}

func (sh *shared) startBound() {
	sh.mu.Lock()
	sh.failUnit = -1
	sh.mu.Unlock()
}

// failed notes that unit u failed: the units after it need not run.
func (sh *shared) failed(u int) {
	sh.mu.Lock()
	if sh.failUnit < 0 || u < sh.failUnit {
		sh.failUnit = u
	}
	sh.mu.Unlock()
}

// superseded reports whether a unit before u is known to fail.
func (sh *shared) superseded(u int) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.failUnit >= 0 && sh.failUnit < u
}

func (sh *shared) progress(bound int, d Stats) {
	if sh.cfg.Progress == nil {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.stats.Executions += d.Executions
	sh.stats.Pruned += d.Pruned
	sh.stats.Cut += d.Cut
	sh.stats.Steps += d.Steps
	sh.stats.Bound = bound
	sh.cfg.Progress(sh.stats)
}

// walker is the depth-first search at one preemption bound: the path of
// the run in progress, and at each decision what is left to explore. It
// is the strategy of every run at that bound. It runs the units its own
// reports true for, and walks past the others with probes: runs that
// stop where the unit's own decisions begin, so that every walker knows
// the decisions above the split as the others do.
type walker struct {
	bounds Bounds
	reduce bool
	stack  []*node
	depth  int // decisions taken in the run in progress
	m      *sim.Machine
	own    func(unit int) bool
	sh     *shared

	unit   int  // the unit the run in progress is in
	mine   bool // whether that unit is this walker's
	units  []Unit
	topCut bool // a move above the split was left out for the preemption bound
	probes int
	// budget is how many runs of its own the walker may make (-1: no
	// bound); keepRuns keeps each run's counts, for a fold the budget cuts
	// inside a unit.
	budget   int
	keepRuns bool

	// How the walk ended: walked the whole tree (the unit count is
	// known), stopped at its own failure, stopped because an earlier
	// unit failed, or stopped by the budget, ctx or an error (in w.unit);
	// the last unit is then partial.
	walked, superseded, interrupted bool
	failure                         *sim.Result
	failUnit                        int
	spentOnFail                     Cost
	err                             error
}

// run kinds kept for a budget's cut.
const (
	runEnded = iota
	runPruned
	runCut
)

// runRec is what one run of a unit counted.
type runRec struct {
	steps int64
	kind  uint8
}

// node is one decision of the current path.
type node struct {
	moves []sim.Move // possible moves, to check that replays agree
	order []int      // the moves to explore, by index, in order
	costs []Cost     // what each of them costs
	next  int        // the one being explored
	spent Cost       // before this decision
	cur   int        // the current CPU, -1 before any
	sleep []sleeper  // moves covered by branches explored before
	// cont is set when order[0] is the current CPU's own step, whose
	// access contAcc is known once it has run.
	cont    bool
	contAcc *sim.Access
	// level counts the decisions above with more than one branch to
	// explore: a node below splitLevel is in a unit of its own.
	level int
}

// sleeper is a move asleep at a node, and what it touches.
type sleeper struct {
	mv  sim.Move
	acc sim.Access
}

// enter starts unit u.
func (w *walker) enter(u int) {
	w.unit, w.mine = u, w.own(u)
	if w.mine {
		w.units = append(w.units, Unit{Bound: w.bounds.Preemptions, Index: u, share: -1})
	}
}

// stop ends the walk inside the current unit, which is then partial.
func (w *walker) stop() {
	if w.mine {
		w.units[len(w.units)-1].partial = true
	}
}

// unitShare is the share of the bound's tree that the current unit is,
// each branch of a decision above the split taken as an equal share.
func (w *walker) unitShare() float64 {
	share := 1.0
	for _, n := range w.stack {
		if n.level < splitLevel {
			share /= float64(len(n.order))
		}
	}
	return share
}

func (w *walker) search(ctx context.Context, run func(sim.Strategy) sim.Result, cfg Config) {
	w.enter(0)
	for {
		if w.sh.superseded(w.unit) {
			w.superseded = true
			w.stop()
			return
		}
		if ctx.Err() != nil {
			w.interrupted = true
			w.stop()
			return
		}
		if w.mine && w.budget == 0 {
			w.stop()
			return
		}
		w.depth, w.m = 0, nil
		r := run(w)
		if w.m != nil {
			w.noteLast()
		}
		var d Stats
		kind := uint8(runEnded)
		switch {
		case errors.Is(r.Err, errProbe):
		case errors.Is(r.Err, errPruned):
			d.Pruned, kind = 1, runPruned
		case errors.Is(r.Err, errCut):
			d.Cut, kind = 1, runCut
		case errors.Is(r.Err, sim.ErrStopped):
			// Stopped part-way by the caller: interrupted, as between runs.
			w.interrupted = true
			w.stop()
			return
		case r.Err != nil:
			w.err = fmt.Errorf("bound %d, unit %d of the search tree: %w", w.bounds.Preemptions, w.unit, r.Err)
			w.stop()
			return
		case r.Failure != nil && r.Failure.Kind == sim.KindWatchdog:
			w.err = fmt.Errorf("bound %d, unit %d of the search tree: %s: %s (a judgement of host time: no verdict)", w.bounds.Preemptions, w.unit, r.Failure.Kind, r.Failure.Message)
			w.stop()
			return
		}
		if !w.mine {
			w.probes++
		} else {
			u := &w.units[len(w.units)-1]
			if u.share < 0 {
				u.share = w.unitShare()
			}
			w.budget--
			d.Executions, d.Steps = 1, int64(r.Steps)
			u.Executions++
			u.Pruned += d.Pruned
			u.Cut += d.Cut
			u.Steps += d.Steps
			if w.keepRuns {
				u.runs = append(u.runs, runRec{int64(r.Steps), kind})
			}
			if r.Err == nil {
				if cfg.EachEnd != nil {
					cfg.EachEnd(r)
				}
				if r.Failure != nil && w.failure == nil {
					w.failure, w.failUnit, w.spentOnFail = &r, w.unit, w.spent(r)
					u.Failed = true
					if !cfg.KeepGoing {
						w.sh.failed(w.unit)
						w.sh.progress(w.bounds.Preemptions, d)
						return
					}
				}
			}
			w.sh.progress(w.bounds.Preemptions, d)
		}
		if !w.backtrack() {
			w.walked = true
			return
		}
	}
}

// spent is what the run's schedule cost: the path's last node plus its
// last move.
func (w *walker) spent(r sim.Result) Cost {
	if len(w.stack) == 0 || len(r.Decisions) == 0 {
		return Cost{}
	}
	n := w.stack[len(r.Decisions)-1]
	return n.spent.add(n.costs[n.next])
}

// backtrack moves to the next branch, deepest first. It reports false
// when none is left. A branch taken above the split starts a new unit.
func (w *walker) backtrack() bool {
	for len(w.stack) > 0 {
		n := w.stack[len(w.stack)-1]
		if n.next+1 < len(n.order) {
			n.next++
			if n.level < splitLevel {
				w.enter(w.unit + 1)
			}
			return true
		}
		w.stack = w.stack[:len(w.stack)-1]
	}
	return false
}

// noteLast records what the previous decision touched, when that was a
// node's first branch and the current CPU's own step.
func (w *walker) noteLast() {
	if w.depth == 0 || w.depth > len(w.stack) {
		return
	}
	p := w.stack[w.depth-1]
	if p.cont && p.next == 0 && p.contAcc == nil {
		acc := w.m.LastAccess().Clone()
		p.contAcc = &acc
	}
}

// Choose implements sim.Strategy.
func (w *walker) Choose(m *sim.Machine, moves []sim.Move) (int, error) {
	w.m = m
	w.noteLast()
	d := w.depth
	w.depth++
	if d < len(w.stack) {
		n := w.stack[d]
		if !slices.Equal(n.moves, moves) {
			return 0, fmt.Errorf("the workload is not deterministic: decision %d offers different moves than before", d+1)
		}
		return n.order[n.next], nil
	}
	if !w.mine && w.nextLevel() >= splitLevel {
		return 0, errProbe
	}
	n := w.newNode(m, moves)
	if len(n.order) == 0 {
		if len(n.sleep) > 0 {
			return 0, errPruned
		}
		return 0, errCut
	}
	w.stack = append(w.stack, n)
	return n.order[0], nil
}

// nextLevel is the level of the decision after the path's last one.
func (w *walker) nextLevel() int {
	if len(w.stack) == 0 {
		return 0
	}
	p := w.stack[len(w.stack)-1]
	if len(p.order) > 1 {
		return p.level + 1
	}
	return p.level
}

// newNode makes the node for the decision after the path's last one.
func (w *walker) newNode(m *sim.Machine, moves []sim.Move) *node {
	n := &node{moves: slices.Clone(moves), cur: -1, level: w.nextLevel()}
	if len(w.stack) > 0 {
		p := w.stack[len(w.stack)-1]
		chosen := p.moves[p.order[p.next]]
		n.spent = p.spent.add(p.costs[p.next])
		n.cur = int(chosen.CPU)
		if w.reduce {
			n.sleep = p.childSleep(m.LastAccess())
		}
	}
	canCont := n.cur >= 0 && slices.Contains(moves, sim.Move{Kind: sim.MoveStep, CPU: uint8(n.cur)})
	onlyIRQs := !slices.ContainsFunc(moves, func(mv sim.Move) bool { return mv.Kind != sim.MoveIRQ })
	add := func(i int, cont bool) {
		mv := moves[i]
		if slices.ContainsFunc(n.sleep, func(s sleeper) bool { return s.mv == mv }) {
			return
		}
		var c Cost
		switch mv.Kind {
		case sim.MoveIRQ:
			if !onlyIRQs {
				c.Interrupts = 1
			}
		case sim.MoveFailAlloc:
			c.Failures = 1
		}
		if mv.Kind != sim.MoveIRQ && int(mv.CPU) != n.cur && canCont {
			c.Preemptions++
		}
		if m.Preempts(mv) {
			c.Preemptions++
		}
		if !n.spent.add(c).within(w.bounds) {
			if n.spent.add(Cost{Interrupts: c.Interrupts, Failures: c.Failures}).within(w.bounds) {
				w.noteCut(n.level) // only the preemption bound keeps it out
			}
			return
		}
		if cont && len(n.order) == 0 {
			n.cont = true
		}
		n.order = append(n.order, i)
		n.costs = append(n.costs, c)
	}
	if canCont {
		add(slices.Index(moves, sim.Move{Kind: sim.MoveStep, CPU: uint8(n.cur)}), true)
	}
	for i, mv := range moves {
		if !(canCont && mv == (sim.Move{Kind: sim.MoveStep, CPU: uint8(n.cur)})) {
			add(i, false)
		}
	}
	return n
}

// noteCut records that the preemption bound left a move out at a node of
// the given level: above the split every walker sees it; below, the
// unit's owner alone.
func (w *walker) noteCut(level int) {
	if level < splitLevel {
		w.topCut = true
	} else {
		w.units[len(w.units)-1].Cuts = true
	}
}

// childSleep is the sleep set of the branch being explored at p, given
// what its move touched: the moves asleep at p and the current CPU's step
// explored before it, those of them that the move does not conflict with.
func (p *node) childSleep(acc *sim.Access) []sleeper {
	var out []sleeper
	for _, s := range p.sleep {
		if !s.acc.Conflicts(acc) {
			out = append(out, s)
		}
	}
	if p.cont && p.next > 0 && p.contAcc != nil && !p.contAcc.Conflicts(acc) {
		out = append(out, sleeper{p.moves[p.order[0]], *p.contAcc})
	}
	return out
}
