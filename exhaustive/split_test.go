package exhaustive_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/exhaustive"
	"github.com/kernelsim/lfsim/internal/zoo"
	"github.com/kernelsim/lfsim/sim"
)

// verdict is what a search reports that must not depend on how it was
// split.
type verdict struct {
	Executions, Pruned, Cut, Bound int
	Steps                          int64
	Complete, Unbounded            bool
	Kind, Site                     string
	Decisions                      uint64 // a hash of the failing run's decisions
}

func hashOf(d []sim.Move) uint64 {
	h := fnv.New64a()
	fmt.Fprint(h, d)
	return h.Sum64()
}

func verdictOf(r exhaustive.Result) verdict {
	v := verdict{r.Executions, r.Pruned, r.Cut, r.Bound, r.Steps, r.Complete, r.Unbounded, "", "", 0}
	if r.Failure != nil {
		v.Kind, v.Site, v.Decisions = r.Failure.Kind, r.Failure.Site(), hashOf(r.Run.Decisions)
	}
	return v
}

// runs is n run functions of one workload, each on a host of its own.
func runs(t *testing.T, n int, name string, set ...string) []func(sim.Strategy) sim.Result {
	var rs []func(sim.Strategy) sim.Result
	for range n {
		rs = append(rs, scenarioRun(t, name, set...))
	}
	return rs
}

type workload struct {
	name   string
	set    []string
	bounds exhaustive.Bounds
}

// workloads are the known failures cheap enough for -short, and passing
// searches: one complete and unbounded, one cut by its bound.
func workloads() []workload {
	ws := []workload{
		{"ring2005-locked", []string{"packets=2", "burst=1"}, exhaustive.Bounds{Preemptions: 1, Interrupts: 1}},
		{"alf-mpmc", []string{"ops=2"}, exhaustive.Bounds{Preemptions: 1}},
	}
	for _, z := range zoo.Entries() {
		if z.Short {
			ws = append(ws, workload{z.Scenario, z.Set, exhaustive.Bounds{Preemptions: z.Preemptions, Interrupts: z.Interrupts, Failures: z.Failures}})
		}
	}
	return ws
}

// TestSplitSearchesGiveTheOneSearchsAnswer: a search on 2 or 3
// goroutines, and the merge of 2, 3 or 5 parts (each on 1 or 2
// goroutines, each read back from its JSON), report what one search of
// the whole tree does: the same counts, the same bound, the same
// failure with the same schedule.
func TestSplitSearchesGiveTheOneSearchsAnswer(t *testing.T) {
	split := false
	for _, wl := range workloads() {
		t.Run(wl.name, func(t *testing.T) {
			cfg := exhaustive.Config{Bounds: wl.bounds, MaxExecutions: 200_000}
			one, err := exhaustive.Search(context.Background(), scenarioRun(t, wl.name, wl.set...), cfg)
			require.NoError(t, err)
			require.True(t, one.Complete || one.Failure != nil, "the budget is not the answer")
			want := verdictOf(one)
			goroutines, counts, perPart := []int{2, 3}, []int{2, 3, 5}, []int{1, 2}
			if one.Steps > 100_000 || testing.Short() {
				// A long search is split two ways only: enough to fold
				// units out of order.
				goroutines, counts, perPart = []int{2}, []int{3}, []int{2}
			}
			// Parts do not know that another found a failure, so each
			// searches on to the last bound; the one search stopped at
			// its failure's bound, which with that bound as the last is
			// the same answer at less cost.
			pcfg := cfg
			if one.Failure != nil {
				pcfg.Bounds.Preemptions = one.Bound
			}
			for _, w := range goroutines {
				got, err := exhaustive.SearchOn(context.Background(), runs(t, w, wl.name, wl.set...), cfg)
				require.NoError(t, err)
				assert.Equal(t, want, verdictOf(got), "%d goroutines", w)
			}
			for _, n := range counts {
				for _, w := range perPart {
					var parts []exhaustive.PartResult
					var results []exhaustive.Result
					for i := range n {
						pc := pcfg
						pc.Part = exhaustive.Part{Index: i, Count: n}
						r, err := exhaustive.SearchOn(context.Background(), runs(t, w, wl.name, wl.set...), pc)
						require.NoError(t, err)
						data, err := json.Marshal(exhaustive.PartResult{Part: pc.Part, Levels: r.Levels, Units: r.Units})
						require.NoError(t, err)
						var back exhaustive.PartResult
						require.NoError(t, json.Unmarshal(data, &back))
						parts, results = append(parts, back), append(results, r)
						split = split || r.Probes > 0
					}
					m, err := exhaustive.Merge(parts)
					require.NoError(t, err)
					got := verdict{m.Executions, m.Pruned, m.Cut, m.Bound, m.Steps, m.Complete, m.Unbounded, "", "", 0}
					if m.FailPart >= 0 {
						f := results[m.FailPart]
						require.NotNil(t, f.Failure)
						got.Kind, got.Site, got.Decisions = f.Failure.Kind, f.Failure.Site(), hashOf(f.Run.Decisions)
						assert.Nil(t, m.Missing, "%d parts of %d goroutines: the failure is the first", n, w)
					}
					assert.Equal(t, want, got, "%d parts of %d goroutines", n, w)
				}
			}
		})
	}
	assert.True(t, split, "some part walked past another's units")
}

// A part that did not search its units leaves the merge incomplete, and
// says where.
func TestMergeOfAnIncompletePart(t *testing.T) {
	cfg := exhaustive.Config{Bounds: exhaustive.Bounds{Preemptions: 1, Interrupts: 1}}
	var parts []exhaustive.PartResult
	for i := range 2 {
		pc := cfg
		pc.Part = exhaustive.Part{Index: i, Count: 2}
		r, err := exhaustive.Search(context.Background(), scenarioRun(t, "ring2005-locked", "packets=2", "burst=1"), pc)
		require.NoError(t, err)
		parts = append(parts, exhaustive.PartResult{Part: pc.Part, Levels: r.Levels, Units: r.Units})
	}
	m, err := exhaustive.Merge(parts)
	require.NoError(t, err)
	require.True(t, m.Complete)
	require.NotEmpty(t, parts[1].Units)
	parts[1].Units = parts[1].Units[1:]
	m, err = exhaustive.Merge(parts)
	require.NoError(t, err)
	assert.False(t, m.Complete)
	require.NotNil(t, m.Missing)
	assert.Equal(t, 1, m.Missing.Index%2, "the missing unit is part 1's")

	_, err = exhaustive.Merge(parts[:1])
	assert.ErrorContains(t, err, "part 1/2 is missing")
	_, err = exhaustive.Merge([]exhaustive.PartResult{parts[0], parts[0]})
	assert.ErrorContains(t, err, "given twice")
}

// A budget cuts the search at the same run whatever the goroutines: each
// may spend all of it, and the fold counts runs in the tree's order. The
// cut answer (failure or not, counts, the estimate of what is left) is
// the one goroutine's.
func TestBudgetCutsAtTheSameRunOnAnyGoroutines(t *testing.T) {
	for _, wl := range workloads() {
		run := scenarioRun(t, wl.name, wl.set...)
		full, err := exhaustive.Search(context.Background(), run, exhaustive.Config{Bounds: wl.bounds, MaxExecutions: 200_000})
		require.NoError(t, err)
		for _, budget := range []int{1, full.Executions / 2, full.Executions - 1, full.Executions} {
			if budget < 1 || ((full.Steps > 100_000 || testing.Short()) && budget != full.Executions/2) {
				continue
			}
			cfg := exhaustive.Config{Bounds: wl.bounds, MaxExecutions: budget}
			one, err := exhaustive.Search(context.Background(), run, cfg)
			require.NoError(t, err)
			for _, w := range []int{2, 4} {
				got, err := exhaustive.SearchOn(context.Background(), runs(t, w, wl.name, wl.set...), cfg)
				require.NoError(t, err)
				assert.Equal(t, verdictOf(one), verdictOf(got), "%s, budget %d, %d goroutines", wl.name, budget, w)
				assert.Equal(t, one.Remaining, got.Remaining, "%s, budget %d, %d goroutines", wl.name, budget, w)
			}
		}
	}
}

// A part its budget stopped inside a unit records only the units it
// finished, so the merge misses that unit and proves nothing.
func TestMergeMissesAUnitAPartDidNotFinish(t *testing.T) {
	cfg := exhaustive.Config{Bounds: exhaustive.Bounds{Preemptions: 1, Interrupts: 1}}
	run := func() func(sim.Strategy) sim.Result { return scenarioRun(t, "ring2005-locked", "packets=2", "burst=1") }
	var parts []exhaustive.PartResult
	var last exhaustive.Result
	for i := range 2 {
		pc := cfg
		pc.Part = exhaustive.Part{Index: i, Count: 2}
		r, err := exhaustive.Search(context.Background(), run(), pc)
		require.NoError(t, err)
		parts, last = append(parts, exhaustive.PartResult{Part: pc.Part, Levels: r.Levels, Units: r.Units}), r
	}
	m, err := exhaustive.Merge(parts)
	require.NoError(t, err)
	require.True(t, m.Complete)
	final := last.Units[len(last.Units)-1]
	pc := cfg
	pc.Part = exhaustive.Part{Index: 1, Count: 2}
	pc.MaxExecutions = last.Executions - 1 // stops inside its last unit
	r, err := exhaustive.Search(context.Background(), run(), pc)
	require.NoError(t, err)
	parts[1] = exhaustive.PartResult{Part: pc.Part, Levels: r.Levels, Units: r.Units}
	m, err = exhaustive.Merge(parts)
	require.NoError(t, err)
	assert.False(t, m.Complete)
	require.NotNil(t, m.Missing)
	assert.Equal(t, final.Index, m.Missing.Index)
	assert.Equal(t, final.Bound, m.Missing.Bound)
}
