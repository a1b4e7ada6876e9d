package trace

import (
	"strings"

	"github.com/kernelsim/lfsim/sim"
)

// A timeline is what the HTML page and the Perfetto file draw: per CPU,
// the contexts that ran stacked as the kernel stacks them (a hardirq over
// the softirq or task it interrupted), the operations of the code under
// test inside them, and every event at its step.
type timeline struct {
	cpus  int
	steps int
	spans []span // contexts and operations, in the order they start
	marks []mark // events
	fail  *mark  // the failure, if the run failed
}

// Levels of a CPU's stack of contexts.
const (
	levelTask = iota
	levelSoftirq
	levelHardirq
	levels
)

// span is a context or an operation on a CPU, over steps [from, to]:
// from its event fromK of step from to its event toK of step to (several
// events share a step: an interrupt returns and a softirq starts in one).
type span struct {
	cpu, level int
	from, to   int
	fromK, toK int
	op         bool   // an operation (Call to Return), not a context
	name       string // the context, or the call: "alf_mp_enqueue([1 2])"
	result     string // an operation's result
	returned   bool   // the operation returned
	ctx        string
}

// mark is one event at its step. Kind classes draw it: the memory model
// of a later machine adds kinds (a store buffered, then propagated)
// without changing what the timeline is.
type mark struct {
	cpu, level int
	step, k    int // the event is the k-th of its step
	kind       string
	text       string
	source     string
	ctx        string
}

func levelOf(ctx string) int {
	switch {
	case strings.HasPrefix(ctx, "hardirq "):
		return levelHardirq
	case strings.HasPrefix(ctx, "softirq "):
		return levelSoftirq
	}
	return levelTask
}

// newTimeline lays events out: a context's span lasts from its first
// event to its last on that CPU while nothing at its level or below
// replaced it; an interrupt above it leaves it open underneath.
func newTimeline(events []sim.Event, cpus int) *timeline {
	tl := &timeline{cpus: cpus}
	open := make([][levels]int, cpus) // index+1 into tl.spans of the open context per level
	calls := map[string][]int{}       // open operations by context: their spans
	k, last := 0, -1
	for _, e := range events {
		tl.steps = max(tl.steps, e.Step)
		if e.Step != last {
			k, last = 0, e.Step
		} else {
			k++
		}
		if e.CPU < 0 || e.CPU >= cpus {
			if e.Kind == sim.EvFailure {
				tl.fail = &mark{cpu: -1, step: e.Step, kind: "failure", text: e.Text()}
			}
			continue
		}
		lv := levelOf(e.Ctx)
		st := &open[e.CPU]
		if i := st[lv]; i == 0 || tl.spans[i-1].ctx != e.Ctx {
			tl.spans = append(tl.spans, span{cpu: e.CPU, level: lv, from: e.Step, fromK: k, name: e.Ctx, ctx: e.Ctx})
			st[lv] = len(tl.spans)
		}
		// What runs at lv has returned from every context above it.
		for above := lv + 1; above < levels; above++ {
			st[above] = 0
		}
		tl.spans[st[lv]-1].to, tl.spans[st[lv]-1].toK = e.Step, k
		switch e.Kind {
		case sim.EvCall:
			tl.spans = append(tl.spans, span{cpu: e.CPU, level: lv, from: e.Step, fromK: k, to: e.Step, toK: k, op: true, name: e.Text(), ctx: e.Ctx})
			calls[e.Ctx] = append(calls[e.Ctx], len(tl.spans)-1)
			continue
		case sim.EvReturn:
			if cs := calls[e.Ctx]; len(cs) > 0 {
				s := &tl.spans[cs[len(cs)-1]]
				s.to, s.toK, s.result, s.returned = e.Step, k, e.Value, true
				calls[e.Ctx] = cs[:len(cs)-1]
			}
			continue
		}
		m := mark{cpu: e.CPU, level: lv, step: e.Step, k: k, kind: e.Kind.String(), text: e.Text(), source: e.Source(), ctx: e.Ctx}
		if e.Kind == sim.EvFailure {
			tl.fail = &m
			continue
		}
		tl.marks = append(tl.marks, m)
	}
	// An operation that never returned lasts as long as its context.
	for i := range tl.spans {
		s := &tl.spans[i]
		if !s.op || s.returned {
			continue
		}
		for _, ctx := range tl.spans {
			if !ctx.op && ctx.ctx == s.ctx && ctx.cpu == s.cpu && ctx.from <= s.from && (ctx.to > s.to || ctx.to == s.to && ctx.toK > s.toK) {
				s.to, s.toK = ctx.to, ctx.toK
			}
		}
	}
	return tl
}

// running is where operation s's context ran on its CPU while s was in
// flight: the steps of s, less those its task spent preempted.
func (tl *timeline) running(s span) [][2]int {
	var segs [][2]int
	for _, c := range tl.spans {
		if c.op || c.ctx != s.ctx || c.cpu != s.cpu {
			continue
		}
		if from, to := max(c.from, s.from), min(c.to, s.to); from <= to {
			segs = append(segs, [2]int{from, to})
		}
	}
	return segs
}
