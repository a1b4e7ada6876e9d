package treiber

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/check"
	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/linearizability"
	"github.com/kernelsim/lfsim/sim"
)

type popped struct {
	V  uint64
	OK bool
}

// lifo is the sequential stack every history must fit: a push's input is
// its value, a pop's input is "pop" and its output a popped.
var lifo = porcupine.Model{
	Init: func() any { return []uint64(nil) },
	Step: func(state, in, out any) (bool, any) {
		st := state.([]uint64)
		if v, push := in.(uint64); push {
			return true, append(slices.Clone(st), v)
		}
		p := out.(popped)
		if len(st) == 0 {
			return !p.OK, st
		}
		return p.OK && p.V == st[len(st)-1], st[:len(st)-1]
	},
}

// workload: 1, 2, 3 pushed first, then two CPUs each pop, push and pop
// again, every call recorded and checked against lifo; a reclaim task frees
// the retired nodes once both are done.
func workload(pop func(s *Stack, c *sim.Ctx) (uint64, bool)) check.Workload {
	return check.Workload{CPUs: 2, Build: func(m *sim.Machine) check.Check {
		s := New(m, 2)
		var h linearizability.ObjectHistory
		done := m.NewCell("done", sim.W32, 0)
		m.Init("fill", func(c *sim.Ctx) {
			for v := uint64(1); v <= 3; v++ {
				h.Record(c, 2, v, func() any { return s.Push(c, v) })
			}
		})
		for cpu := range 2 {
			m.Go(fmt.Sprintf("cpu%d", cpu), cpu, func(c *sim.Ctx) {
				popOnce := func() any { v, ok := pop(s, c); return popped{v, ok} }
				h.Record(c, cpu, "pop", popOnce)
				h.Record(c, cpu, uint64(10+cpu), func() any { return s.Push(c, uint64(10+cpu)) })
				h.Record(c, cpu, "pop", popOnce)
				c.AtomicAddReturn(done, 1)
			})
		}
		m.Go("reclaim", 0, func(c *sim.Ctx) {
			for c.ReadOnce(done) != 2 {
				c.CpuRelax()
			}
			s.Reclaim(c) // after a grace period: no CPU is inside Pop
		})
		return func() *sim.Failure {
			return h.Check(linearizability.ObjectCheck{Model: lifo}).Failure("the stack")
		}
	}}
}

func TestTreiberStack(t *testing.T) {
	check.Run(t, workload((*Stack).Pop), check.Runs(5000))
}

func FuzzTreiberStack(f *testing.F) { check.Fuzz(f, workload((*Stack).Pop)) }

// Freeing at once breaks the stack: a slow pop reads a node another CPU
// popped and freed.
func TestPopAndFreeIsBroken(t *testing.T) {
	out, err := explore.Explore(context.Background(), explore.Config{
		Scenario: workload((*Stack).PopAndFree).Scenario("TreiberPopAndFree"),
		Strategy: explore.Mix, Seed: 1, Runs: 5000,
	})
	require.NoError(t, err)
	require.NotNil(t, out.Failure, "no failure in %d runs", out.Runs)
	assert.Equal(t, sim.KindUseAfterFree, out.Failure.Kind)
	assert.Regexp(t, `^treiber/stack\.go:\d+$`, out.Failure.Site(), "a line of the stack")
	t.Logf("found in run %d: %s", out.FailRun, explore.Describe(out.Failure))
}
