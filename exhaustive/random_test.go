package exhaustive_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/kernelsim/lfsim/exhaustive"
	"github.com/kernelsim/lfsim/sim"
)

// step is one operation of a generated program.
type step struct {
	kind    int // see the switch in program.run
	cell, v int
}

// program is a small random workload: tasks (pinned or free to migrate)
// and interrupt handlers doing loads, stores, atomics, compare-and-swaps
// and spins on a few cells, some of it with preemption or bottom halves
// disabled. Every value read is stored in a cell of its own, so that the
// end state records what each context saw.
type program struct {
	cpus, cells int
	tasks       []task
	irqs        []irq
}

type task struct {
	pin   int
	steps []step
}

type irq struct {
	cpu   int
	steps []step
}

const (
	opRead = iota
	opWrite
	opAdd
	opCmpxchg
	opSpin
	opPreemptOff
	opBhOff
	nOps
)

func genSteps(t *rapid.T, cells int, label string, inIRQ bool) []step {
	n := rapid.IntRange(1, 3).Draw(t, label+"-steps")
	var out []step
	for i := range n {
		k := rapid.IntRange(0, nOps-1).Draw(t, fmt.Sprintf("%s-%d-kind", label, i))
		if inIRQ && (k == opSpin || k == opPreemptOff || k == opBhOff) {
			k = opRead // a handler that spins on a task of its CPU would only lock up
		}
		out = append(out, step{kind: k, cell: rapid.IntRange(0, cells-1).Draw(t, fmt.Sprintf("%s-%d-cell", label, i)),
			v: rapid.IntRange(0, 2).Draw(t, fmt.Sprintf("%s-%d-v", label, i))})
	}
	return out
}

func genProgram(t *rapid.T) program {
	p := program{cpus: rapid.IntRange(2, 3).Draw(t, "cpus"), cells: rapid.IntRange(1, 3).Draw(t, "cells")}
	for i := range rapid.IntRange(2, 3).Draw(t, "tasks") {
		pin := rapid.IntRange(-1, p.cpus-1).Draw(t, fmt.Sprintf("task%d-pin", i))
		p.tasks = append(p.tasks, task{pin: pin, steps: genSteps(t, p.cells, fmt.Sprintf("task%d", i), false)})
	}
	for i := range rapid.IntRange(0, 2).Draw(t, "irqs") {
		p.irqs = append(p.irqs, irq{cpu: rapid.IntRange(0, p.cpus-1).Draw(t, fmt.Sprintf("irq%d-cpu", i)),
			steps: genSteps(t, p.cells, fmt.Sprintf("irq%d", i), true)})
	}
	return p
}

func (p program) build(m *sim.Machine) {
	cells := m.NewArray("x", p.cells, sim.W32, 0)
	seen := 0
	body := func(steps []step) func(*sim.Ctx) {
		first := seen
		seen += len(steps)
		out := m.NewArray(fmt.Sprintf("seen%d", first), len(steps), sim.W32, 0)
		return func(c *sim.Ctx) {
			for i, s := range steps {
				x := &cells[s.cell]
				var got uint64
				switch s.kind {
				case opRead:
					got = c.ReadOnce(x)
				case opWrite:
					c.WriteOnce(x, uint64(s.v))
				case opAdd:
					got = c.AtomicAddReturn(x, 1)
				case opCmpxchg:
					got = c.Cmpxchg(x, uint64(s.v), uint64(s.v+1))
				case opSpin:
					for got = c.ReadOnce(x); got == 0; got = c.ReadOnce(x) {
						c.CpuRelax()
					}
				case opPreemptOff:
					c.PreemptDisable()
					got = c.AtomicAddReturn(x, 1)
					c.PreemptEnable()
				case opBhOff:
					c.LocalBhDisable()
					c.WriteOnce(x, c.ReadOnce(x)+1)
					c.LocalBhEnable()
				}
				c.WriteOnce(&out[i], got)
			}
		}
	}
	for i, t := range p.tasks {
		m.Go(fmt.Sprintf("t%d", i), t.pin, body(t.steps))
	}
	for i, q := range p.irqs {
		m.RequestIRQ(q.cpu, fmt.Sprintf("dev%d", i), 1, body(q.steps))
	}
}

// TestReductionOnRandomPrograms: on random small programs, at random
// bounds, the reduced search reaches exactly the end states and failures
// of the unreduced one.
func TestReductionOnRandomPrograms(t *testing.T) {
	if testing.Short() {
		t.Skip("a hundred searches, each twice: runs without -short")
	}
	rapid.Check(t, func(rt *rapid.T) {
		p := genProgram(rt)
		b := exhaustive.Bounds{Preemptions: rapid.IntRange(0, 2).Draw(rt, "preemptions"), Interrupts: rapid.IntRange(0, 2).Draw(rt, "interrupts")}
		run := func(st sim.Strategy) sim.Result {
			m, err := sim.New(sim.Config{CPUs: p.cpus, Positions: true})
			if err != nil {
				panic(err)
			}
			p.build(m)
			return m.Run(st)
		}
		reach := func(reduce bool) (map[string]bool, exhaustive.Result) {
			ends := map[string]bool{}
			res, err := exhaustive.Search(context.Background(), run, exhaustive.Config{Bounds: b, NoReduction: !reduce, KeepGoing: true, MaxExecutions: 3_000,
				EachEnd: func(r sim.Result) {
					if r.Failure != nil {
						ends[r.Failure.Kind+" at "+r.Failure.Site()] = true
					} else {
						ends[fmt.Sprint(r.Fingerprint())] = true
					}
				}})
			require.NoError(rt, err)
			return ends, res
		}
		all, full := reach(false)
		if !full.Complete {
			rt.Skip("too big to enumerate")
		}
		red, _ := reach(true)
		require.Equal(rt, slices.Sorted(maps.Keys(all)), slices.Sorted(maps.Keys(red)), "end states and failures, bounds %+v", b)
	})
}
