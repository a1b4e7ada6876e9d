package exhaustive_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/exhaustive"
	"github.com/kernelsim/lfsim/internal/zoo"
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
	res, err := exhaustive.Search(context.Background(), run, exhaustive.Config{
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

// wakeup has CPU0 wake two spinners on CPUs 1 and 2, each of which an
// interrupt can come over while it spins; every context takes a ticket,
// so the end state records the order they ran in. The handler's last
// step leaves its CPU blocked on x without touching x itself: the write
// of x must not be taken to commute with it (a sleep set that did lost
// schedules of no preemption at all).
func wakeup(m *sim.Machine) {
	x := m.NewCell("x", sim.W32, 0)
	ticket := m.NewCell("ticket", sim.W32, 0)
	ready := []*sim.Cell{m.NewCell("ready1", sim.W32, 0), m.NewCell("ready2", sim.W32, 0)}
	m.Go("waker", 0, func(c *sim.Ctx) {
		seen := c.ReadOnce(ready[0])*2 + c.ReadOnce(ready[1])
		c.WriteOnce(m.NewCell("waker.got", sim.W32, 0), c.AtomicAddReturn(ticket, 1)*4+seen)
		c.WriteOnce(x, 1)
	})
	for i, r := range ready {
		got := m.NewCell(fmt.Sprintf("spinner%d.got", i+1), sim.W32, 0)
		m.Go(fmt.Sprintf("spinner%d", i+1), i+1, func(c *sim.Ctx) {
			c.WriteOnce(r, 1)
			for c.ReadOnce(x) == 0 {
				c.CpuRelax()
			}
			c.WriteOnce(got, c.AtomicAddReturn(ticket, 1))
		})
		irqGot := m.NewCell(fmt.Sprintf("irq%d.got", i+1), sim.W32, 0)
		m.RequestIRQ(i+1, "dev", 1, func(c *sim.Ctx) {
			c.WriteOnce(irqGot, c.AtomicAddReturn(ticket, 1))
		})
	}
}

func customRun(build func(*sim.Machine)) func(sim.Strategy) sim.Result {
	return customRunOn(2, build)
}

func customRunOn(cpus int, build func(*sim.Machine)) func(sim.Strategy) sim.Result {
	return func(st sim.Strategy) sim.Result {
		m, err := sim.New(sim.Config{CPUs: cpus, Positions: true})
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
		bounds []exhaustive.Bounds // the last is left out under -short when there are several
	}{
		{"counters", customRun(counters), []exhaustive.Bounds{{0, 0, 0}, {1, 1, 0}, {2, 1, 0}}},
		{"wakeup", customRunOn(3, wakeup), []exhaustive.Bounds{{0, 2, 0}}},
		{"ring2005", scenarioRun(t, "ring2005", "packets=2", "burst=2", "ring=2"), []exhaustive.Bounds{{0, 0, 0}, {1, 1, 0}, {2, 1, 0}}},
		{"ring2005-locked", scenarioRun(t, "ring2005-locked", "packets=2", "burst=1"), []exhaustive.Bounds{{1, 1, 0}, {2, 1, 0}}},
		{"alf-mpmc", scenarioRun(t, "alf-mpmc", "cpus=2", "ops=2", "bulk=2", "size=2"), []exhaustive.Bounds{{1, 0, 0}, {2, 0, 0}, {3, 0, 0}}},
		{"alf-spsc-misuse", scenarioRun(t, "alf-spsc-misuse", "ops=1", "bulk=2", "debug=off"), []exhaustive.Bounds{{1, 0, 0}, {2, 0, 0}}},
		{"alf-irq", scenarioRun(t, "alf-irq", "ops=2", "bulk=2"), []exhaustive.Bounds{{0, 1, 0}, {1, 2, 0}}},
		{"skb", scenarioRun(t, "skb", "packets=2", "burst=1", "prealloc=1", "fails=1"), []exhaustive.Bounds{{1, 0, 1}}},
	}
	for _, tc := range cases {
		if testing.Short() && len(tc.bounds) > 2 {
			tc.bounds = tc.bounds[:len(tc.bounds)-1]
		}
		if testing.Short() && tc.name == "ring2005-locked" {
			tc.bounds = tc.bounds[:1]
		}
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

// TestZooFailsWithinTwoPreemptions finds every known failure by
// exhaustive search, with a schedule that spends exactly the bound at
// which it was found: the search one preemption lower is complete and
// finds nothing.
func TestZooFailsWithinTwoPreemptions(t *testing.T) {
	for _, z := range zoo.Entries() {
		bounds := exhaustive.Bounds{Preemptions: z.Preemptions, Interrupts: z.Interrupts, Failures: z.Failures}
		t.Run(z.Scenario+"/"+z.Kind, func(t *testing.T) {
			if testing.Short() && !z.Short {
				t.Skip("long: runs without -short")
			}
			run := scenarioRun(t, z.Scenario, z.Set...)
			res, err := exhaustive.Search(context.Background(), run, exhaustive.Config{Bounds: bounds, MaxExecutions: 100_000})
			require.NoError(t, err)
			require.NotNil(t, res.Failure, "not found in %d executions", res.Executions)
			assert.Equal(t, z.Kind, res.Failure.Kind, res.Failure.Message)
			assert.True(t, strings.HasPrefix(res.Failure.Site(), z.Site), "site %s", res.Failure.Site())
			assert.Equal(t, res.Bound, res.Spent.Preemptions, "the failing schedule spends the bound it was found at")
			assert.LessOrEqual(t, res.Spent.Preemptions, 2)
			if res.Bound > 0 {
				lower := bounds
				lower.Preemptions = res.Bound - 1
				below, err := exhaustive.Search(context.Background(), run, exhaustive.Config{Bounds: lower})
				require.NoError(t, err)
				assert.Nil(t, below.Failure)
				assert.True(t, below.Complete)
			}
			// The failing run replays from its decisions alone.
			again := run(sim.NewReplay(res.Run.Decisions))
			require.NotNil(t, again.Failure)
			assert.Equal(t, res.Failure.Site(), again.Failure.Site())
		})
	}
}

// TestSameBoundSameCount: the search decides nothing by time or chance.
func TestSameBoundSameCount(t *testing.T) {
	run := scenarioRun(t, "ring2005-locked", "packets=2", "burst=1")
	cfg := exhaustive.Config{Bounds: exhaustive.Bounds{Preemptions: 1, Interrupts: 1}}
	a, err := exhaustive.Search(context.Background(), run, cfg)
	require.NoError(t, err)
	b, err := exhaustive.Search(context.Background(), run, cfg)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.True(t, a.Complete)
	assert.Nil(t, a.Failure)
}

// TestBudgetSaysIncomplete: a search stopped by its budget does not
// claim a pass, and says how much is left.
func TestBudgetSaysIncomplete(t *testing.T) {
	run := scenarioRun(t, "ring2005-locked", "packets=2", "burst=1")
	full, err := exhaustive.Search(context.Background(), run, exhaustive.Config{Bounds: exhaustive.Bounds{Preemptions: 1, Interrupts: 1}})
	require.NoError(t, err)
	part, err := exhaustive.Search(context.Background(), run, exhaustive.Config{Bounds: exhaustive.Bounds{Preemptions: 1, Interrupts: 1}, MaxExecutions: full.Executions / 2})
	require.NoError(t, err)
	assert.False(t, part.Complete)
	assert.Nil(t, part.Failure)
	assert.Equal(t, full.Executions/2, part.Executions)
	assert.Greater(t, part.Remaining, 0.0)
}

// TestUnboundedWhenNothingIsCut: a workload with no choice left out by
// the preemption bound is complete for every bound, and says so.
func TestUnboundedWhenNothingIsCut(t *testing.T) {
	run := customRun(func(m *sim.Machine) {
		x := m.NewCell("x", sim.W32, 0)
		m.Go("only", 0, func(c *sim.Ctx) { c.WriteOnce(x, c.ReadOnce(x)+1) })
	})
	res, err := exhaustive.Search(context.Background(), run, exhaustive.Config{Bounds: exhaustive.Bounds{Preemptions: 5}})
	require.NoError(t, err)
	assert.True(t, res.Complete)
	assert.True(t, res.Unbounded)
	assert.Equal(t, 1, res.Executions)
	assert.Equal(t, 0, res.Bound)
}

// TestNondeterministicWorkloadIsAnError: a workload whose runs differ
// for the same decisions cannot be searched, and the search says so
// rather than passing.
func TestNondeterministicWorkloadIsAnError(t *testing.T) {
	calls := 0
	run := customRun(func(m *sim.Machine) {
		calls++
		x := m.NewCell("x", sim.W32, 0)
		m.Go("a", 0, func(c *sim.Ctx) { c.WriteOnce(x, 1) })
		if calls > 1 {
			m.Go("b", 1, func(c *sim.Ctx) { c.WriteOnce(x, 2) })
		}
		m.Go("c", 1, func(c *sim.Ctx) { c.WriteOnce(x, 3) })
	})
	_, err := exhaustive.Search(context.Background(), run, exhaustive.Config{Bounds: exhaustive.Bounds{Preemptions: 1}})
	require.ErrorContains(t, err, "not deterministic")
}

// ordering has two CPUs append to a Go slice shared between them, and
// store where each landed: state the machine cannot see unless the code
// declares it with Ghost.
func ordering() func(*sim.Machine) {
	return func(m *sim.Machine) {
		var order []int
		for i := range 2 {
			own := m.NewCell(fmt.Sprintf("own%d", i), sim.W32, 0)
			slot := m.NewCell(fmt.Sprintf("slot%d", i), sim.W32, 0)
			m.Go(fmt.Sprintf("t%d", i), i, func(c *sim.Ctx) {
				c.WriteOnce(own, 1)
				c.Ghost()
				pos := len(order)
				order = append(order, i)
				c.WriteOnce(slot, uint64(pos))
			})
		}
	}
}

// TestGhostOrdersSharedGoState: with Ghost the reduced search reaches
// both orders of the appends, as the unreduced one does.
func TestGhostOrdersSharedGoState(t *testing.T) {
	b := exhaustive.Bounds{Preemptions: 2}
	all, _ := collect(t, customRun(ordering()), b, false)
	red, _ := collect(t, customRun(ordering()), b, true)
	assert.Len(t, all.states, 2)
	assert.Equal(t, all.states, red.states)
}

// TestCancelledIsIncomplete: a search stopped from outside claims nothing.
func TestCancelledIsIncomplete(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := exhaustive.Search(ctx, customRun(counters), exhaustive.Config{Bounds: exhaustive.Bounds{Preemptions: 2}})
	require.NoError(t, err)
	assert.True(t, res.Interrupted)
	assert.False(t, res.Complete)
	assert.Zero(t, res.Executions)
}
