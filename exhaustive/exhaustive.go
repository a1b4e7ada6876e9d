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
}

// errPruned stops a run every continuation of which is covered elsewhere.
var errPruned = errors.New("exhaustive: pruned")

// errCut stops a run every continuation of which exceeds the bounds.
var errCut = errors.New("exhaustive: cut by the bounds")

// Search runs the schedules until the bounds are covered, a failure is
// found, the budget is spent or ctx is cancelled. run builds a fresh
// machine with the workload and runs it under the given strategy; it must
// be deterministic: the same decisions give the same run. An error means
// it was not.
func Search(ctx context.Context, run func(sim.Strategy) sim.Result, cfg Config) (Result, error) {
	if cfg.Bounds.Preemptions < 0 || cfg.Bounds.Interrupts < 0 || cfg.Bounds.Failures < 0 {
		return Result{}, errors.New("exhaustive: negative bound")
	}
	if cfg.MaxExecutions < 0 {
		return Result{}, errors.New("exhaustive: negative execution budget")
	}
	var res Result
	for bound := 0; bound <= cfg.Bounds.Preemptions; bound++ {
		b := cfg.Bounds
		b.Preemptions = bound
		res.Bound = bound
		w := &walker{bounds: b, reduce: !cfg.NoReduction}
		done, err := w.search(ctx, run, cfg, &res)
		if err != nil || !done || (res.Failure != nil && !cfg.KeepGoing) {
			if !done && res.Failure == nil {
				res.Remaining = w.remaining()
			}
			return res, err
		}
		if !w.cut {
			res.Complete, res.Unbounded = true, true
			return res, nil
		}
	}
	res.Complete = true
	return res, nil
}

// walker is the depth-first search at one preemption bound: the path of
// the run in progress, and at each decision what is left to explore. It
// is the strategy of every run at that bound.
type walker struct {
	bounds Bounds
	reduce bool
	stack  []*node
	depth  int // decisions taken in the run in progress
	m      *sim.Machine
	cut    bool // some move was left out for the preemption bound
	runs   int  // runs at this bound
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
}

// sleeper is a move asleep at a node, and what it touches.
type sleeper struct {
	mv  sim.Move
	acc sim.Access
}

func (w *walker) search(ctx context.Context, run func(sim.Strategy) sim.Result, cfg Config, res *Result) (bool, error) {
	for {
		if cfg.MaxExecutions > 0 && res.Executions >= cfg.MaxExecutions {
			return false, nil
		}
		if ctx.Err() != nil {
			res.Interrupted = true
			return false, nil
		}
		w.depth, w.m = 0, nil
		r := run(w)
		w.runs++
		res.Executions++
		res.Steps += int64(r.Steps)
		if w.m != nil {
			w.noteLast()
		}
		switch {
		case errors.Is(r.Err, errPruned):
			res.Pruned++
		case errors.Is(r.Err, errCut):
			res.Cut++
		case r.Err != nil:
			return false, fmt.Errorf("run %d: %w", res.Executions-1, r.Err)
		case r.Failure != nil && r.Failure.Kind == sim.KindWatchdog:
			return false, fmt.Errorf("run %d: %s: %s (a judgement of host time: no verdict)", res.Executions-1, r.Failure.Kind, r.Failure.Message)
		default:
			if cfg.EachEnd != nil {
				cfg.EachEnd(r)
			}
			if r.Failure != nil && res.Failure == nil {
				res.Failure, res.Run, res.Spent = r.Failure, r, w.spent(r)
				if !cfg.KeepGoing {
					return true, nil
				}
			}
		}
		if cfg.Progress != nil {
			cfg.Progress(res.Stats)
		}
		if !w.backtrack() {
			return true, nil
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
// when none is left.
func (w *walker) backtrack() bool {
	for len(w.stack) > 0 {
		n := w.stack[len(w.stack)-1]
		if n.next+1 < len(n.order) {
			n.next++
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

// newNode makes the node for the decision after the path's last one.
func (w *walker) newNode(m *sim.Machine, moves []sim.Move) *node {
	n := &node{moves: slices.Clone(moves), cur: -1}
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
				w.cut = true // only the preemption bound keeps it out
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

// remaining estimates the runs the bound still needs: the runs so far
// times the share of the tree not yet covered over the share covered,
// each branch of a decision taken as an equal share of its subtree.
func (w *walker) remaining() float64 {
	done, share := 0.0, 1.0
	for _, n := range w.stack {
		k := float64(len(n.order))
		done += share * float64(n.next) / k
		share /= k
	}
	if done <= 0 {
		return -1
	}
	return float64(w.runs) * (1 - done) / done
}
