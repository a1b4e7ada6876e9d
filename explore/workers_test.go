package explore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/internal/zoo"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
)

// answer is everything an exploration with a run budget reports that
// must not depend on its workers.
type answer struct {
	FailRun      int
	Schedule     string
	Runs         int
	Steps        int64
	Costs        string
	Log          []RunStat
	Kind, Source string
}

func answerOf(t *testing.T, c Config) answer {
	t.Helper()
	out, err := Explore(context.Background(), c)
	require.NoError(t, err)
	require.False(t, out.Interrupted)
	a := answer{FailRun: -1, Runs: out.Runs, Steps: out.Steps, Costs: fmt.Sprint(out.Costs), Log: out.Log}
	if out.Failure != nil {
		a.FailRun, a.Schedule = out.FailRun, string(out.Schedule.Encode())
		a.Kind, a.Source = out.Failure.Kind, out.Failure.Source
	}
	return a
}

// TestWorkersDoNotChangeTheAnswer explores every known failure over seeds
// 1..20 with 1, 2 and 8 workers, under the default strategy and under
// random walks (which fail later, past the runs that measure PCT's
// guess): the same failing run, the same schedule file byte for byte,
// and the same counts, run by run.
func TestWorkersDoNotChangeTheAnswer(t *testing.T) {
	seeds, runs := 20, 1500
	if testing.Short() {
		seeds, runs = 3, 1000
	}
	for _, z := range zoo.Entries() {
		t.Run(z.Scenario+"/"+z.Kind, func(t *testing.T) {
			if testing.Short() && !z.Short {
				t.Skip("long: runs without -short")
			}
			for _, strategy := range []string{Mix, Random} {
				found := 0
				for seed := 1; seed <= seeds; seed++ {
					c := config(t, z.Scenario, z.Set...)
					c.Strategy, c.Seed, c.Runs, c.Log = strategy, uint64(seed), runs, true
					c.Workers = 1
					one := answerOf(t, c)
					for _, w := range []int{2, 8} {
						c.Workers = w
						require.Equal(t, one, answerOf(t, c), "%s seed %d, %d workers", strategy, seed, w)
					}
					if one.FailRun >= 0 {
						found++
					}
				}
				// The comparison says something only where failures were found.
				if strategy == Mix {
					assert.Greater(t, found, seeds/2, "found in %d of %d seeds", found, seeds)
				}
			}
		})
	}
}

// TestRunDoesNotDependOnItsHostsHistory: a run on a host that has carried
// other runs (of other scenarios, failing or not, in any order) is the run
// on a fresh host: the same decisions, steps, costs and failure. Workers
// reuse their host's goroutines, so this is what makes run i the same
// schedule whatever ran on its worker before it.
func TestRunDoesNotDependOnItsHostsHistory(t *testing.T) {
	type run struct {
		c   Config
		run int
	}
	var runs []run
	for _, z := range zoo.Entries() {
		if !z.Short {
			continue
		}
		c := config(t, z.Scenario, z.Set...)
		c.Strategy = Mix
		for i := range 6 {
			runs = append(runs, run{c, i * 7})
		}
	}
	result := func(r run, host *sim.Host) string {
		opt := r.c.Options
		opt.Host = host
		res := r.c.Scenario.Run(r.c.Values, opt, r.c.strategy(r.run, 40))
		return fmt.Sprint(res.Steps, res.Decisions, res.Costs, failureText(res.Failure))
	}
	fresh := make([]string, len(runs))
	for i, r := range runs {
		h := sim.NewHost()
		fresh[i] = result(r, h)
		h.Close()
	}
	shared := sim.NewHost()
	defer shared.Close()
	// Forwards, backwards, and interleaved: each run after a different history.
	for _, order := range [][]int{seq(len(runs), false), seq(len(runs), true), interleave(len(runs))} {
		for _, i := range order {
			require.Equal(t, fresh[i], result(runs[i], shared), "run %d of %s after other runs on its host", runs[i].run, runs[i].c.Scenario.Name)
		}
	}
}

func failureText(f *sim.Failure) string {
	if f == nil {
		return ""
	}
	return Describe(f)
}

func seq(n int, backwards bool) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
		if backwards {
			s[i] = n - 1 - i
		}
	}
	return s
}

func interleave(n int) []int {
	var s []int
	for i := 0; i < n; i += 2 {
		s = append(s, i)
	}
	for i := 1; i < n; i += 2 {
		s = append(s, i)
	}
	return s
}

// A time budget stops the runs wherever the workers are, but what it
// counts is a prefix of the run numbers: no run after one that did not
// run is counted (or could report a failure as the first).
func TestTimeBudgetCountsAPrefix(t *testing.T) {
	c := config(t, "ring2005-locked")
	c.Runs, c.Time, c.Workers, c.Log, c.Strategy = 0, 200*time.Millisecond, 8, true, Random
	out, err := Explore(context.Background(), c)
	require.NoError(t, err)
	require.NotEmpty(t, out.Log)
	for i, r := range out.Log {
		require.Equal(t, i, r.Run, "run %d of the log", i)
	}
	assert.Equal(t, len(out.Log), out.Runs)
}

// raceOrSpin fails at once when CPU1 reads x before CPU0 writes it, and
// otherwise runs until its step budget: some runs are long, some fail
// in a few steps.
var raceOrSpin = &scenario.Scenario{
	Name: "race-or-spin",
	CPUs: func(scenario.Values) int { return 2 },
	Build: func(m *sim.Machine, _ scenario.Values) scenario.Check {
		x, y := m.NewCell("x", sim.W32, 0), m.NewCell("y", sim.W32, 0)
		m.Go("writer", 0, func(c *sim.Ctx) {
			c.WriteOnce(x, 1)
			for {
				c.WriteOnce(y, c.ReadOnce(y)+1)
			}
		})
		m.Go("reader", 1, func(c *sim.Ctx) { c.BugOn(c.ReadOnce(x) == 0, "read x before it was written") })
		return nil
	},
}

// TestAnInterruptKeepsAFailureFoundPastRunsGoingOn: when an interrupt
// stops run 0 part-way while another worker has found run 1 failing, the
// exploration reports run 1's failure, marked interrupted (a lower run
// may fail too), rather than lose it.
func TestAnInterruptKeepsAFailureFoundPastRunsGoingOn(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a long run to be interrupted")
	}
	// A seed whose run 0 is long and run 1 fails at once (exploration's run
	// i is the random walk seeded with sim.RunSeed(seed, i)).
	v, err := raceOrSpin.Values(nil)
	require.NoError(t, err)
	kind := func(seed uint64, run int) string {
		r := raceOrSpin.Run(v, scenario.Options{MaxSteps: 100}, sim.NewRandom(sim.RunSeed(seed, run)))
		require.NotNil(t, r.Failure)
		return r.Failure.Kind
	}
	seed := uint64(0)
	for s := uint64(1); s < 100 && seed == 0; s++ {
		if kind(s, 0) == sim.KindStepBudget && kind(s, 1) == sim.KindBug {
			seed = s
		}
	}
	require.NotZero(t, seed, "no seed with a long run 0")

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	out, err := Explore(ctx, Config{Scenario: raceOrSpin, Strategy: Random, Seed: seed, Runs: 2, Workers: 2, Options: scenario.Options{MaxSteps: schedule.MaxDecisions}})
	require.NoError(t, err)
	require.NotNil(t, out.Failure)
	assert.Equal(t, sim.KindBug, out.Failure.Kind)
	assert.Equal(t, 1, out.FailRun)
	assert.True(t, out.Interrupted, "run 0 did not end")
	assert.Zero(t, out.Runs, "only the runs that ended in order are counted")
	require.NotNil(t, out.Schedule)
	rep, err := Replay(raceOrSpin, out.Schedule, false)
	require.NoError(t, err)
	assert.True(t, rep.Reproduced)
}
