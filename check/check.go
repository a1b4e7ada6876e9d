// Package check puts a user's own lock-free code under test from `go test`.
// The subject is written against *sim.Ctx; a Workload says how many CPUs
// the machine has and builds its tasks, interrupt sources and end-of-run
// check; one call explores it:
//
//	func TestMyStack(t *testing.T) { check.Run(t, workload) }
//	func FuzzMyStack(f *testing.F) { check.Fuzz(f, workload) }
//
// Run explores schedules (random walks, POS and PCT in turn) until one
// fails or the runs are spent; Prove runs every schedule within a
// preemption and interrupt bound and fails the test unless it finds no
// failure and covers the bounds. A failing schedule is saved at once under
// testdata/lfsim/<name>/ next to the test, shrunk, saved again, and the
// test fails with the failure and the shrunk schedule's trace, one column
// per CPU, in its log. On the next `go test` every schedule saved there is
// replayed first, so a failure found once stays a regression test until
// its file is deleted, as rapid's fail files and Go's fuzz corpus do.
//
// Fuzz hands the schedule's decisions to Go's fuzzer: `go test -fuzz`
// searches with coverage guidance, a crasher lands in testdata/fuzz/FuzzX/
// and plain `go test` replays it through the same Fuzz function.
//
// Flags of the test binary (go test ... -args, or directly):
//
//	-lfsim.replay=FILE   replay one schedule file with its trace, nothing else
//	-lfsim.trace=MODE    trace of a failure: columns (default), lines or none
//	-lfsim.runs=N        schedules to explore (default: the test's Runs)
//	-lfsim.seed=N        exploration seed (default: the test's Seed)
//	-lfsim.shrink=false  save the failing schedule as found
//
// A workload is a scenario (package scenario) named after the test: the
// name without its Test or Fuzz prefix, so TestMyStack and FuzzMyStack
// share the scenario MyStack, its saved schedules and its fuzz target
// FuzzMyStack. A user's own simrun (package simrun) built with the same
// scenario replays, shrinks and converts those files too.
package check

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/kernelsim/lfsim/exhaustive"
	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/shrink"
	"github.com/kernelsim/lfsim/sim"
	"github.com/kernelsim/lfsim/trace"
)

// Check is an end-of-run check: it looks at the subject after a run in
// which nothing failed and returns the failure it finds (sim.Failf), or
// nil.
type Check = scenario.Check

// Workload is a user's subject under test with no parameters.
type Workload struct {
	// Name is the scenario's name; empty means the test's name without
	// its Test or Fuzz prefix.
	Name string
	// CPUs is the machine's size.
	CPUs int
	// Build creates the subject, tasks and interrupt sources on m, and
	// returns the end-of-run check (nil for none).
	Build func(m *sim.Machine) Check
	// AllocFailures is how many allocations a schedule may make fail.
	AllocFailures int
}

// Scenario is the workload as a scenario of the given name, for package
// simrun and for RunScenario.
func (w Workload) Scenario(name string) *scenario.Scenario {
	if w.Name != "" {
		name = w.Name
	}
	build := w.Build
	return &scenario.Scenario{
		Name:    name,
		Summary: "a workload under test",
		CPUs:    func(scenario.Values) int { return w.CPUs },
		Build: func(m *sim.Machine, _ scenario.Values) scenario.Check {
			if build == nil {
				return nil
			}
			return build(m)
		},
		AllocFailures: func(scenario.Values) int { return w.AllocFailures },
	}
}

// TB is the part of *testing.T and *testing.F that Run uses.
type TB interface {
	Helper()
	Name() string
	Log(args ...any)
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// DefaultRuns is how many schedules Run explores unless told otherwise.
const DefaultRuns = 10_000

// DefaultShrinkAttempts bounds the shrinking of a failure Run found.
const DefaultShrinkAttempts = 5_000

// config is what the options set.
type config struct {
	runs           int
	seed           uint64
	strategy       string
	depth          int
	maxSteps       int
	set            []string
	dir            string
	shrinkAttempts int
	noShrink       bool
	executions     int
}

// Option changes how Run explores.
type Option func(*config)

// Runs sets how many schedules to explore.
func Runs(n int) Option { return func(c *config) { c.runs = n } }

// Seed sets the exploration's seed: the same seed explores the same
// schedules.
func Seed(s uint64) Option { return func(c *config) { c.seed = s } }

// Strategy sets the strategy (explore.Random, explore.PCT with its depth,
// or explore.Mix, the default).
func Strategy(name string, depth int) Option {
	return func(c *config) { c.strategy, c.depth = name, depth }
}

// MaxSteps sets the step budget of one run (default sim.DefaultMaxSteps).
func MaxSteps(n int) Option { return func(c *config) { c.maxSteps = n } }

// Set gives a scenario's parameters ("key=value" each), for RunScenario.
func Set(kv ...string) Option { return func(c *config) { c.set = append(c.set, kv...) } }

// Dir sets where schedules are saved and read (default
// testdata/lfsim/<scenario> in the test's package directory).
func Dir(path string) Option { return func(c *config) { c.dir = path } }

// ShrinkAttempts bounds shrinking by the number of replays; 0 saves the
// failing schedule as found.
func ShrinkAttempts(n int) Option {
	return func(c *config) { c.shrinkAttempts, c.noShrink = n, n == 0 }
}

// Executions bounds Prove's work by the number of runs (default
// DefaultExecutions; 0: no bound): a search that spends it fails the test
// as incomplete.
func Executions(n int) Option { return func(c *config) { c.executions = n } }

// DefaultExecutions is how many runs Prove may spend unless told otherwise.
const DefaultExecutions = 1_000_000

// Flags of the test binary; see the package documentation.
var (
	flagReplay = flag.String("lfsim.replay", "", "replay this schedule file with its trace instead of exploring")
	flagTrace  = flag.String("lfsim.trace", "columns", "trace printed with a failure: columns, lines or none")
	flagRuns   = flag.Int("lfsim.runs", 0, "schedules to explore (0: the test's own number)")
	flagSeed   = flag.Uint64("lfsim.seed", 0, "exploration seed (0: the test's own)")
	flagShrink = flag.Bool("lfsim.shrink", true, "shrink a failing schedule before saving it again")
)

// Run explores workload w, named after the test, and fails the test on
// the first failing schedule; see the package documentation.
func Run(t TB, w Workload, opts ...Option) {
	t.Helper()
	RunScenario(t, w.Scenario(scenarioName(t.Name())), opts...)
}

// RunScenario is Run for a scenario of one's own (with parameters, given
// by Set).
func RunScenario(t TB, s *scenario.Scenario, opts ...Option) {
	t.Helper()
	c, v, ok := prepare(t, s, opts)
	if !ok {
		return
	}
	cfg := explore.Config{Scenario: s, Values: v, Strategy: c.strategy, Depth: c.depth, Seed: c.seed, Runs: c.runs,
		Options: scenario.Options{MaxSteps: c.maxSteps}}
	out, err := explore.Explore(context.Background(), cfg)
	if err != nil {
		t.Fatalf("lfsim: %s: %v", s.Name, err)
	}
	if out.Failure == nil {
		t.Logf("lfsim: %s: no failure in %d schedules (%s, seed %d)", s.Name, out.Runs, c.strategy, c.seed)
		return
	}
	out.Schedule.FoundBy = "go test " + t.Name() + " " + out.Schedule.FoundBy
	found(t, s, c, out.Schedule, out.Failure, fmt.Sprintf("found in run %d, %d steps", out.FailRun, len(out.Schedule.Decisions)))
}

// Prove runs every schedule of workload w, named after the test, within
// bounds b (see package exhaustive), and fails the test on the first
// failing schedule (saved and shrunk as Run's are) or when the search
// runs out of executions before covering the bounds: an incomplete
// search proves nothing. Saved schedules are replayed first, as by Run.
func Prove(t TB, w Workload, b exhaustive.Bounds, opts ...Option) {
	t.Helper()
	ProveScenario(t, w.Scenario(scenarioName(t.Name())), b, opts...)
}

// ProveScenario is Prove for a scenario of one's own (with parameters,
// given by Set).
func ProveScenario(t TB, s *scenario.Scenario, b exhaustive.Bounds, opts ...Option) {
	t.Helper()
	c, v, ok := prepare(t, s, opts)
	if !ok {
		return
	}
	res, err := explore.Check(context.Background(), explore.CheckConfig{Scenario: s, Values: v, Bounds: b, MaxExecutions: c.executions,
		Options: scenario.Options{MaxSteps: c.maxSteps}})
	if err != nil {
		t.Fatalf("lfsim: %s: %v", s.Name, err)
	}
	switch {
	case res.Failure != nil:
		res.Schedule.FoundBy = "go test " + t.Name() + " " + res.Schedule.FoundBy
		found(t, s, c, res.Schedule, res.Failure, fmt.Sprintf("found by exhaustive search after %d executions; %d preemptions, the fewest any failing schedule needs",
			res.Executions, res.Spent.Preemptions))
	case !res.Complete:
		t.Fatalf("lfsim: %s: incomplete: no failure in %d executions, but the budget ran out at preemption bound %d (about %.3g more needed); raise check.Executions or lower the bounds",
			s.Name, res.Executions, res.Bound, res.Remaining)
	default:
		t.Logf("lfsim: %s: complete: %d executions (%d pruned), no failure with <= %d preemptions, <= %d interrupts, <= %d allocation failures",
			s.Name, res.Executions, res.Pruned, b.Preemptions, b.Interrupts, b.Failures)
	}
}

// prepare applies the options and replays what is saved (or only the
// flagged file, then reporting false: nothing more to do).
func prepare(t TB, s *scenario.Scenario, opts []Option) (config, scenario.Values, bool) {
	t.Helper()
	c, v, err := setup(s, opts)
	if err != nil {
		t.Fatalf("lfsim: %v", err)
	}
	if *flagReplay != "" {
		replayFlagged(t, s, c)
		return c, v, false
	}
	replaySaved(t, s, v, c)
	return c, v, true
}

// found saves a failing schedule at once, shrinks it and saves it again,
// and fails the test with it.
func found(t TB, s *scenario.Scenario, c config, file *schedule.File, failure *sim.Failure, note string) {
	t.Helper()
	path, err := save(c.dir, file, "")
	if err != nil {
		t.Fatalf("lfsim: %s: %s\n  (and the schedule could not be saved: %v)", s.Name, explore.Describe(failure), err)
	}
	f := file
	if !c.noShrink {
		res, err := shrink.Shrink(s, f, shrink.Budget{Attempts: c.shrinkAttempts})
		switch {
		case err != nil:
			note += fmt.Sprintf("; not shrunk: %v", err)
		default:
			f = res.File
			if _, err := save(c.dir, f, path); err != nil {
				note += fmt.Sprintf("; the shrunk schedule could not be saved: %v", err)
				f = file
			} else {
				note += fmt.Sprintf("; shrunk to %d steps, %d preemptions, %d interrupts", res.After.Steps, res.After.Preemptions, res.After.Interrupts)
			}
		}
	}
	report(t, s, f, path, note)
}

// setup applies the options and the flags to the defaults.
func setup(s *scenario.Scenario, opts []Option) (config, scenario.Values, error) {
	c := config{runs: DefaultRuns, seed: 1, strategy: explore.Mix, depth: 3, shrinkAttempts: DefaultShrinkAttempts, executions: DefaultExecutions}
	for _, o := range opts {
		o(&c)
	}
	if *flagRuns > 0 {
		c.runs = *flagRuns
	}
	if *flagSeed > 0 {
		c.seed = *flagSeed
	}
	if !*flagShrink {
		c.noShrink = true
	}
	if c.dir == "" {
		c.dir = filepath.Join("testdata", "lfsim", s.Name)
	}
	switch *flagTrace {
	case "columns", "lines", "none":
	default:
		return c, nil, fmt.Errorf("-lfsim.trace=%s: want columns, lines or none", *flagTrace)
	}
	if c.runs < 1 {
		return c, nil, fmt.Errorf("Runs(%d): want at least one run", c.runs)
	}
	if err := (scenario.Catalogue{s}).Validate(); err != nil {
		return c, nil, err
	}
	v, err := s.Values(c.set)
	return c, v, err
}

// scenarioName is a test's name without its Test or Fuzz prefix, with
// subtests joined by dashes.
func scenarioName(test string) string {
	for _, p := range []string{"Test", "Fuzz"} {
		if rest, ok := strings.CutPrefix(test, p); ok && rest != "" {
			test = rest
			break
		}
	}
	return strings.NewReplacer("/", "-", " ", "_").Replace(test)
}

// replaySaved replays every schedule saved for s first. Each replays as
// far as it still fits the code (the code may have changed since) and is
// then run to the end; any failure fails the test.
func replaySaved(t TB, s *scenario.Scenario, v scenario.Values, c config) {
	t.Helper()
	files, err := savedSchedules(c.dir)
	if err != nil {
		t.Fatalf("lfsim: %v", err)
	}
	for _, sf := range files {
		path, f := sf.path, sf.file
		if f.Scenario != s.Name {
			t.Fatalf("lfsim: %s is a schedule of scenario %s, not %s: move it to that scenario's directory", path, f.Scenario, s.Name)
		}
		fv, err := s.Values(f.Params)
		if err != nil {
			t.Fatalf("lfsim: %s: %v", path, err)
		}
		r := explore.Run(s, fv, scenario.Options{MaxSteps: f.MaxSteps}, sim.NewLenientTokens(f.Decisions))
		if r.Err != nil {
			t.Fatalf("lfsim: %s: %v", path, r.Err)
		}
		if r.Failure == nil {
			t.Logf("lfsim: saved schedule %s passes now (it recorded %s); delete it once the fix is in", path, recorded(f))
			continue
		}
		// Record the run the lenient replay made, so the trace and the
		// replay command show exactly this failure.
		again := *f
		again.Failure, again.Decisions = explore.Record(r.Failure), r.Tokens()
		note := "saved schedule replayed first"
		if !explore.Matches(f.Failure, r.Failure) {
			note += fmt.Sprintf(" (it recorded %s)", recorded(f))
		}
		if !slices.Equal(again.Decisions, f.Decisions) {
			if _, err := save(c.dir, &again, path); err != nil {
				note += fmt.Sprintf("; could not update it to the run that fails now: %v", err)
			} else {
				note += "; updated to the run that fails now"
			}
		}
		report(t, s, &again, path, note)
	}
}

func recorded(f *schedule.File) string {
	if f.Failure == nil {
		return "no failure"
	}
	return f.Failure.Kind + ": " + f.Failure.Message
}

// savedFile is a schedule file saved by Run.
type savedFile struct {
	path string
	file *schedule.File
}

// savedSchedules reads dir's schedule files in name order (none when dir
// does not exist).
func savedSchedules(dir string) ([]savedFile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.sched"))
	if err != nil {
		return nil, fmt.Errorf("saved schedules: %w", err)
	}
	slices.Sort(paths)
	out := make([]savedFile, len(paths))
	for i, path := range paths {
		f, err := readSchedule(path)
		if err != nil {
			return nil, err
		}
		out[i] = savedFile{path, f}
	}
	return out, nil
}

func readSchedule(path string) (*schedule.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := schedule.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// replayFlagged replays the file -lfsim.replay names, with its trace.
func replayFlagged(t TB, s *scenario.Scenario, c config) {
	t.Helper()
	path := *flagReplay
	f, err := readSchedule(path)
	if err != nil {
		t.Fatalf("lfsim: -lfsim.replay: %v", err)
	}
	rep, err := explore.Replay(s, f, *flagTrace != "none")
	if err != nil {
		t.Fatalf("lfsim: -lfsim.replay=%s: %v", path, err)
	}
	logTrace(t, rep.Result)
	if rep.Failure == nil {
		t.Logf("lfsim: replayed %s: %d steps, no failure (it recorded %s)", path, rep.Steps, recorded(f))
		return
	}
	note := "replayed: the failure it recorded"
	if !rep.Reproduced {
		note = fmt.Sprintf("replayed: another failure than it recorded (%s)", recorded(f))
	}
	t.Fatalf("lfsim: %s: %s\n  %s\n  schedule %s", s.Name, explore.Describe(rep.Failure), note, path)
}

// report replays f with its trace into the log and fails the test.
func report(t TB, s *scenario.Scenario, f *schedule.File, path, note string) {
	t.Helper()
	rep, err := explore.Replay(s, f, *flagTrace != "none")
	if err != nil {
		t.Fatalf("lfsim: %s: %s: %s\n  schedule %s (its replay did not work: %v)", s.Name, f.Failure.Kind, f.Failure.Message, path, err)
	}
	logTrace(t, rep.Result)
	how := fmt.Sprintf("go test -run '^%s$' -lfsim.replay=%s", t.Name(), path)
	t.Fatalf("lfsim: %s: %s\n  %s\n  schedule saved to %s; replay it with its trace: %s", s.Name, explore.Describe(rep.Failure), note, path, how)
}

func logTrace(t TB, r sim.Result) {
	t.Helper()
	if len(r.Trace) == 0 {
		return
	}
	var b strings.Builder
	if *flagTrace == "lines" {
		trace.Lines(&b, r.Trace, trace.Options{})
	} else {
		trace.Columns(&b, r.Trace, trace.Options{CPUs: r.CPUs})
	}
	t.Log("\n" + b.String())
}

// save writes f to path, or when path is empty to a new file in dir named
// after the failure's identity; it never replaces another file than path.
func save(dir string, f *schedule.File, path string) (string, error) {
	if path == "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		id := f.Failure.Kind + " at " + f.Failure.Site
		base := fmt.Sprintf("%s-%08x", fileName(f.Failure.Kind), crc32.ChecksumIEEE([]byte(id)))
		for i := 1; ; i++ {
			path = filepath.Join(dir, base+".sched")
			if i > 1 {
				path = filepath.Join(dir, fmt.Sprintf("%s-%d.sched", base, i))
			}
			file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, os.ErrExist) {
				continue
			}
			if err != nil {
				return "", err
			}
			_, err = file.Write(f.Encode())
			if cerr := file.Close(); err == nil {
				err = cerr
			}
			return path, err
		}
	}
	// Replace atomically: a crash mid-write leaves the old file whole.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, f.Encode(), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// fileName keeps a failure kind's letters, digits, dashes and underscores,
// so any kind a check names makes a file name.
func fileName(kind string) string {
	name := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '_'
	}, kind)
	if name == "" {
		return "failure"
	}
	return name
}
