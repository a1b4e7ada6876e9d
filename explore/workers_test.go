package explore

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/internal/zoo"
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
	seeds := 20
	if testing.Short() {
		seeds = 3
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
					c.Strategy, c.Seed, c.Runs, c.Log = strategy, uint64(seed), 1500, true
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
