package exhaustive_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/exhaustive"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/sim"
)

// ends is what a search reached: the fingerprints of the states clean
// runs ended in, and the failures (kind and site) of the others.
type ends struct {
	states   map[uint64]bool
	failures map[string]bool
	runs     int
}

func collect(t *testing.T, run func(sim.Strategy) sim.Result, b exhaustive.Bounds, reduce bool) (ends, exhaustive.Result) {
	t.Helper()
	e := ends{states: map[uint64]bool{}, failures: map[string]bool{}}
	res, err := exhaustive.Search(run, exhaustive.Config{
		Bounds: b, NoReduction: !reduce, KeepGoing: true, MaxExecutions: 2_000_000,
		EachEnd: func(r sim.Result) {
			e.runs++
			if r.Failure != nil {
				e.failures[r.Failure.Kind+" at "+r.Failure.Site()] = true
				return
			}
			e.states[r.Fingerprint()] = true
		},
	})
	require.NoError(t, err)
	require.True(t, res.Complete, "the search must finish within its budget to be compared")
	return e, res
}

func scenarioRun(t *testing.T, name string, set ...string) func(sim.Strategy) sim.Result {
	t.Helper()
	s, err := scenario.Builtin().Lookup(name)
	require.NoError(t, err)
	v, err := s.Values(set)
	require.NoError(t, err)
	host := sim.NewHost()
	t.Cleanup(host.Close)
	return func(st sim.Strategy) sim.Result {
		return s.Run(v, scenario.Options{Positions: true, Host: host}, st)
	}
}

// counters is a small workload with every kind of decision: two CPUs
// racing on a plain counter and a lock-free one, a spin that waits for a
// flag, an interrupt handler that writes a cell the tasks read, and a
// task free to migrate.
func counters(m *sim.Machine) {
	plain := m.NewCell("plain", sim.W32, 0)
	atomic := m.NewCell("atomic", sim.W32, 0)
	flag := m.NewCell("flag", sim.W32, 0)
	other := m.NewCell("other", sim.W32, 0)
	m.Go("a", 0, func(c *sim.Ctx) {
		c.Store(plain, c.Load(plain)+1)
		c.AtomicAddReturn(atomic, 1)
		c.WriteOnce(flag, 1)
		c.WriteOnce(other, 7)
	})
	m.Go("b", 1, func(c *sim.Ctx) {
		for c.ReadOnce(flag) == 0 {
			c.CpuRelax()
		}
		c.Store(plain, c.Load(plain)+1)
		c.AtomicAddReturn(atomic, 1)
	})
	m.Go("roamer", sim.Any, func(c *sim.Ctx) {
		c.ReadOnce(other)
		c.WriteOnce(other, 3)
	})
	m.RequestIRQ(0, "dev", 1, func(c *sim.Ctx) {
		c.WriteOnce(other, c.ReadOnce(other)+10)
	})
}

func customRun(build func(*sim.Machine)) func(sim.Strategy) sim.Result {
	return func(st sim.Strategy) sim.Result {
		m, err := sim.New(sim.Config{CPUs: 2, Positions: true})
		if err != nil {
			panic(err)
		}
		build(m)
		return m.Run(st)
	}
}

// TestReductionLosesNoEndState checks the reduction is sound: on small
// workloads, at each preemption bound, the end states and failures that
// the reduced search reaches are exactly those every schedule reaches.
func TestReductionLosesNoEndState(t *testing.T) {
	cases := []struct {
		name   string
		run    func(sim.Strategy) sim.Result
		bounds []exhaustive.Bounds
	}{
		{"counters", customRun(counters), []exhaustive.Bounds{{0, 0, 0}, {1, 1, 0}, {2, 1, 0}}},
		{"ring2005", scenarioRun(t, "ring2005", "packets=2", "burst=2", "ring=2"), []exhaustive.Bounds{{0, 0, 0}, {1, 1, 0}, {2, 1, 0}}},
		{"ring2005-locked", scenarioRun(t, "ring2005-locked", "packets=2", "burst=1"), []exhaustive.Bounds{{1, 1, 0}, {2, 1, 0}}},
		{"alf-mpmc", scenarioRun(t, "alf-mpmc", "cpus=2", "ops=2", "bulk=2", "size=2"), []exhaustive.Bounds{{1, 0, 0}, {2, 0, 0}, {3, 0, 0}}},
		{"alf-spsc-misuse", scenarioRun(t, "alf-spsc-misuse", "ops=1", "bulk=2", "debug=off"), []exhaustive.Bounds{{1, 0, 0}, {2, 0, 0}}},
		{"alf-irq", scenarioRun(t, "alf-irq", "ops=2", "bulk=2"), []exhaustive.Bounds{{0, 1, 0}, {1, 2, 0}}},
		{"skb", scenarioRun(t, "skb", "packets=2", "burst=1", "prealloc=1", "fails=1"), []exhaustive.Bounds{{1, 0, 1}}},
	}
	for _, tc := range cases {
		for _, b := range tc.bounds {
			t.Run(fmt.Sprintf("%s/%d-%d-%d", tc.name, b.Preemptions, b.Interrupts, b.Failures), func(t *testing.T) {
				all, full := collect(t, tc.run, b, false)
				red, reduced := collect(t, tc.run, b, true)
				assert.Equal(t, slices.Sorted(maps.Keys(all.failures)), slices.Sorted(maps.Keys(red.failures)), "failures")
				assert.Equal(t, slices.Sorted(maps.Keys(all.states)), slices.Sorted(maps.Keys(red.states)), "end states")
				assert.LessOrEqual(t, reduced.Executions, full.Executions)
				t.Logf("%d executions unreduced, %d reduced (%d pruned); %d end states, %d failures",
					full.Executions, reduced.Executions, reduced.Pruned, len(all.states), len(all.failures))
			})
		}
	}
}
