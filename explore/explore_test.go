package explore

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
	"github.com/kernelsim/lfsim/trace"
)

var update = flag.Bool("update", false, "rewrite the golden traces in testdata")

// Every run of every test here must leave no goroutine behind, whether it
// ended cleanly, by failure, or by a step budget.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func config(t *testing.T, name string, set ...string) Config {
	t.Helper()
	s, err := scenario.Lookup(name)
	require.NoError(t, err)
	v, err := s.Values(set)
	require.NoError(t, err)
	return Config{Scenario: s, Values: v, Strategy: Random, Seed: 1, Depth: 3, Runs: 100_000}
}

// public is what a failure says to people.
func public(f *sim.Failure) [6]string {
	return [6]string{f.Kind, f.Message, fmt.Sprint(f.Step), fmt.Sprint(f.CPU), f.Context, f.Source}
}

func render(t *testing.T, r sim.Result) []byte {
	var b bytes.Buffer
	require.NoError(t, trace.Lines(&b, r.Trace, trace.Options{}))
	require.NoError(t, trace.Columns(&b, r.Trace, trace.Options{CPUs: r.CPUs}))
	return b.Bytes()
}

// With default settings every seed from 1 to 20 finds a crash of the 2005
// ring, and its schedule file replays to the same failure with the same
// trace, twice.
func TestRing2005CrashFoundForEverySeed(t *testing.T) {
	kinds := map[string]int{}
	for seed := uint64(1); seed <= 20; seed++ {
		c := config(t, "ring2005")
		c.Seed = seed
		out, err := Explore(context.Background(), c)
		require.NoError(t, err)
		require.NotNil(t, out.Failure, "seed %d", seed)
		kinds[out.Failure.Kind]++
		assert.NotEmpty(t, out.Failure.Source, "seed %d: %v", seed, out.Failure)

		file, err := schedule.Decode(out.Schedule.Encode())
		require.NoError(t, err)
		a, err := replayFile(file, true)
		require.NoError(t, err)
		b, err := replayFile(file, true)
		require.NoError(t, err)
		assert.True(t, a.Reproduced, "seed %d", seed)
		assert.Equal(t, public(out.Failure), public(a.Failure), "seed %d: replay names the same failure at the same place", seed)
		assert.Equal(t, render(t, a.Result), render(t, b.Result), "seed %d", seed)
	}
	t.Logf("failure kinds over seeds 1..20: %v", kinds)
}

func TestPCTFindsRing2005Crash(t *testing.T) {
	c := config(t, "ring2005")
	c.Strategy = PCT
	out, err := Explore(context.Background(), c)
	require.NoError(t, err)
	require.NotNil(t, out.Failure)
	rep, err := replayFile(out.Schedule, false)
	require.NoError(t, err)
	assert.True(t, rep.Reproduced)
}

// The locked ring survives the workload that crashes the unlocked one.
func TestRing2005LockedPasses(t *testing.T) {
	runs := 20_000
	if testing.Short() {
		runs = 500
	}
	for _, strategy := range []string{Random, PCT} {
		c := config(t, "ring2005-locked")
		c.Strategy, c.Runs = strategy, runs
		if strategy == PCT {
			c.Runs = runs / 4
		}
		out, err := Explore(context.Background(), c)
		require.NoError(t, err)
		assert.Nil(t, out.Failure, "%s: %v", strategy, out.Failure)
		assert.Equal(t, c.Runs, out.Runs)
	}
}

// A checked-in schedule replays to a checked-in trace, byte for byte: CI
// runs this both with and without -race, so the trace does not depend on
// the build either.
func TestGoldenTrace(t *testing.T) {
	sched := filepath.Join("..", "testdata", "ring2005-seed1.sched")
	golden := filepath.Join("..", "testdata", "ring2005-seed1.trace")
	if *update {
		out, err := Explore(context.Background(), config(t, "ring2005"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(sched, out.Schedule.Encode(), 0o644))
	}
	data, err := os.ReadFile(sched)
	require.NoError(t, err)
	file, err := schedule.Decode(data)
	require.NoError(t, err)
	rep, err := replayFile(file, true)
	require.NoError(t, err)
	require.True(t, rep.Reproduced)
	got := render(t, rep.Result)
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

func TestBudgetsAndCancellation(t *testing.T) {
	c := config(t, "ring2005-locked")
	c.Runs = 7
	out, err := Explore(context.Background(), c)
	require.NoError(t, err)
	assert.Equal(t, 7, out.Runs)
	assert.False(t, out.Interrupted)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err = Explore(ctx, config(t, "ring2005-locked"))
	require.NoError(t, err)
	assert.True(t, out.Interrupted)
	assert.Equal(t, 0, out.Runs)

	for _, bad := range []func(*Config){
		func(c *Config) { c.Strategy = "dfs" },
		func(c *Config) { c.Strategy, c.Depth = PCT, 0 },
		func(c *Config) { c.Runs, c.Time = 0, 0 },
	} {
		c := config(t, "ring2005")
		bad(&c)
		_, err := Explore(context.Background(), c)
		assert.Error(t, err)
	}
}

// A step budget too small for the workload ends runs early; thousands of
// them, and thousands of failing runs, leave no goroutine behind (checked
// by TestMain), whether each exploration has a host of its own or they
// share the caller's.
func TestManyShortRunsLeaveNothingBehind(t *testing.T) {
	c := config(t, "ring2005-locked")
	c.Runs, c.Options.MaxSteps = 2000, 50
	out, err := Explore(context.Background(), c)
	require.NoError(t, err)
	require.NotNil(t, out.Failure)
	assert.Equal(t, sim.KindStepBudget, out.Failure.Kind)
	host := sim.NewHost()
	for seed := uint64(0); seed < 2000; seed++ {
		c := config(t, "ring2005")
		c.Seed, c.Runs = seed, 1
		if seed%100 != 0 {
			c.Options.Host = host
		}
		_, err := Explore(context.Background(), c)
		require.NoError(t, err)
	}
	host.Close()
	assert.NoError(t, goleak.Find())
}

func TestReplayRejectsFilesThatDoNotFit(t *testing.T) {
	out, err := Explore(context.Background(), config(t, "ring2005"))
	require.NoError(t, err)
	f := *out.Schedule
	f.Scenario = "nope"
	_, err = replayFile(&f, false)
	assert.ErrorContains(t, err, `unknown scenario "nope"`)

	with := func(kv string) []string {
		k, _, _ := strings.Cut(kv, "=")
		ps := slices.Clone(out.Schedule.Params)
		for i, p := range ps {
			if strings.HasPrefix(p, k+"=") {
				ps[i] = kv
			}
		}
		return ps
	}
	f = *out.Schedule
	f.Params = with("cpus=3")
	_, err = replayFile(&f, false)
	assert.ErrorContains(t, err, "schedule does not fit scenario ring2005")

	f = *out.Schedule
	f.Params = with("ring=0")
	_, err = replayFile(&f, false)
	assert.ErrorContains(t, err, "ring=0: want 1..4096")

	// A file that lacks a parameter would run with today's default.
	f = *out.Schedule
	f.Params = []string{"cpus=2"}
	_, err = replayFile(&f, false)
	assert.ErrorContains(t, err, "the file gives no value for parameter ring")
}

// A replay keeps no trace unless asked for one, and still names the line
// of its failure, as the exploration that found it did.
func TestReplayTracesOnlyWhenAsked(t *testing.T) {
	out, err := Explore(context.Background(), config(t, "ring2005"))
	require.NoError(t, err)
	require.NotNil(t, out.Failure)
	plain, err := replayFile(out.Schedule, false)
	require.NoError(t, err)
	require.True(t, plain.Reproduced)
	assert.Empty(t, plain.Trace)
	assert.NotEmpty(t, plain.Failure.Source)
	assert.Equal(t, public(out.Failure), public(plain.Failure))
	traced, err := replayFile(out.Schedule, true)
	require.NoError(t, err)
	assert.NotEmpty(t, traced.Trace)
	assert.Equal(t, public(plain.Failure), public(traced.Failure))
}

// A replay the host watchdog stopped says so, as a judgement of host time,
// never as a schedule that does not fit; a file that recorded that very
// failure reproduces it.
func TestReplayStoppedByTheWatchdogSaysSo(t *testing.T) {
	hung := sim.Result{Steps: 40, Failure: &sim.Failure{Kind: sim.KindWatchdog, Step: 40,
		Message: "simulated code ran for 10s of host time without reaching a scheduling point after step 40 in task reader/0"}}
	f := &schedule.File{Scenario: "ring2005", Decisions: make([]string, 100), Failure: &schedule.Failure{Kind: "panic", Message: "bad"}}
	_, err := judge(f, hung)
	require.ErrorIs(t, err, ErrWatchdog)
	assert.NotContains(t, err.Error(), "does not fit")
	assert.Equal(t, "the host watchdog stopped the replay after 40 of the schedule's 100 decisions: "+hung.Failure.Message+"; replay it again on a less busy host", err.Error())

	f = &schedule.File{Scenario: "ring2005", Decisions: make([]string, 40), Failure: &schedule.Failure{Kind: sim.KindWatchdog, Step: 40, Message: hung.Failure.Message}}
	rep, err := judge(f, hung)
	require.NoError(t, err)
	assert.True(t, rep.Reproduced)
}

// goroutinesCreated counts the goroutines, coroutines included, that the
// program has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// An exploration starts its goroutines once, not once per run (under the
// race detector every goroutine ever started costs memory for good), and
// runs on the caller's host when it is given one.
func TestExplorationStartsItsGoroutinesOnce(t *testing.T) {
	started := func(runs int, host *sim.Host) uint64 {
		c := config(t, "ring2005-locked")
		c.Runs, c.Options.Host = runs, host
		before := goroutinesCreated()
		out, err := Explore(context.Background(), c)
		require.NoError(t, err)
		require.Equal(t, runs, out.Runs)
		return goroutinesCreated() - before
	}
	few, many := started(10, nil), started(500, nil)
	assert.Less(t, many, few+5, "10 runs started %d goroutines, 500 runs %d", few, many)

	host := sim.NewHost()
	started(10, host)
	assert.Less(t, started(500, host), uint64(5), "a warm host starts none")
	host.Close()
}

// replayFile replays a schedule of one of the project's own scenarios.
func replayFile(f *schedule.File, trace bool) (Replayed, error) {
	s, err := scenario.Lookup(f.Scenario)
	if err != nil {
		return Replayed{}, err
	}
	return Replay(s, f, trace)
}
