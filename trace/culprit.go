package trace

import (
	"fmt"
	"strings"

	"github.com/kernelsim/lfsim/sim"
)

// Culprit is the event that explains a failure about one value: the store
// that overwrote a lost value before anything read it, or the load that
// read a value a second time.
type Culprit struct {
	Index int    // into the events
	Step  int    // its step
	Note  string // "overwrote 7, which nothing had read"
}

// FindCulprit looks in a trace that ends in a lost-value or
// duplicated-value failure (one with a Value) for the event that lost or
// repeated the value. It reports false when the trace has no such failure
// or does not show the event (a value lost by a counter, not a slot).
func FindCulprit(events []sim.Event) (Culprit, bool) {
	var fail *sim.Event
	for i := range events {
		if events[i].Kind == sim.EvFailure {
			fail = &events[i]
		}
	}
	if fail == nil || fail.Value == "" {
		return Culprit{}, false
	}
	v := fail.Value
	switch {
	case strings.Contains(fail.Note, "lost-value"):
		return overwrite(events, v)
	case strings.Contains(fail.Note, "duplicated-value"):
		return reread(events, v)
	}
	return Culprit{}, false
}

// stored and loaded are the value a plain store or load event wrote or
// read, as the machine prints them ("= 7", "-> 7").
func stored(e sim.Event) (string, bool) {
	if e.Kind != sim.EvOp || e.Var == "" {
		return "", false
	}
	return strings.CutPrefix(e.Value, "= ")
}

func loaded(e sim.Event) (string, bool) {
	if e.Kind != sim.EvOp || e.Var == "" {
		return "", false
	}
	return strings.CutPrefix(e.Value, "-> ")
}

// overwrite is a store of another value over a store of v into a cell,
// before any load of v from that cell. The stores of v are tried from the
// last: a value also lands in cells that are not slots (a counter that
// happens to equal it), which are read back or never overwritten.
func overwrite(events []sim.Event, v string) (Culprit, bool) {
	for at := len(events) - 1; at >= 0; at-- {
		if got, ok := stored(events[at]); !ok || got != v {
			continue
		}
		if i, ok := overwritten(events, at, v); ok {
			return Culprit{i, events[i].Step, fmt.Sprintf("overwrote %s (stored at #%d), which nothing had read", v, events[at].Step)}, true
		}
	}
	return Culprit{}, false
}

// overwritten finds the store of another value into the cell events[at]
// stored v into, with no load of v from it between.
func overwritten(events []sim.Event, at int, v string) (int, bool) {
	cell := events[at].Var
	for i := at + 1; i < len(events); i++ {
		e := events[i]
		if e.Var != cell {
			continue
		}
		if got, ok := loaded(e); ok && got == v {
			return 0, false
		}
		if got, ok := stored(e); ok && got != v {
			return i, true
		}
	}
	return 0, false
}

// reread is the second load of v from a cell with no store of v into it
// between the two.
func reread(events []sim.Event, v string) (Culprit, bool) {
	first := map[string]int{} // cell -> step of the load that read v
	for i, e := range events {
		if got, ok := stored(e); ok && got == v {
			delete(first, e.Var)
			continue
		}
		if got, ok := loaded(e); ok && got == v {
			if step, seen := first[e.Var]; seen {
				return Culprit{i, e.Step, fmt.Sprintf("read %s again, which the load at #%d had taken", v, step)}, true
			}
			first[e.Var] = e.Step
		}
	}
	return Culprit{}, false
}
