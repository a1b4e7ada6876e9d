package check

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kernelsim/lfsim/exhaustive"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// counter is a subject of the kind users bring: two tasks add to a shared
// counter, with a racy read-modify-write or with an atomic add.
func counter(atomic bool) Workload {
	return Workload{CPUs: 2, Build: func(m *sim.Machine) Check {
		n := m.NewCell("n", sim.W32, 0)
		for cpu := range 2 {
			m.Go(fmt.Sprintf("adder/%d", cpu), cpu, func(c *sim.Ctx) {
				for range 2 {
					if atomic {
						c.AtomicAddReturn(n, 1)
					} else {
						c.WriteOnce(n, c.ReadOnce(n)+1)
					}
				}
			})
		}
		return func() *sim.Failure {
			if got := n.Peek(); got != 4 {
				return sim.Failf("lost-update", "n is %d after 4 increments", got)
			}
			return nil
		}
	}}
}

// recorder is a TB that keeps what a test would print; Fatalf ends the
// call under test as testing's does.
type recorder struct {
	name  string
	logs  []string
	fatal string
}

type stopped struct{}

func (r *recorder) Helper()         {}
func (r *recorder) Name() string    { return r.name }
func (r *recorder) Log(args ...any) { r.logs = append(r.logs, fmt.Sprint(args...)) }
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	panic(stopped{})
}

// run calls Run as a test named name would, and returns what it printed.
func run(t *testing.T, name string, w Workload, opts ...Option) *recorder {
	t.Helper()
	return as(name, func(r *recorder) { Run(r, w, opts...) })
}

// prove is run for Prove.
func prove(t *testing.T, name string, w Workload, b exhaustive.Bounds, opts ...Option) *recorder {
	t.Helper()
	return as(name, func(r *recorder) { Prove(r, w, b, opts...) })
}

// as calls f as a test named name would, stopping where it fails.
func as(name string, f func(*recorder)) *recorder {
	r := &recorder{name: name}
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(stopped); !ok {
					panic(p)
				}
			}
		}()
		f(r)
	}()
	return r
}

// Prove fails on a failure, saved with the search that found it, and on
// a search its budget stopped; it passes only a complete search.
func TestProveFailsUnlessComplete(t *testing.T) {
	dir := t.TempDir()
	r := prove(t, "TestCounter", counter(false), exhaustive.Bounds{Preemptions: 2}, Dir(dir))
	assert.Contains(t, r.fatal, "lost-update")
	assert.Contains(t, r.fatal, "the fewest any failing schedule needs")
	files := saved(t, dir)
	require.Len(t, files, 1)
	f, err := readSchedule(files[0])
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(f.FoundBy, "go test TestCounter exhaustive preemptions=1 "), f.FoundBy)

	r = prove(t, "TestCounter", counter(true), exhaustive.Bounds{Preemptions: 2}, Dir(t.TempDir()), Executions(3))
	assert.Contains(t, r.fatal, "incomplete: no failure in 3 executions")
	r = prove(t, "TestCounter", counter(true), exhaustive.Bounds{Preemptions: 2}, Dir(t.TempDir()))
	assert.Empty(t, r.fatal)
	assert.Contains(t, strings.Join(r.logs, "\n"), "complete: ")
}

func saved(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.sched"))
	require.NoError(t, err)
	return files
}

// The whole cycle a user goes through: the bug is found, saved and shrunk;
// the next run replays the saved schedule first and fails the same way;
// with the fix the saved schedule passes; with it deleted, nothing is left.
func TestRunFindsSavesShrinksAndReplaysFirst(t *testing.T) {
	dir := t.TempDir()
	r := run(t, "TestCounter", counter(false), Dir(dir), Runs(2000))
	require.NotEmpty(t, r.fatal, "the lost update is found")
	assert.Contains(t, r.fatal, "lost-update")
	assert.Contains(t, r.fatal, "check/check_test.go:", "the failure names the check that found it")
	assert.Contains(t, r.fatal, "shrunk to")
	assert.Contains(t, r.fatal, "-lfsim.replay=")
	files := saved(t, dir)
	require.Len(t, files, 1)
	f, err := readSchedule(files[0])
	require.NoError(t, err)
	assert.Equal(t, "Counter", f.Scenario, "the scenario is named after the test")
	assert.Equal(t, "lost-update", f.Failure.Kind)
	assert.True(t, strings.HasPrefix(f.FoundBy, "go test TestCounter "), f.FoundBy)
	trace := strings.Join(r.logs, "\n")
	assert.Contains(t, trace, "adder/0")
	assert.Contains(t, trace, "adder/1", "the log holds the trace, a column per CPU")

	again := run(t, "TestCounter", counter(false), Dir(dir), Runs(1))
	require.NotEmpty(t, again.fatal)
	assert.Contains(t, again.fatal, "saved schedule replayed first")
	assert.Contains(t, again.fatal, "lost-update")
	assert.Equal(t, files, saved(t, dir), "the replay saves nothing new")

	fixed := run(t, "TestCounter", counter(true), Dir(dir), Runs(500))
	assert.Empty(t, fixed.fatal, "with the fix the saved schedule and the exploration pass")
	assert.Contains(t, strings.Join(fixed.logs, "\n"), "passes now")

	require.NoError(t, os.Remove(files[0]))
	fixed = run(t, "TestCounter", counter(true), Dir(dir), Runs(500))
	assert.Empty(t, fixed.fatal)
	assert.Contains(t, strings.Join(fixed.logs, "\n"), "no failure in 500 schedules")
}

// A saved schedule the code has outgrown (its tasks renamed, steps added)
// is replayed as far as it fits and run to the end, never skipped.
func TestSavedScheduleThatNoLongerFitsStillRuns(t *testing.T) {
	dir := t.TempDir()
	f := &schedule.File{Scenario: "Counter", MaxSteps: sim.DefaultMaxSteps, FoundBy: "go test TestCounter by hand",
		Failure:   &schedule.Failure{Kind: "lost-update", Message: "n is 2 after 4 increments", Site: "elsewhere"},
		Decisions: []string{"w0:gone", "s0", "w1:adder/1", "s7"}}
	_, err := save(dir, f, "")
	require.NoError(t, err)
	r := run(t, "TestCounter", counter(true), Dir(dir), Runs(1))
	assert.Empty(t, r.fatal)
	assert.Contains(t, strings.Join(r.logs, "\n"), "passes now")
}

// -lfsim.replay replays one file with its trace and explores nothing.
func TestReplayFlag(t *testing.T) {
	dir := t.TempDir()
	run(t, "TestCounter", counter(false), Dir(dir), Runs(2000))
	files := saved(t, dir)
	require.Len(t, files, 1)
	*flagReplay = files[0]
	defer func() { *flagReplay = "" }()
	r := run(t, "TestCounter", counter(false), Dir(t.TempDir()))
	require.NotEmpty(t, r.fatal)
	assert.Contains(t, r.fatal, "replayed: the failure it recorded")
	assert.Contains(t, strings.Join(r.logs, "\n"), "adder/1")

	r = run(t, "TestOther", counter(false), Dir(t.TempDir()))
	assert.Contains(t, r.fatal, "for scenario Counter, not Other")
}

// Shrinking can be turned off: the schedule is saved as found.
func TestNoShrink(t *testing.T) {
	dir := t.TempDir()
	r := run(t, "TestCounter", counter(false), Dir(dir), Runs(2000), ShrinkAttempts(0))
	require.NotEmpty(t, r.fatal)
	assert.NotContains(t, r.fatal, "shrunk to")
	assert.Len(t, saved(t, dir), 1)
}

// Two different failures are two files; neither replaces the other.
func TestSaveNeverReplacesAnotherFile(t *testing.T) {
	dir := t.TempDir()
	f := &schedule.File{Scenario: "x", MaxSteps: 1, Failure: &schedule.Failure{Kind: "bug", Site: "a.go:1"}}
	a, err := save(dir, f, "")
	require.NoError(t, err)
	b, err := save(dir, f, "")
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	assert.Len(t, saved(t, dir), 2)
}

func TestFileNamesOfAnyKind(t *testing.T) {
	assert.Equal(t, "lost-update", fileName("lost-update"))
	assert.Equal(t, "a_b_c", fileName("a/b c"))
	assert.Equal(t, "failure", fileName(""))
	dir := t.TempDir()
	path, err := save(dir, &schedule.File{Scenario: "x", MaxSteps: 1, Failure: &schedule.Failure{Kind: "../../x", Site: "a.go:1"}}, "")
	require.NoError(t, err)
	assert.Equal(t, dir, filepath.Dir(path), "the file stays in its directory")
}

func TestScenarioNames(t *testing.T) {
	assert.Equal(t, "MyStack", scenarioName("TestMyStack"))
	assert.Equal(t, "MyStack", scenarioName("FuzzMyStack"))
	assert.Equal(t, "Stack-pop_empty", scenarioName("TestStack/pop empty"))
	assert.Equal(t, "Test", scenarioName("Test"))
	assert.Equal(t, "Stack", Workload{Name: "Stack"}.Scenario("Other").Name)
}

func TestBadOptions(t *testing.T) {
	r := run(t, "TestCounter", counter(false), Runs(-1))
	assert.Contains(t, r.fatal, "want at least one run")
	r = run(t, "TestCounter", counter(false), Strategy("dfs", 0), Dir(t.TempDir()))
	assert.Contains(t, r.fatal, "unknown strategy")
	pinned := Workload{CPUs: 1, Build: func(m *sim.Machine) Check {
		m.Go("t", 3, func(*sim.Ctx) {})
		return nil
	}}
	r = run(t, "TestCounter", pinned, Dir(t.TempDir()))
	assert.Contains(t, r.fatal, "building scenario Counter: sim: task t pinned to CPU3 of 1", "a workload that cannot be built is one line, not a panic")
	panicky := Workload{CPUs: 1, Build: func(m *sim.Machine) Check {
		return func() *sim.Failure { var a []int; _ = a[3]; return nil }
	}}
	r = run(t, "TestCounter", panicky, Dir(t.TempDir()))
	assert.Contains(t, r.fatal, "go-panic: the end-of-run check panicked")
	r = run(t, "TestCounter", Workload{CPUs: 1}, Dir(t.TempDir()))
	assert.Empty(t, r.fatal, "a workload with nothing to run passes")
}
