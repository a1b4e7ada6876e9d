package explore

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/sim"
)

// shards explores c as n shards and returns their results, each through
// its file's JSON.
func shards(t *testing.T, c Config, n int) []ShardResult {
	t.Helper()
	var rs []ShardResult
	for i := range n {
		sc := c
		sc.Shard, sc.Log = Shard{i, n}, true
		if c.Options.Cover != nil {
			sc.Options.Cover = sim.NewCoverage()
		}
		out, err := Explore(context.Background(), sc)
		require.NoError(t, err)
		r, err := NewShardResult(sc, out)
		require.NoError(t, err)
		data, err := json.Marshal(r)
		require.NoError(t, err)
		var back ShardResult
		require.NoError(t, json.Unmarshal(data, &back))
		rs = append(rs, back)
	}
	return rs
}

// TestShardsAddUpToTheUnshardedExploration: n shards of a run budget run,
// between them, exactly the unsharded exploration's run numbers, each
// once, and their merged result is the unsharded outcome: the failing
// run, its schedule byte for byte, and the counts.
func TestShardsAddUpToTheUnshardedExploration(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		set      []string
		strategy string
		runs     int
	}{
		{"ring2005-locked", []string{"packets=4"}, Mix, 300},                           // passes: the whole budget
		{"ring2005-locked", []string{"packets=4"}, PCT, 77},                            // a budget inside the measuring runs
		{"qmempool-hardirq", []string{"ops=2", "fires=1", "prealloc=1"}, Random, 3000}, // fails late
		{"alf-preempt", []string{"ops=2"}, Mix, 3000},                                  // fails early
	} {
		c := config(t, tc.scenario, tc.set...)
		c.Strategy, c.Runs, c.Log, c.Workers = tc.strategy, tc.runs, true, 2
		whole, err := Explore(context.Background(), c)
		require.NoError(t, err)
		t.Logf("%s %s: %d runs, failure %v in run %d", tc.scenario, tc.strategy, whole.Runs, whole.Failure != nil, whole.FailRun)
		for _, n := range []int{1, 2, 3, 7} {
			rs := shards(t, c, n)
			// Disjoint, and together the unsharded runs.
			var got []int
			for _, r := range rs {
				l, err := DecodeLog(r.Log)
				require.NoError(t, err)
				for _, s := range l {
					if whole.Failure == nil || s.Run <= whole.FailRun {
						got = append(got, s.Run)
					}
				}
			}
			var want []int
			for _, s := range whole.Log {
				want = append(want, s.Run)
			}
			assert.ElementsMatch(t, want, got, "%s %s, %d shards", tc.scenario, tc.strategy, n)

			m, err := Merge(rs)
			require.NoError(t, err)
			assert.True(t, m.Complete, "%d shards", n)
			assert.Equal(t, whole.Runs, m.Runs, "%d shards", n)
			assert.Equal(t, whole.Steps, m.Steps, "%d shards", n)
			assert.Equal(t, whole.Costs, m.Costs, "%d shards", n)
			if whole.Failure == nil {
				assert.Nil(t, m.Schedule)
				assert.Equal(t, tc.runs, m.Explored)
				continue
			}
			require.NotNil(t, m.Schedule, "%d shards", n)
			assert.True(t, m.FirstFailure)
			assert.Equal(t, whole.FailRun, m.FailRun, "%d shards", n)
			assert.Equal(t, string(whole.Schedule.Encode()), string(m.Schedule.Encode()), "%d shards", n)
		}
	}
}

// A failure in a later run of one shard is not the first while another
// shard has not run the runs below it.
func TestMergeSaysWhatIsMissing(t *testing.T) {
	c := config(t, "qmempool-hardirq", "ops=2", "fires=1", "prealloc=1")
	c.Strategy, c.Runs = Random, 3000
	rs := shards(t, c, 3)
	m, err := Merge(rs)
	require.NoError(t, err)
	require.NotNil(t, m.Schedule)
	owner := m.FailRun % 3
	other := (owner + 1) % 3
	l, err := DecodeLog(rs[other].Log)
	require.NoError(t, err)
	require.NotEmpty(t, l)
	cut := l[:slices.IndexFunc(l, func(s RunStat) bool { return s.Run > m.FailRun/2 })]
	rs[other].Log, rs[other].FailRun = EncodeLog(cut), nil
	m2, err := Merge(rs)
	require.NoError(t, err)
	require.Less(t, cut[len(cut)-1].Run+3, m.FailRun)
	assert.False(t, m2.Complete)
	assert.False(t, m2.FirstFailure)
	assert.Equal(t, m.FailRun, m2.FailRun, "the failure found is still reported")
	require.NotNil(t, m2.Missing)
	assert.Equal(t, Shard{other, 3}, m2.Missing.Shard)
	assert.Equal(t, cut[len(cut)-1].Run+3, m2.Missing.Run)
	assert.Equal(t, m2.Missing.Run, m2.Explored)
}

func TestMergeRefusesMismatchedShards(t *testing.T) {
	c := config(t, "ring2005-locked", "packets=2")
	c.Strategy, c.Runs = Random, 20
	rs := shards(t, c, 2)
	for name, mutate := range map[string]func([]ShardResult) []ShardResult{
		"missing": func(r []ShardResult) []ShardResult { return r[:1] },
		"twice":   func(r []ShardResult) []ShardResult { return []ShardResult{r[0], r[0]} },
		"seed":    func(r []ShardResult) []ShardResult { r[1].Seed++; return r },
		"params":  func(r []ShardResult) []ShardResult { r[1].Params = []string{"cpus=3"}; return r },
		"budget":  func(r []ShardResult) []ShardResult { r[1].Runs++; return r },
		"count":   func(r []ShardResult) []ShardResult { r[1].Shard.Count = 3; return r },
		"format":  func(r []ShardResult) []ShardResult { r[0].Format = "x"; return r },
		"foreign": func(r []ShardResult) []ShardResult { r[0].Log = r[1].Log; return r },
		"bad log": func(r []ShardResult) []ShardResult { r[0].Log = "!!"; return r },
		"cut log": func(r []ShardResult) []ShardResult {
			r[0].Log = EncodeLog([]RunStat{{Run: 0, Steps: 1 << 20}})[:3]
			return r
		},
		"fail last": func(r []ShardResult) []ShardResult { f := 0; r[1].FailRun = &f; return r },
	} {
		_, err := Merge(mutate(append([]ShardResult(nil), rs...)))
		assert.Error(t, err, name)
	}
	_, err := Merge(rs)
	assert.NoError(t, err)
}

func TestLogRoundTrip(t *testing.T) {
	runs := []RunStat{{Run: 0, Steps: 1}, {Run: 3, Steps: 1 << 30, Costs: sim.Costs{Atomics: 5, Barriers: 6, Slab: 7, Toggles: 1 << 40}}, {Run: 1 << 30, Steps: 0}}
	back, err := DecodeLog(EncodeLog(runs))
	require.NoError(t, err)
	assert.Equal(t, runs, back)
	_, err = DecodeLog(EncodeLog([]RunStat{{Run: 2}, {Run: 2}}))
	assert.Error(t, err, "run numbers must ascend")
}

// Coverage reads back as it was written, and merging adds.
func TestCoverageJSONRoundTrip(t *testing.T) {
	c := config(t, "ring2005", "packets=4")
	cv := sim.NewCoverage()
	c.Strategy, c.Runs, c.Options.Cover = Random, 5, cv
	_, err := Explore(context.Background(), c)
	require.NoError(t, err)
	data, err := json.Marshal(cv)
	require.NoError(t, err)
	var back sim.Coverage
	require.NoError(t, json.Unmarshal(data, &back))
	again, err := json.Marshal(&back)
	require.NoError(t, err)
	assert.Equal(t, string(data), string(again))
	assert.Equal(t, cv.Points, back.Points)
	assert.Equal(t, cv.Orders, back.Orders)
	assert.Equal(t, cv.Runs(), back.Runs())
	back.Merge(cv)
	assert.Equal(t, 2*cv.Runs(), back.Runs())
}
