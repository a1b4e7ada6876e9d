package explore

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/linearizability"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/sim"
	"github.com/kernelsim/lfsim/trace"
)

// The queue used as the original requires passes the default
// exploration (random, POS and PCT in turn), with conservation and
// linearizability checked on every run.
func TestAlfCorrectUsePasses(t *testing.T) {
	runs := 20_000
	if testing.Short() {
		runs = 1000
	}
	for _, name := range []string{"alf-mpmc", "alf-spsc"} {
		c := config(t, name)
		c.Strategy, c.Runs = Mix, runs
		out, err := Explore(context.Background(), c)
		require.NoError(t, err)
		assert.Nil(t, out.Failure, "%s: %v", name, out.Failure)
		assert.Equal(t, runs, out.Runs)
	}
}

// Each misuse of the queue is found by explore with default settings,
// named, and replays to the same failure with a trace that shows the
// cause. The budget is a number of runs, not a time, so that the test does
// not depend on the machine (or on -race): seed 1 finds alf-aba in run
// 2966, about a second without the race detector.
func TestAlfMisusesAreFound(t *testing.T) {
	for _, tc := range []struct {
		name, kind string
		set        []string
		site       string // the failure's site, a pattern
		msg        string // in the failure message
		trace      string // in the replayed trace
	}{
		{"alf-spsc-misuse", sim.KindBug, nil, `^alf/alf\.go:\d+$`, "alf_sp_enqueue: producer.head moved", "producer/1"},
		{"alf-spsc-misuse", linearizability.LostValue, []string{"debug=off"}, `^scenario/alf\.go:\d+$`, "was lost", "producer/1"},
		{"alf-preempt", sim.KindSoftLockup, nil, `^alf/alf\.go:\d+$`, "task worker is ready and waits for CPU0, which runs higher-priority task rt-worker", "preempt worker, switch to rt-worker"},
		{"alf-irq", sim.KindSoftLockup, nil, `^alf/alf\.go:\d+$`, "hardirq dev over worker spins in cpu_relax waiting for q.producer.tail", "hardirq dev fires"},
		{"alf-aba", linearizability.LostValue, nil, `^scenario/alf\.go:\d+$`, "was lost", "ABA: q.producer.head changed"},
	} {
		t.Run(strings.Join(append([]string{tc.name}, tc.set...), " "), func(t *testing.T) {
			c := config(t, tc.name, tc.set...)
			c.Runs = 5000
			out, err := Explore(context.Background(), c)
			require.NoError(t, err)
			require.NotNil(t, out.Failure, "nothing found in %d runs", out.Runs)
			assert.Equal(t, tc.kind, out.Failure.Kind)
			assert.Regexp(t, tc.site, out.Failure.Site())
			assert.Contains(t, out.Failure.Message, tc.msg)
			t.Logf("%s found in run %d after %v", tc.kind, out.FailRun, out.Elapsed)

			rep, err := replayFile(out.Schedule, true)
			require.NoError(t, err)
			assert.True(t, rep.Reproduced)
			var b strings.Builder
			require.NoError(t, trace.Lines(&b, rep.Trace, trace.Options{}))
			assert.Contains(t, b.String(), tc.trace)
		})
	}
}

// The workload that laps 3-bit counters passes with the original's 32.
func TestAlfABAWorkloadPassesWithWideCounters(t *testing.T) {
	c := config(t, "alf-aba", "width=32")
	c.Runs = 3000
	if testing.Short() {
		c.Runs = 300
	}
	out, err := Explore(context.Background(), c)
	require.NoError(t, err)
	assert.Nil(t, out.Failure)
}

// Under the strict specification the correct queue fails: its histories
// are linearizable only under the ALF specification (see package model).
func TestAlfMPMCIsNotStrictlyLinearizable(t *testing.T) {
	c := config(t, "alf-mpmc", "spec=strict")
	c.Runs = 5000
	out, err := Explore(context.Background(), c)
	require.NoError(t, err)
	require.NotNil(t, out.Failure)
	assert.Equal(t, scenario.KindNotLinearizable, out.Failure.Kind)
	assert.Regexp(t, `^scenario/alf\.go:\d+$`, out.Failure.Site(), "found by the scenario's history check")
	rep, err := replayFile(out.Schedule, false)
	require.NoError(t, err)
	require.True(t, rep.Reproduced)
	require.NotNil(t, rep.Failure.Attach, "the failure carries its visualisation")
}
