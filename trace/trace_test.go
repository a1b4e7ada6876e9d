package trace_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/internal/zoo"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/shrink"
	"github.com/kernelsim/lfsim/sim"
	"github.com/kernelsim/lfsim/trace"
)

// op, call and ret build the events of a trace by hand: a decision on cpu in ctx.
func op(step, cpu int, ctx, name, v string) sim.Event {
	return sim.Event{Step: step, Decision: true, Kind: sim.EvOp, CPU: cpu, Ctx: ctx, Op: name, Var: "x", Value: v, File: "/src/q/q.go", Line: 10 + step}
}

func call(step, cpu int, ctx, name, args string) sim.Event {
	return sim.Event{Step: step, Kind: sim.EvCall, CPU: cpu, Ctx: ctx, Op: name, Value: args}
}

func ret(step, cpu int, ctx, name, result string) sim.Event {
	return sim.Event{Step: step, Kind: sim.EvReturn, CPU: cpu, Ctx: ctx, Op: name, Value: result}
}

func columns(t *testing.T, events []sim.Event, o trace.Options) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, trace.Columns(&b, events, o))
	return b.String()
}

func TestAnOperationNoOtherCPUInterleavedWithIsOneLine(t *testing.T) {
	events := []sim.Event{
		call(0, 0, "task a", "push", "7"),
		op(1, 0, "task a", "load", "-> 0"),
		op(2, 0, "task a", "store", "= 7"),
		ret(2, 0, "task a", "push", "0"),
		call(2, 1, "task b", "pop", ""),
		op(3, 1, "task b", "load", "-> 7"),
		ret(3, 1, "task b", "pop", "7"),
	}
	out := columns(t, events, trace.Options{CPUs: 2})
	assert.Contains(t, out, "#1-2 | push(7) -> 0")
	assert.Contains(t, out, "pop() -> 7")
	assert.NotContains(t, out, "store x")
	full := columns(t, events, trace.Options{CPUs: 2, Full: true})
	assert.Contains(t, full, "store x = 7  @q/q.go:12")
}

func TestAnInterleavedOperationShowsItsEventsUnderItsCall(t *testing.T) {
	events := []sim.Event{
		call(0, 0, "task a", "push", "7"),
		op(1, 0, "task a", "load", "-> 0"),
		op(2, 1, "task b", "store", "= 9"),
		op(3, 0, "task a", "store", "= 7"),
		ret(3, 0, "task a", "push", "0 (full)"),
	}
	out := columns(t, events, trace.Options{CPUs: 2})
	assert.Contains(t, out, "| push(7)")
	assert.Contains(t, out, "|   load x -> 0  @q/q.go:11")
	assert.Contains(t, out, "|   store x = 7  @q/q.go:13")
	assert.Contains(t, out, "| push -> 0 (full)")
}

func TestSpinIterationsFoldToOneLineWithTheirCount(t *testing.T) {
	var events []sim.Event
	for i := range 5 {
		events = append(events, op(2*i+1, 0, "task a", "READ_ONCE", "-> 0"), sim.Event{Step: 2*i + 2, Decision: true, Kind: sim.EvOp, CPU: 0, Ctx: "task a", Op: "cpu_relax", File: "/src/q/q.go"})
	}
	// Source lines differ by step in op(): give the loop one line.
	for i := range events {
		events[i].Line = 40 + i%2
	}
	out := columns(t, events, trace.Options{CPUs: 1})
	assert.Contains(t, out, "#1-10 | READ_ONCE x -> 0  @q/q.go:40; cpu_relax  @q/q.go:41 (5 times)")
	assert.Equal(t, 3, strings.Count(out, "\n"), "the header, the context and the loop:\n"+out)
}

func TestLoopsThatDifferInNumbersKeepTheirFirstAndLastIteration(t *testing.T) {
	var events []sim.Event
	for i := range 10 {
		events = append(events, op(i+1, 0, "task a", "store", fmt.Sprintf("= %d", i)))
	}
	out := columns(t, events, trace.Options{CPUs: 1})
	assert.Contains(t, out, "#1   | store x = 0")
	assert.Contains(t, out, "#2-9 | ... 8 more times like this")
	assert.Contains(t, out, "#10  | store x = 9")
}

func TestStepRangeAndCPUFilter(t *testing.T) {
	var events []sim.Event
	for i := range 10 {
		events = append(events, op(i+1, i%2, fmt.Sprintf("task t%d", i%2), "store", fmt.Sprintf("= %d", i)))
	}
	events = append(events, sim.Event{Step: 10, Kind: sim.EvFailure, CPU: -1, Note: "bug: boom"})
	out := columns(t, events, trace.Options{CPUs: 2, From: 3, To: 6, Only: []int{1}})
	assert.Contains(t, out, "#4 ")
	assert.Contains(t, out, "#6 ")
	assert.NotContains(t, out, "#3 ")
	assert.NotContains(t, out, "#8 ")
	assert.NotContains(t, out, "CPU0")
	assert.Contains(t, out, "FAIL bug: boom", "the failure shows whatever the filter")

	var b bytes.Buffer
	require.NoError(t, trace.Lines(&b, events, trace.Options{From: 9}))
	assert.Equal(t, 3, strings.Count(b.String(), "\n"), b.String())
}

// Whatever the events, the table keeps to the page where the columns
// fit on it, and nothing is lost: every decision's step is on the page
// when nothing is folded.
func TestTheTableKeepsToThePage(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cpus := rapid.IntRange(1, 4).Draw(t, "cpus")
		width := rapid.IntRange(80, 200).Draw(t, "width")
		word := rapid.StringMatching(`[a-z]{1,30}`)
		n := rapid.IntRange(1, 30).Draw(t, "events")
		var events []sim.Event
		for i := range n {
			cpu := rapid.IntRange(0, cpus-1).Draw(t, "cpu")
			note := strings.Join(rapid.SliceOfN(word, 0, 12).Draw(t, "words"), " ")
			events = append(events, sim.Event{Step: i + 1, Decision: true, Kind: sim.EvNote, CPU: cpu, Ctx: fmt.Sprintf("task t%d", cpu), Note: note})
		}
		events = append(events, sim.Event{Step: n, Kind: sim.EvFailure, CPU: 0, Ctx: "task t0", Note: strings.Repeat("why ", 60)})
		var b bytes.Buffer
		require.NoError(t, trace.Columns(&b, events, trace.Options{CPUs: cpus, Width: width, Full: true}))
		out := b.String()
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if len(l) > width {
				t.Fatalf("a line of %d characters on a page of %d:\n%s", len(l), width, out)
			}
		}
		for i := range n {
			if !strings.Contains(out, fmt.Sprintf("#%d ", i+1)) {
				t.Fatalf("step %d is missing:\n%s", i+1, out)
			}
		}
	})
}

// Every known failure, found and shrunk as simrun does it with its
// defaults, reads on one screen: 60 lines of 160 columns.
func TestEveryZooFailureFitsAPage(t *testing.T) {
	for _, z := range zoo.Entries() {
		t.Run(z.Scenario+"/"+z.Kind, func(t *testing.T) {
			if testing.Short() && !z.Short {
				t.Skip("long: runs without -short")
			}
			s, err := scenario.Lookup(z.Scenario)
			require.NoError(t, err)
			v, err := s.Values(z.Set)
			require.NoError(t, err)
			out, err := explore.Explore(context.Background(), explore.Config{Scenario: s, Values: v, Strategy: explore.Mix, Seed: 1, Depth: 3, Runs: 100_000, Workers: 2})
			require.NoError(t, err)
			require.NotNil(t, out.Schedule, "the failure is found")
			small, err := shrink.Shrink(s, out.Schedule, shrink.Budget{Workers: 2})
			require.NoError(t, err)
			rep, err := explore.Replay(s, small.File, true)
			require.NoError(t, err)
			require.True(t, rep.Reproduced)
			page := columns(t, rep.Trace, trace.Options{CPUs: rep.CPUs})
			lines := strings.Split(strings.TrimSuffix(page, "\n"), "\n")
			wide := 0
			for _, l := range lines {
				wide = max(wide, len(l))
			}
			t.Logf("%d lines, %d columns", len(lines), wide)
			assert.LessOrEqual(t, len(lines), 60, page)
			assert.LessOrEqual(t, wide, 160, page)
			assert.Contains(t, page, "FAIL")
			if z.Kind == "lost-value" {
				assert.Contains(t, page, "overwrote", "the step that lost the value says so")
			}
		})
	}
}

func store(step, cpu int, cell, v string) sim.Event {
	return sim.Event{Step: step, Decision: true, Kind: sim.EvOp, CPU: cpu, Ctx: fmt.Sprintf("task t%d", cpu), Op: "store", Var: cell, Value: "= " + v}
}

func load(step, cpu int, cell, v string) sim.Event {
	return sim.Event{Step: step, Decision: true, Kind: sim.EvOp, CPU: cpu, Ctx: fmt.Sprintf("task t%d", cpu), Op: "load", Var: cell, Value: "-> " + v}
}

func TestALostValueNamesTheStoreThatOverwroteIt(t *testing.T) {
	events := []sim.Event{
		store(1, 0, "q.tail", "7"), // a counter equal to the value, read back below
		store(2, 0, "q.ring[2]", "7"),
		load(3, 1, "q.tail", "7"),
		store(4, 1, "q.ring[2]", "9"),
		store(5, 1, "q.tail", "8"),
		{Step: 5, Kind: sim.EvFailure, CPU: -1, Note: "end-of-run check: lost-value: value 7 was lost", Value: "7"},
	}
	c, ok := trace.FindCulprit(events)
	require.True(t, ok)
	assert.Equal(t, 4, c.Step)
	assert.Equal(t, "overwrote 7 (stored at #2), which nothing had read", c.Note)
	out := columns(t, events, trace.Options{CPUs: 2})
	assert.Contains(t, out, "store q.ring[2] = 9  <- overwrote 7")

	// Read before it was overwritten: not the store's doing.
	read := append(slices.Clone(events[:3]), load(3, 1, "q.ring[2]", "7"), events[3], events[5])
	_, ok = trace.FindCulprit(read)
	assert.False(t, ok)
}

func TestADuplicatedValueNamesTheLoadThatReadItAgain(t *testing.T) {
	events := []sim.Event{
		store(1, 0, "q.ring[1]", "5"),
		load(2, 1, "q.ring[1]", "5"),
		load(3, 0, "q.ring[1]", "5"),
		{Step: 3, Kind: sim.EvFailure, CPU: -1, Note: "end-of-run check: duplicated-value: value 5 dequeued twice", Value: "5"},
	}
	c, ok := trace.FindCulprit(events)
	require.True(t, ok)
	assert.Equal(t, 3, c.Step)
	assert.Equal(t, "read 5 again, which the load at #2 had taken", c.Note)
	// Stored again between the loads: two values that happen to be equal.
	again := []sim.Event{events[0], events[1], store(3, 1, "q.ring[1]", "5"), load(4, 0, "q.ring[1]", "5"), events[3]}
	_, ok = trace.FindCulprit(again)
	assert.False(t, ok)
}
