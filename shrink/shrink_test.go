package shrink

import (
	"context"
	"fmt"
	"runtime/metrics"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func failing(t *testing.T, name string, seed uint64, set ...string) *schedule.File {
	t.Helper()
	s, err := scenario.Lookup(name)
	require.NoError(t, err)
	v, err := s.Values(set)
	require.NoError(t, err)
	out, err := explore.Explore(context.Background(), explore.Config{Scenario: s, Values: v, Strategy: explore.Random, Seed: seed, Runs: 20_000})
	require.NoError(t, err)
	require.NotNil(t, out.Failure, "%s %v: nothing to shrink", name, set)
	return out.Schedule
}

// On every scenario that can fail, the shrunk schedule replays strictly
// to the same failure (kind and site), and is no larger.
func TestShrunkSchedulesFailTheSameWay(t *testing.T) {
	cases := [][]string{{"alf-mpmc", "spec=strict"}, {"alf-spsc-misuse", "debug=off"}, {"skb", "pool=ring2005"}, {"skb", "fails=3"}, {"qmempool-hardirq", "variant=checked"}}
	for _, s := range scenario.All() {
		if s.Fails {
			cases = append(cases, []string{s.Name})
		}
	}
	for _, c := range cases {
		t.Run(strings.Join(c, " "), func(t *testing.T) {
			f := failing(t, c[0], 1, c[1:]...)
			attempts := 3000
			if testing.Short() {
				attempts = 800
			}
			res, err := shrinkFile(f, Budget{Attempts: attempts})
			require.NoError(t, err)
			again, err := schedule.Decode(res.File.Encode())
			require.NoError(t, err)
			rep, err := replayFile(again, false)
			require.NoError(t, err, "the shrunk schedule replays strictly")
			require.True(t, rep.Reproduced, "shrunk to %v, want %s at %s", rep.Failure, f.Failure.Kind, f.Failure.Site)
			assert.Equal(t, f.Failure.Kind, rep.Failure.Kind)
			assert.Equal(t, f.Failure.Site, rep.Failure.Site())
			assert.LessOrEqual(t, res.After.Preemptions+res.After.Interrupts, res.Before.Preemptions+res.Before.Interrupts)
			assert.LessOrEqual(t, res.After.Steps, res.Before.Steps)
			t.Logf("%v -> %v", res.Before, res.After)
		})
	}
}

// The same file and budget give the same shrunk schedule.
func TestShrinkingIsDeterministic(t *testing.T) {
	f := failing(t, "ring2005", 2)
	a, err := shrinkFile(f, Budget{Attempts: 500})
	require.NoError(t, err)
	b, err := shrinkFile(f, Budget{Attempts: 500})
	require.NoError(t, err)
	assert.Equal(t, a.File.Encode(), b.File.Encode())
	assert.Equal(t, 500, a.Attempts, "the budget bounds the work")
	assert.False(t, a.Complete)
}

// Re-searches on more workers shrink to the same schedule with the same
// number of attempts.
func TestWorkersDoNotChangeTheShrink(t *testing.T) {
	cases, attempts := [][]string{{"ring2005"}, {"skb", "fails=3"}, {"qmempool-hardirq"}}, 3000
	if testing.Short() {
		cases, attempts = cases[:1], 600
	}
	for _, c := range cases {
		f := failing(t, c[0], 2, c[1:]...)
		one, err := shrinkFile(f, Budget{Attempts: attempts})
		require.NoError(t, err)
		three, err := shrinkFile(f, Budget{Attempts: attempts, Workers: 3})
		require.NoError(t, err)
		assert.Equal(t, string(one.File.Encode()), string(three.File.Encode()), "%v", c)
		assert.Equal(t, one.Attempts, three.Attempts, "%v", c)
		assert.Equal(t, one.Complete, three.Complete, "%v", c)
		t.Logf("%v: %v -> %v in %d attempts", c, one.Before, one.After, one.Attempts)
	}
}

// The 2005 ring's crashes found by explore for seeds 1..10 (1..4 under
// -short) shrink to at
// most two interrupts and, for the panic, a tenth of their steps; the
// out-of-bounds index needs a counter to reach the size of the ring, that
// is nine packets on eight slots, and keeps about a third.
func TestRing2005ShrinksToItsEssence(t *testing.T) {
	var table []string
	seeds := uint64(10)
	if testing.Short() {
		seeds = 4
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		f := failing(t, "ring2005", seed)
		res, err := shrinkFile(f, Budget{})
		require.NoError(t, err)
		assert.LessOrEqual(t, res.After.Preemptions+res.After.Interrupts, 2, "seed %d", seed)
		limit := res.Before.Steps / 4
		if f.Failure.Kind == "out-of-bounds" {
			limit = res.Before.Steps * 35 / 100
		}
		assert.LessOrEqual(t, res.After.Steps, limit, "seed %d: %v", seed, res.After)
		table = append(table, fmt.Sprintf("seed %2d %-14s %v  ->  %v", seed, f.Failure.Kind, res.Before, res.After))
	}
	t.Log("\n" + strings.Join(table, "\n"))
}

// The failures whose setup dominated their runs shrink to at most a third
// of the steps they kept when the workload's setup (pre-fill, stall,
// prealloc, bulk, CPUs) was not shrinkable and a failure was its message:
// 1,024, 257, 498 and 116 steps then.
func TestSetupShrinksAway(t *testing.T) {
	if testing.Short() {
		t.Skip("shrinks four failures to the end")
	}
	for _, tc := range []struct {
		set   []string
		limit int
	}{
		{[]string{"alf-aba"}, 1024 / 3},
		{[]string{"qmempool-hardirq"}, 257 / 3},
		{[]string{"skb", "fails=3"}, 498 / 3},
		{[]string{"alf-mpmc", "spec=strict"}, 116 / 3},
	} {
		t.Run(strings.Join(tc.set, " "), func(t *testing.T) {
			f := failing(t, tc.set[0], 1, tc.set[1:]...)
			res, err := shrinkFile(f, Budget{})
			require.NoError(t, err)
			assert.LessOrEqual(t, res.After.Steps, tc.limit, "%v -> %v", res.Before, res.After)
			assert.Equal(t, f.Failure.Site, res.File.Failure.Site)
			t.Logf("%v -> %v in %d replays", res.Before, res.After, res.Attempts)
		})
	}
}

func TestShrinkRefusesWhatItCannotKeep(t *testing.T) {
	f := failing(t, "ring2005", 1)
	f.Failure.Site = "ring2005/ring.go:1"
	_, err := shrinkFile(f, Budget{Attempts: 10})
	assert.ErrorIs(t, err, ErrNotFailing)
	f.Failure.Kind = "watchdog"
	_, err = shrinkFile(f, Budget{Attempts: 10})
	assert.ErrorIs(t, err, ErrHangs)
}

// A shrink starts its goroutines once, not once per candidate it replays:
// under the race detector every goroutine ever started costs memory for
// good.
func TestShrinkStartsItsGoroutinesOnce(t *testing.T) {
	created := func() uint64 {
		s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	f := failing(t, "ring2005", 2)
	started := func(attempts int) uint64 {
		before := created()
		res, err := shrinkFile(f, Budget{Attempts: attempts})
		require.NoError(t, err)
		require.Equal(t, attempts, res.Attempts)
		return created() - before
	}
	few, many := started(20), started(500)
	assert.Less(t, many, few+5, "20 candidates started %d goroutines, 500 candidates %d", few, many)
}

// replayFile replays a schedule of one of the project's own scenarios.
func replayFile(f *schedule.File, trace bool) (explore.Replayed, error) {
	s, err := scenario.Lookup(f.Scenario)
	if err != nil {
		return explore.Replayed{}, err
	}
	return explore.Replay(s, f, trace)
}

// shrinkFile shrinks a schedule of one of the project's own scenarios.
func shrinkFile(f *schedule.File, b Budget) (Outcome, error) {
	s, err := scenario.Lookup(f.Scenario)
	if err != nil {
		return Outcome{}, err
	}
	return Shrink(s, f, b)
}
