package simrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kernelsim/lfsim/bench"
	"github.com/kernelsim/lfsim/cover"
	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/fuzz"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/shrink"
	"github.com/kernelsim/lfsim/sim"
	"github.com/kernelsim/lfsim/trace"
)

// Exit statuses.
const (
	exitPass        = 0
	exitFailure     = 1
	exitUsage       = 2
	exitHost        = 3 // the host watchdog stopped a replay: no verdict
	exitIncomplete  = 4 // check: the budget ran out before the bounds were covered
	exitInterrupted = 130
)

const usage = `usage:
  simrun list [SCENARIO] [--json]
  simrun explore SCENARIO [--strategy=mix|random|pct|pos] [--seed=N] [--runs=N] [--time=D] [--depth=N] [--workers=N] [--shard=I/N] [--record=FILE] [--cover] [--max-steps=N] [--set key=value ...] [-o FILE] [--trace=lines|columns] [--json]
  simrun merge FILE... [-o OUT] [--cover] [--json]
  simrun check SCENARIO [--preemptions=N] [--interrupts=N] [--failures=N] [--executions=N] [--no-reduction] [--workers=N] [--shard=I/N] [--record=FILE] [--cover] [--max-steps=N] [--set key=value ...] [-o FILE] [--trace=lines|columns] [--json]
  simrun strategies SCENARIO [--seeds=N] [--runs=N] [--set key=value ...]
  simrun replay FILE [--trace=lines|columns|full] [--from=N] [--to=N] [--cpu=LIST] [--width=N] [--html=FILE] [--perfetto=FILE] [--json]
  simrun shrink FILE [-o OUT] [--time=D] [--attempts=N] [--workers=N] [--json]
  simrun corpus FILE [-o OUT] [--json]
  simrun litmus FILE|DIR... [--model=lkmm|sc|tso] [--explain] [--json]
  simrun bench [--benchtime=D]
  simrun compare SCENARIO [--budget=D] [--seed=N] [--strategy=random|pct] [--race=auto|on|off] [--set key=value ...]

A FILE may be a schedule file or a Go fuzz corpus file under testdata/fuzz/<Target>/.
simrun COMMAND --help says what each of a command's flags means and its default.
Exit status: 0 pass, 1 failure found or reproduced, 2 bad usage or input, 3 host
watchdog (no verdict), 4 check's budget spent (no verdict), 128+N interrupted by
signal N (SIGINT 130, SIGTERM 143, SIGHUP 129) with nothing found.`

// commandDoc is a subcommand's name, arguments and what it does.
type commandDoc struct{ name, args, doc string }

// commands says what each subcommand does, for its --help.
var commands = []commandDoc{
	{"list", "[SCENARIO]", "Lists the scenarios, their parameters with their defaults, and whether each must pass or is known to fail; with a scenario, what each of its parameters means and the values it takes."},
	{"explore", "SCENARIO", "Runs the scenario's schedules, each one decided by the strategy from the seed and the run's number, until one fails or the budget is spent. A failing schedule is saved, and replays exactly."},
	{"merge", "FILE...", "Adds up the records of the shards of one exploration (explore --shard --record) or of one check (check --shard --record) into the answer of the whole, and saves its failing schedule."},
	{"check", "SCENARIO", "Runs every schedule of the scenario within the bounds, equivalent schedules once: a pass is a proof for those bounds, a failure has the fewest preemptions."},
	{"strategies", "SCENARIO", "Compares the exploration strategies on the scenario: for each, how many runs it takes to find a failure, over several seeds."},
	{"replay", "FILE", "Replays a schedule file (or a fuzz corpus file) step by step and says whether the recorded failure reproduces."},
	{"shrink", "FILE", "Shrinks a failing schedule: fewer steps, CPU changes and preemptions, and smaller parameters, keeping the same failure."},
	{"corpus", "FILE", "Turns a schedule into an input of the fuzz target of its scenario, so that go test replays it as a regression test."},
	{"litmus", "FILE|DIR...", "Runs litmus tests (herd7's C format) under a memory model and compares the outcomes with each file's expected result."},
	{"bench", "", "Runs the native builds of the subjects and prints the original's benchmark tables with this machine's figures beside them."},
	{"compare", "SCENARIO", "Tabulates what the simulator finds on the scenario against a stress test of its native build on real threads, in the same budget."},
}

// helpError is a request for a command's help (-h or --help).
type helpError struct{ fs *flag.FlagSet }

func (h helpError) Error() string { return "help requested" }

// writeHelp prints a command's help: how to call it, what it does, and
// every flag with its meaning and default.
func writeHelp(w io.Writer, fs *flag.FlagSet) {
	name := fs.Name()
	for _, c := range commands {
		if c.name == name {
			fmt.Fprintf(w, "usage: simrun %s %s [flags]\n\n%s\n", name, c.args, c.doc)
		}
	}
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprintf(w, "\nflags:\n")
			first = false
		}
		kind, doc := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		head := "  " + dash + f.Name
		if kind != "" && dash == "-" {
			head += " " + kind
		} else if kind != "" {
			head += "=" + kind
		}
		fmt.Fprintf(w, "%s\n      %s", head, doc)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && !strings.Contains(doc, "(default") {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// wantsHelp reports whether args ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// Run runs the command on args (without the program name) and returns the
// exit status.
func (c *Command) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if err := c.validate(); err != nil {
		fmt.Fprintf(stderr, "simrun: %v\n", err)
		return exitUsage
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	if len(args) > 1 && wantsHelp(args[1:]) && args[0] != "help" {
		return c.help(ctx, args[0], stdout, stderr)
	}
	if wantsJSON(args[1:]) {
		return c.dispatchJSON(ctx, args, stdout, stderr)
	}
	return c.dispatch(ctx, args, stdout, stderr)
}

// dispatchJSON runs a subcommand asked for JSON so that whatever happens
// stdout holds one JSON value: when the command ends in an error before
// printing its own, the error goes there too, as {"error": ..., "exit":
// status}, besides stderr.
func (c *Command) dispatchJSON(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out := &countingWriter{w: stdout}
	var said strings.Builder
	code := c.dispatch(ctx, args, out, io.MultiWriter(stderr, &said))
	if code == exitPass || out.n > 0 {
		return code
	}
	var msgs []string
	for _, l := range strings.Split(strings.TrimSpace(said.String()), "\n") {
		if l = strings.TrimPrefix(l, "simrun "+args[0]+": "); l != "" {
			msgs = append(msgs, strings.TrimPrefix(l, "simrun: "))
		}
	}
	if len(msgs) == 0 {
		msgs = append(msgs, fmt.Sprintf("simrun %s ended with status %d", args[0], code))
	}
	json.NewEncoder(stdout).Encode(struct {
		Error string `json:"error"`
		Exit  int    `json:"exit"`
	}{strings.Join(msgs, "; "), code})
	return code
}

// countingWriter counts what goes through it.
type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// wantsJSON reports whether args set --json before any "--".
func wantsJSON(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "json" {
			continue
		}
		if !hasVal {
			return true
		}
		b, err := strconv.ParseBool(val)
		return err == nil && b
	}
	return false
}

// dispatch runs the subcommand args[0] on the rest of args; a command
// interrupted by a signal (see interruptible) exits with 128 plus its
// number.
func (c *Command) dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	code := c.subcommand(ctx, args, stdout, stderr)
	if code == exitInterrupted {
		code = interruptedStatus(ctx)
	}
	return code
}

func (c *Command) subcommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch args[0] {
	case "list":
		return c.listCmd(args[1:], stdout, stderr)
	case "explore":
		return c.exploreCmd(ctx, args[1:], stdout, stderr)
	case "check":
		return c.checkCmd(ctx, args[1:], stdout, stderr)
	case "strategies":
		return c.strategiesCmd(ctx, args[1:], stdout, stderr)
	case "replay":
		return c.replayCmd(ctx, args[1:], stdout, stderr)
	case "shrink":
		return c.shrinkCmd(ctx, args[1:], stdout, stderr)
	case "corpus":
		return c.corpusCmd(args[1:], stdout, stderr)
	case "compare":
		return c.compareCmd(ctx, args[1:], stdout, stderr)
	case "litmus":
		return c.litmusCmd(ctx, args[1:], stdout, stderr)
	case "merge":
		return c.mergeCmd(ctx, args[1:], stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		if len(args) == 2 {
			return c.help(ctx, args[1], stdout, stderr)
		}
		fmt.Fprintln(stdout, usage)
		return exitPass
	}
	fmt.Fprintf(stderr, "simrun: unknown command %q (want list, explore, merge, check, strategies, replay, shrink, corpus, litmus, bench or compare)\n", args[0])
	return exitUsage
}

// help prints the help of command cmd to stdout: the command parses its
// flags and, asked for help, prints it where its errors would go.
func (c *Command) help(ctx context.Context, cmd string, stdout, stderr io.Writer) int {
	if !slices.ContainsFunc(commands, func(e commandDoc) bool { return e.name == cmd }) {
		return c.dispatch(ctx, []string{cmd}, stdout, stderr) // an unknown command, said as such
	}
	c.dispatch(ctx, []string{cmd, "--help"}, io.Discard, stdout)
	return exitPass
}

// listCmd lists the scenarios, or describes one.
func (c *Command) listCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("list")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(stderr, "list", err)
	}
	if *asJSON {
		return c.listJSON(pos, stdout, stderr)
	}
	if len(pos) > 0 {
		return c.describe(pos, stdout, stderr)
	}
	return c.list(stdout)
}

type scenarioJSON struct {
	Name    string      `json:"name"`
	Summary string      `json:"summary"`
	Fails   bool        `json:"known_to_fail"`
	Params  []paramJSON `json:"params"`
}

type paramJSON struct {
	Name    string   `json:"name"`
	Doc     string   `json:"doc"`
	Default string   `json:"default"`
	Min     int      `json:"min"`
	Max     int      `json:"max"`
	Choices []string `json:"choices,omitempty"`
}

// listJSON prints every scenario, or the one named, as JSON.
func (c *Command) listJSON(pos []string, stdout, stderr io.Writer) int {
	desc := func(s *scenario.Scenario) scenarioJSON {
		sj := scenarioJSON{Name: s.Name, Summary: s.Summary, Fails: s.Fails, Params: []paramJSON{}}
		for _, p := range s.Params {
			sj.Params = append(sj.Params, paramJSON{p.Name, p.Doc, p.Default, p.Min, p.Max, p.Choices})
		}
		return sj
	}
	enc := json.NewEncoder(stdout)
	switch len(pos) {
	case 0:
		all := []scenarioJSON{}
		for _, s := range c.Scenarios {
			all = append(all, desc(s))
		}
		enc.Encode(struct {
			Scenarios []scenarioJSON `json:"scenarios"`
		}{all})
	case 1:
		s, err := c.Scenarios.Lookup(pos[0])
		if err != nil {
			return usageError(stderr, "list", err)
		}
		enc.Encode(desc(s))
	default:
		return usageError(stderr, "list", errors.New("want at most one scenario name"))
	}
	return exitPass
}

func (c *Command) list(w io.Writer) int {
	for _, s := range c.Scenarios {
		expect := "must pass"
		if s.Fails {
			expect = "known to fail"
		}
		var params []string
		for _, p := range s.Params {
			params = append(params, p.Name+"="+p.Default)
		}
		fmt.Fprintf(w, "%-18s %-42s %s; %s\n", s.Name, strings.Join(params, " "), s.Summary, expect)
	}
	return exitPass
}

// describe prints one scenario's parameters: meaning, default and range.
func (c *Command) describe(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		return usageError(stderr, "list", errors.New("want at most one scenario name"))
	}
	s, err := c.Scenarios.Lookup(args[0])
	if err != nil {
		return usageError(stderr, "list", err)
	}
	expect := "must pass"
	if s.Fails {
		expect = "known to fail"
	}
	fmt.Fprintf(stdout, "%s: %s (%s)\n", s.Name, s.Summary, expect)
	for _, p := range s.Params {
		values := fmt.Sprintf("%d..%d", p.Min, p.Max)
		if len(p.Choices) > 0 {
			values = strings.Join(p.Choices, "|")
		}
		fmt.Fprintf(stdout, "  --set %-10s %s (default %s; %s)\n", p.Name+"=", p.Doc, p.Default, values)
	}
	return exitPass
}

// runFlags are the flags of the commands that run a scenario's schedules
// and save a failing one (explore, check).
type runFlags struct {
	maxSteps *int
	out      *string
	asJSON   *bool
	trace    *string
	cover    *bool
	set      setFlags
}

func addRunFlags(fs *flag.FlagSet, defaultOut string) *runFlags {
	rf := &runFlags{
		maxSteps: fs.Int("max-steps", sim.DefaultMaxSteps, "step budget of one run"),
		out:      fs.String("o", "", "schedule `FILE` to write on failure (default "+defaultOut+", with a hash of the values when --set changes them; numbered rather than written over another file)"),
		asJSON:   fs.Bool("json", false, "print one JSON object"),
		trace:    fs.String("trace", "", "on failure, replay the saved schedule and print its interleaving: `mode` lines or columns"),
		cover:    fs.Bool("cover", false, "report the scheduling points reached and the races seen in both orders"),
	}
	fs.Var(&rf.set, "set", "scenario parameter `key=value` (repeatable)")
	return rf
}

// parseRun parses args and checks the run flags: it returns the scenario
// and values they name.
func (c *Command) parseRun(fs *flag.FlagSet, rf *runFlags, args []string) (*scenario.Scenario, scenario.Values, error) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if *rf.cover && *rf.asJSON {
		return nil, nil, errors.New("--cover reports in text only: drop --json")
	}
	s, v, err := c.scenarioArg(pos, rf.set)
	if err != nil {
		return nil, nil, err
	}
	if err := checkTrace(*rf.trace); err != nil {
		return nil, nil, err
	}
	if *rf.maxSteps < 1 || *rf.maxSteps > schedule.MaxDecisions {
		return nil, nil, fmt.Errorf("--max-steps=%d: want 1..%d", *rf.maxSteps, schedule.MaxDecisions)
	}
	return s, v, nil
}

// scenarioArg is the one scenario named by the positional arguments,
// with the values --set gives it.
func (c *Command) scenarioArg(pos, set []string) (*scenario.Scenario, scenario.Values, error) {
	if len(pos) != 1 {
		return nil, nil, errors.New("want exactly one scenario name (simrun list shows them)")
	}
	s, err := c.Scenarios.Lookup(pos[0])
	if err != nil {
		return nil, nil, err
	}
	v, err := s.Values(set)
	return s, v, err
}

// setFlags collects repeated --set key=value.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// parseInterleaved parses flags that may come before or after the
// positional arguments, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, helpError{fs}
			}
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func usageError(stderr io.Writer, cmd string, err error) int {
	var h helpError
	if errors.As(err, &h) {
		writeHelp(stderr, h.fs)
	} else {
		fmt.Fprintf(stderr, "simrun %s: %v\n", cmd, err)
	}
	return exitUsage
}

type failureJSON struct {
	Kind          string `json:"kind"`
	Message       string `json:"message"`
	Run           *int   `json:"run,omitempty"`
	Step          int    `json:"step"`
	CPU           int    `json:"cpu"`
	Context       string `json:"context,omitempty"`
	Source        string `json:"source,omitempty"`
	Schedule      string `json:"schedule,omitempty"`
	Visualisation string `json:"visualisation,omitempty"`
	// Trace is the failing run's events, with --trace and --json.
	Trace []trace.EventJSON `json:"trace,omitempty"`
}

// failingTrace is the events of the failing run f records, replayed, for
// --json with --trace; nil if the replay does not give them.
func failingTrace(ctx context.Context, sc *scenario.Scenario, f *schedule.File) []trace.EventJSON {
	rep, err := explore.ReplayUntil(ctx.Done(), sc, f, true)
	if err != nil {
		return nil
	}
	return trace.JSON(rep.Trace, trace.Options{})
}

func toJSON(f *sim.Failure) *failureJSON {
	if f == nil {
		return nil
	}
	return &failureJSON{Kind: f.Kind, Message: f.Message, Step: f.Step, CPU: f.CPU, Context: f.Context, Source: f.Source}
}

func (c *Command) exploreCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("explore")
	strategy := fs.String("strategy", explore.Mix, "`strategy`: mix (random, PCT and POS in turn), random, pct or pos")
	seed := fs.Uint64("seed", 1, "seed of the exploration")
	runs := fs.Int("runs", 100_000, "at most this many runs (0: no limit)")
	budget := fs.Duration("time", 60*time.Second, "at most this long (0: no limit)")
	depth := fs.Int("depth", 3, "PCT depth")
	workers := fs.Int("workers", runtime.NumCPU(), "runs at once, each on a machine of its own (the answer does not depend on it)")
	shardFlag := fs.String("shard", "", "explore only share I of N of the run numbers: `I/N`, I a number or the environment variable holding it (JOB_COMPLETION_INDEX/8)")
	record := fs.String("record", "", "write the exploration's result for simrun merge to this `FILE` (default with --shard: SCENARIO-seedN-shardI-of-N.json)")
	rf := addRunFlags(fs, "SCENARIO-seedN.sched")
	maxSteps, out, asJSON, trace, coverage := rf.maxSteps, rf.out, rf.asJSON, rf.trace, rf.cover
	s, v, err := c.parseRun(fs, rf, args)
	if err != nil {
		return usageError(stderr, "explore", err)
	}
	cfg := explore.Config{
		Scenario: s, Values: v, Strategy: *strategy, Seed: *seed, Depth: *depth,
		Runs: *runs, Time: *budget, Options: scenario.Options{MaxSteps: *maxSteps},
		Workers: *workers,
	}
	if *workers < 1 {
		return usageError(stderr, "explore", fmt.Errorf("--workers=%d: want at least 1", *workers))
	}
	if flagGiven(fs, "depth") && *strategy != explore.PCT {
		// mix runs PCT at depths of its own; random and pos have none.
		return usageError(stderr, "explore", fmt.Errorf("--depth=%d applies to --strategy=pct only, not %s", *depth, *strategy))
	}
	recordPath := *record
	if *shardFlag != "" {
		if cfg.Shard, err = parseShard(*shardFlag); err != nil {
			return usageError(stderr, "explore", err)
		}
		if recordPath == "" {
			recordPath = defaultName(s, s.Set(v), fmt.Sprintf("-seed%d-shard%d-of-%d.json", *seed, cfg.Shard.Index, cfg.Shard.Count))
		}
	}
	cfg.Log = recordPath != ""
	if err := cfg.Validate(); err != nil {
		return usageError(stderr, "explore", err)
	}
	path := *out
	if path == "" {
		path = defaultName(s, s.Set(v), fmt.Sprintf("-seed%d.sched", *seed))
	}
	var cv *sim.Coverage
	if *coverage {
		cv = sim.NewCoverage()
		cfg.Options.Cover = cv
	}
	prog := newProgress(stderr, *asJSON)
	cfg.Progress = prog.update
	res, err := explore.Explore(ctx, cfg)
	prog.clear()
	if cv != nil {
		defer writeCover(stdout, cv, s)
	}
	if err != nil {
		fmt.Fprintf(stderr, "simrun explore: %v\n", err)
		return exitUsage
	}
	code := exitPass
	var fj *failureJSON
	if res.Failure != nil {
		code = exitFailure
		fj = saveFailure("explore", path, *out != "", res.Schedule, res.Failure, stderr)
		fj.Run = &res.FailRun
		if *asJSON && *trace != "" {
			fj.Trace = failingTrace(ctx, s, res.Schedule)
		}
	} else if res.Interrupted {
		code = exitInterrupted
	}
	if recordPath != "" {
		if err := writeShard(recordPath, cfg, res); err != nil {
			fmt.Fprintf(stderr, "simrun explore: %v\n", err)
			if code == exitPass {
				code = exitUsage
			}
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.Encode(struct {
			Scenario    string            `json:"scenario"`
			Params      map[string]string `json:"params"`
			Strategy    string            `json:"strategy"`
			Seed        uint64            `json:"seed"`
			Depth       int               `json:"depth,omitempty"`
			Runs        int               `json:"runs"`
			Steps       int64             `json:"steps"`
			ElapsedMS   int64             `json:"elapsed_ms"`
			Interrupted bool              `json:"interrupted,omitempty"`
			Costs       sim.Costs         `json:"costs"`
			PerUnit     *explore.PerUnit  `json:"costs_per_unit,omitempty"`
			Failure     *failureJSON      `json:"failure"`
		}{s.Name, v, *strategy, *seed, pctDepth(*strategy, *depth), res.Runs, res.Steps, res.Elapsed.Milliseconds(), res.Interrupted, res.Costs, res.PerUnit(), fj})
		return code
	}
	stats := fmt.Sprintf("%d runs, %d steps in %v (%s steps/s)", res.Runs, res.Steps, roundDuration(res.Elapsed), rate(res.Steps, res.Elapsed))
	if cfg.Shard.Count > 0 {
		stats += fmt.Sprintf(" of shard %d/%d", cfg.Shard.Index, cfg.Shard.Count)
	}
	switch {
	case res.Failure != nil:
		fmt.Fprintf(stdout, "FAIL %s (%s, %s seed=%d)\n", s.Name, s.String(v), *strategy, *seed)
		fmt.Fprintln(stdout, explore.Describe(res.Failure))
		fmt.Fprintf(stdout, "found in run %d after %s\n", res.FailRun, stats)
		if res.Interrupted {
			fmt.Fprintf(stdout, "interrupted before every run below %d had ended: a lower run may fail too\n", res.FailRun)
		}
		if replayed, ok := c.tellSaved(ctx, fj, *trace, stdout, stderr); ok {
			return replayed
		}
	case res.Interrupted:
		fmt.Fprintf(stdout, "interrupted: no failure in %s\n", stats)
	case cfg.Shard.Count > 0:
		fmt.Fprintf(stdout, "no failure in %s; the exploration's answer is simrun merge of every shard's record\n", stats)
	default:
		fmt.Fprintf(stdout, "PASS %s: no failure in %s\n", s.Name, stats)
	}
	if pu := res.PerUnit(); pu != nil {
		fmt.Fprintf(stdout, "costs per alloc+free pair: %.2f atomic RMW, %.2f barriers, %.2f slab calls, %.2f bh/preempt/irq toggles\n",
			pu.Atomics, pu.Barriers, pu.Slab, pu.Toggles)
	}
	return code
}

// defaultName is the name of a command's output for scenario s when -o
// gives none: the scenario's name, a short hash of the parameters when
// they are not the defaults (so that runs with other values do not take
// each other's names), then what tells this output apart (-seed1.sched).
func defaultName(s *scenario.Scenario, params []string, rest string) string {
	def, err := s.Values(nil)
	if err == nil && slices.Equal(s.Set(def), params) {
		return s.Name + rest
	}
	return fmt.Sprintf("%s-%08x%s", s.Name, crc32.ChecksumIEEE([]byte(strings.Join(params, " "))), rest)
}

// freshName is path, unless path holds something other than data: then
// the first of its numbered variants (x-2.sched, x-3.sched, ...) that is
// free or holds data already. A command never writes a finding over a
// file it did not name with -o; the same finding again keeps its name.
func freshName(path string, data []byte) string {
	ext := filepath.Ext(path)
	stem := strings.TrimSuffix(path, ext)
	for n := 1; ; n++ {
		p := path
		if n > 1 {
			p = fmt.Sprintf("%s-%d%s", stem, n, ext)
		}
		old, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && bytes.Equal(old, data)) {
			return p
		}
		if err != nil || n > 10_000 {
			// Not a name another file holds (a folder in the way, a
			// name too long): let the write say what is wrong.
			return path
		}
	}
}

// saveFailure writes a failing schedule before anything else is said: to
// path when -o named it, else to a fresh name from path (see freshName);
// and its visualisation beside it. The failure's JSON names both (no
// schedule when it could not be written).
func saveFailure(cmd, path string, named bool, f *schedule.File, failure *sim.Failure, stderr io.Writer) *failureJSON {
	data := f.Encode()
	if !named {
		path = freshName(path, data)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		fmt.Fprintf(stderr, "simrun %s: cannot save the failing schedule: %v\n", cmd, err)
		path = ""
	}
	fj := toJSON(failure)
	fj.Schedule = path
	fj.Visualisation = attach(failure, path, stderr)
	return fj
}

// tellSaved says where the failing schedule and its visualisation are,
// and how to replay it; with a trace mode it replays it, reporting the
// replay's exit status and true.
func (c *Command) tellSaved(ctx context.Context, fj *failureJSON, trace string, stdout, stderr io.Writer) (int, bool) {
	if fj.Schedule == "" {
		return 0, false
	}
	fmt.Fprintf(stdout, "schedule saved to %s\n", fj.Schedule)
	if fj.Visualisation != "" {
		fmt.Fprintf(stdout, "visualisation: %s\n", fj.Visualisation)
	}
	if trace == "" {
		fmt.Fprintf(stdout, "replay it: simrun replay %s --trace=columns\n", fj.Schedule)
		return 0, false
	}
	fmt.Fprintf(stdout, "\nreplaying %s:\n\n", fj.Schedule)
	// The failure is found and saved: its replay runs to its end even
	// after an interrupt, and the failure's status stands.
	code := c.replayCmd(context.WithoutCancel(ctx), []string{fj.Schedule, "--trace=" + trace}, stdout, stderr)
	return code, true
}

// writeCover prints the coverage report of an exploration of s.
func writeCover(w io.Writer, cv *sim.Coverage, s *scenario.Scenario) {
	fmt.Fprintln(w)
	cover.Write(w, cv.Runs(), cover.Report(cv, []string{s.WorkloadDir()}))
}

func pctDepth(strategy string, depth int) int {
	if strategy == explore.PCT {
		return depth
	}
	return 0
}

// roundDuration keeps about three significant figures: 138µs, 2.31s.
func roundDuration(d time.Duration) time.Duration {
	for unit := time.Nanosecond; unit < time.Second; unit *= 10 {
		if d < unit*1000 {
			return d.Round(unit)
		}
	}
	return d.Round(10 * time.Millisecond)
}

func rate(steps int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	r := float64(steps) / d.Seconds()
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.1fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.0fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

func (c *Command) replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("replay")
	mode := fs.String("trace", "", "print the interleaving: `mode` lines, columns (operations no other CPU interleaved with, and repeated spin iterations, folded to a line) or full (columns, nothing folded)")
	from := fs.Int("from", 0, "show the trace from this step on")
	to := fs.Int("to", 0, "show the trace up to this step (0: the end)")
	cpus := fs.String("cpu", "", "show only these CPUs' events: a comma-separated `list` of CPU numbers (the failure and machine-wide lines always show)")
	width := fs.Int("width", trace.DefaultWidth, "lay the columns out for a page this many characters wide")
	htmlOut := fs.String("html", "", "write the run's timeline to `FILE`: one self-contained page, a lane per CPU")
	perfettoOut := fs.String("perfetto", "", "write the run's timeline to `FILE` in the Chrome trace event format, which Perfetto (ui.perfetto.dev) and chrome://tracing open")
	asJSON := fs.Bool("json", false, "print one JSON object (with --trace, its events too)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(stderr, "replay", err)
	}
	if len(pos) != 1 {
		return usageError(stderr, "replay", errors.New("want exactly one schedule file"))
	}
	if err := checkTrace(*mode); err != nil {
		return usageError(stderr, "replay", err)
	}
	view, err := traceOptions(*from, *to, *cpus, *width)
	if err != nil {
		return usageError(stderr, "replay", err)
	}
	path := pos[0]
	f, sc, code := c.readSchedule(path, "replay", stderr)
	if f == nil {
		return code
	}
	rep, err := explore.ReplayUntil(ctx.Done(), sc, f, *mode != "" || *htmlOut != "" || *perfettoOut != "")
	if errors.Is(err, explore.ErrWatchdog) {
		fmt.Fprintf(stderr, "simrun replay: %s: %v\n", path, err)
		return exitHost
	}
	if errors.Is(err, explore.ErrInterrupted) {
		fmt.Fprintf(stderr, "simrun replay: %s: %v\n", path, err)
		return exitInterrupted
	}
	if err != nil {
		return usageError(stderr, "replay", fmt.Errorf("%s: %w", path, err))
	}
	code = exitPass
	vis := ""
	if rep.Failure != nil {
		code = exitFailure
		vis = attach(rep.Failure, path, stderr)
	}
	view.CPUs = rep.CPUs
	page := trace.Page{Title: f.Scenario + " (" + strings.Join(f.Params, " ") + ")", CPUs: rep.CPUs}
	if rep.Failure != nil {
		page.Failure = explore.Describe(rep.Failure)
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer, []sim.Event, trace.Page) error
	}{{*htmlOut, trace.HTML}, {*perfettoOut, trace.Perfetto}} {
		if out.path == "" {
			continue
		}
		if err := writeFile(out.path, func(w io.Writer) error { return out.write(w, rep.Trace, page) }); err != nil {
			fmt.Fprintf(stderr, "simrun replay: %v\n", err)
			return exitUsage
		}
	}
	if *asJSON {
		var rec *recordedJSON
		if fl := f.Failure; fl != nil {
			rec = &recordedJSON{fl.Kind, fl.Message, fl.Step, fl.Site}
		}
		var events []trace.EventJSON
		if *mode != "" {
			events = trace.JSON(rep.Trace, view)
		}
		json.NewEncoder(stdout).Encode(struct {
			Schedule   string            `json:"schedule"`
			Scenario   string            `json:"scenario"`
			Steps      int               `json:"steps"`
			Failure    *failureJSON      `json:"failure"`
			Recorded   *recordedJSON     `json:"recorded"`
			Reproduced bool              `json:"reproduced"`
			Trace      []trace.EventJSON `json:"trace,omitempty"`
		}{path, f.Scenario, rep.Steps, withVis(toJSON(rep.Failure), vis), rec, rep.Reproduced, events})
		return code
	}
	switch *mode {
	case "lines":
		trace.Lines(stdout, rep.Trace, view)
		fmt.Fprintln(stdout)
	case "columns", "full":
		view.Full = *mode == "full"
		trace.Columns(stdout, rep.Trace, view)
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "replayed %s: scenario %s (%s), %d steps\n", path, f.Scenario, strings.Join(f.Params, " "), rep.Steps)
	switch {
	case rep.Failure == nil:
		fmt.Fprintln(stdout, "PASS: the run completes without failure")
		if f.Failure != nil {
			fmt.Fprintf(stdout, "(the file recorded %s: %s)\n", f.Failure.Kind, f.Failure.Message)
		}
	case rep.Reproduced:
		fmt.Fprintln(stdout, "FAIL (reproduces the recorded failure)")
		fmt.Fprintln(stdout, explore.Describe(rep.Failure))
	default:
		fmt.Fprintln(stdout, "FAIL (differs from what the file recorded)")
		fmt.Fprintln(stdout, explore.Describe(rep.Failure))
	}
	if vis != "" {
		fmt.Fprintf(stdout, "visualisation: %s\n", vis)
	}
	return code
}

func checkTrace(mode string) error {
	if mode != "" && mode != "lines" && mode != "columns" && mode != "full" {
		return fmt.Errorf("--trace=%s: want lines, columns or full", mode)
	}
	return nil
}

// writeFile writes path with write, whole or not at all.
func writeFile(path string, write func(io.Writer) error) error {
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// traceOptions are the replay's --from, --to, --cpu and --width, checked.
func traceOptions(from, to int, cpus string, width int) (trace.Options, error) {
	o := trace.Options{From: from, To: to, Width: width}
	switch {
	case from < 0 || to < 0:
		return o, fmt.Errorf("--from and --to are steps: want 0 or more, got %d and %d", from, to)
	case to > 0 && from > to:
		return o, fmt.Errorf("--from=%d is after --to=%d", from, to)
	case width < 40:
		return o, fmt.Errorf("--width=%d: want at least 40", width)
	}
	if cpus != "" {
		o.Only = []int{}
		for _, s := range strings.Split(cpus, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 0 {
				return o, fmt.Errorf("--cpu=%s: want CPU numbers separated by commas", cpus)
			}
			if !slices.Contains(o.Only, n) {
				o.Only = append(o.Only, n)
			}
		}
		slices.Sort(o.Only)
	}
	return o, nil
}

// attach writes a failure's supplementary material (a linearizability
// visualisation) next to the schedule file, and returns its path.
func attach(f *sim.Failure, schedPath string, stderr io.Writer) string {
	if f.Attach == nil || schedPath == "" {
		return ""
	}
	path := strings.TrimSuffix(schedPath, filepath.Ext(schedPath)) + ".html"
	if err := f.Attach(path); err != nil {
		fmt.Fprintf(stderr, "simrun: %v\n", err)
		return ""
	}
	return path
}

func withVis(f *failureJSON, vis string) *failureJSON {
	if f != nil {
		f.Visualisation = vis
	}
	return f
}

func (c *Command) shrinkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("shrink")
	out := fs.String("o", "", "`FILE` to write the shrunk schedule to (default FILE with .min.sched, numbered rather than written over another file)")
	budget := fs.Duration("time", 30*time.Second, "stop shrinking after this long (0: no limit)")
	attempts := fs.Int("attempts", shrink.DefaultAttempts, "replays at most")
	workers := fs.Int("workers", runtime.NumCPU(), "goroutines for a smaller workload's re-search (the result does not depend on it)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(stderr, "shrink", err)
	}
	if len(pos) != 1 {
		return usageError(stderr, "shrink", errors.New("want exactly one schedule file"))
	}
	if *attempts < 1 || *budget < 0 {
		return usageError(stderr, "shrink", fmt.Errorf("--attempts=%d --time=%v: want a positive budget", *attempts, *budget))
	}
	if *workers < 1 {
		return usageError(stderr, "shrink", fmt.Errorf("--workers=%d: want at least 1", *workers))
	}
	path := pos[0]
	f, sc, code := c.readSchedule(path, "shrink", stderr)
	if f == nil {
		return code
	}
	res, err := shrink.Shrink(sc, f, shrink.Budget{Time: *budget, Attempts: *attempts, Workers: *workers, Stop: ctx.Done()})
	if errors.Is(err, explore.ErrInterrupted) {
		fmt.Fprintf(stderr, "simrun shrink: %s: %v\n", path, err)
		return exitInterrupted
	}
	if err != nil {
		return usageError(stderr, "shrink", fmt.Errorf("%s: %w", path, err))
	}
	code = exitPass
	if res.Interrupted {
		code = exitInterrupted // the smallest found so far is saved all the same
	}
	dst, data := *out, res.File.Encode()
	if dst == "" {
		dst = freshName(strings.TrimSuffix(path, filepath.Ext(path))+".min.sched", data)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		fmt.Fprintf(stderr, "simrun shrink: %v\n", err)
		return exitUsage
	}
	if *asJSON {
		fl := res.File.Failure
		json.NewEncoder(stdout).Encode(struct {
			Schedule    string       `json:"schedule"`
			Saved       string       `json:"saved"`
			Scenario    string       `json:"scenario"`
			Failure     recordedJSON `json:"failure"`
			Before      shrunkJSON   `json:"before"`
			After       shrunkJSON   `json:"after"`
			Attempts    int          `json:"attempts"`
			Complete    bool         `json:"complete"`
			Interrupted bool         `json:"interrupted,omitempty"`
		}{path, dst, res.File.Scenario, recordedJSON{fl.Kind, fl.Message, fl.Step, fl.Site}, shrunkJSON(res.Before), shrunkJSON(res.After), res.Attempts, res.Complete, res.Interrupted})
		return code
	}
	fmt.Fprintf(stdout, "shrunk %s: %s: %s\n", path, res.File.Failure.Kind, res.File.Failure.Message)
	fmt.Fprintf(stdout, "  before: %v\n  after:  %v\n", res.Before, res.After)
	note := ""
	switch {
	case res.Interrupted:
		note = " (interrupted: the smallest found so far)"
	case !res.Complete:
		note = " (budget reached: more shrinking may be possible)"
	}
	fmt.Fprintf(stdout, "  %d replays%s\nsaved to %s\n", res.Attempts, note, dst)
	return code
}

// recordedJSON is a failure as a schedule file records it.
type recordedJSON struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Step    int    `json:"step"`
	Site    string `json:"site,omitempty"`
}

// shrunkJSON is a schedule's size, before or after shrinking.
type shrunkJSON struct {
	Steps       int    `json:"steps"`
	Switches    int    `json:"switches"`
	Preemptions int    `json:"preemptions"`
	Interrupts  int    `json:"interrupts"`
	Params      string `json:"params"`
}

// readSchedule reads a schedule file, or a Go fuzz corpus file of one of
// the fuzz targets (turned into the schedule of the run it makes), and
// finds its scenario, or reports why it cannot.
func (c *Command) readSchedule(path, cmd string, stderr io.Writer) (*schedule.File, *scenario.Scenario, int) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usageError(stderr, cmd, err)
	}
	var f *schedule.File
	if fuzz.IsCorpus(data) {
		// The target is the name of the file's folder, however the path
		// was written ("crash" from inside that folder, say).
		dir := filepath.Dir(path)
		if abs, err := filepath.Abs(path); err == nil {
			dir = filepath.Dir(abs)
		}
		f, err = fuzz.FromCorpus(c.Targets, filepath.Base(dir), data)
	} else {
		f, err = schedule.Decode(data)
	}
	if err != nil {
		return nil, nil, usageError(stderr, cmd, fmt.Errorf("%s: %w", path, err))
	}
	s, err := c.Scenarios.Lookup(f.Scenario)
	if err != nil {
		return nil, nil, usageError(stderr, cmd, fmt.Errorf("%s: %w", path, unknownScenario(f, path)))
	}
	return f, s, exitPass
}

// unknownScenario says how to replay a file of a scenario this command
// was not built with: from the test that wrote it, when its found-by line
// names one, or with a command built with that scenario.
func unknownScenario(f *schedule.File, path string) error {
	how := fmt.Sprintf("build a simrun with it (func main() { simrun.Main(scenarios...) }) and run its replay %s", path)
	if test, ok := strings.CutPrefix(f.FoundBy, "go test "); ok {
		test, _, _ = strings.Cut(test, " ")
		how = fmt.Sprintf("replay it from the test that wrote it: go test -run '^%s$' -lfsim.replay=%s -lfsim.trace=columns; or %s", test, path, how)
	}
	return fmt.Errorf("scenario %q is not built into this simrun; %s", f.Scenario, how)
}

func (c *Command) corpusCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("corpus")
	out := fs.String("o", "", "`FILE` to write the corpus entry to (default testdata/fuzz/<Target>/<name of FILE>, numbered rather than written over another file)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(stderr, "corpus", err)
	}
	if len(pos) != 1 {
		return usageError(stderr, "corpus", errors.New("want exactly one schedule file"))
	}
	f, _, code := c.readSchedule(pos[0], "corpus", stderr)
	if f == nil {
		return code
	}
	t, err := fuzz.For(c.Targets, f)
	if err != nil {
		return usageError(stderr, "corpus", err)
	}
	data, err := t.Bytes(f)
	if err != nil {
		return usageError(stderr, "corpus", err)
	}
	dst := *out
	if dst == "" {
		base := filepath.Base(pos[0])
		dst = freshName(filepath.Join("testdata", "fuzz", t.Name, strings.TrimSuffix(base, filepath.Ext(base))), fuzz.Corpus(data))
	}
	if parent := filepath.Dir(dst); *out == "" || isCorpusDir(parent, t.Name) {
		// The target's corpus folder is made as go test -fuzz would; any
		// other folder -o names must exist, so that a mistyped one is
		// not made silently.
		if err := os.MkdirAll(parent, 0o755); err != nil {
			fmt.Fprintf(stderr, "simrun corpus: %v\n", err)
			return exitUsage
		}
	} else if fi, err := os.Stat(filepath.Dir(dst)); err != nil || !fi.IsDir() {
		return usageError(stderr, "corpus", fmt.Errorf("-o %s: no folder %s", dst, filepath.Dir(dst)))
	}
	if err := os.WriteFile(dst, fuzz.Corpus(data), 0o644); err != nil {
		fmt.Fprintf(stderr, "simrun corpus: %v\n", err)
		return exitUsage
	}
	if *asJSON {
		json.NewEncoder(stdout).Encode(struct {
			Schedule string `json:"schedule"`
			Wrote    string `json:"wrote"`
			Target   string `json:"target"`
			Bytes    int    `json:"bytes"`
		}{pos[0], dst, t.Name, len(data)})
		return exitPass
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes of decisions for %s): copy it under fuzz/testdata/fuzz/%s/ to make it a regression test\n", dst, len(data), t.Name, t.Name)
	return exitPass
}

// isCorpusDir reports whether dir is a corpus folder of target:
// .../testdata/fuzz/<target>.
func isCorpusDir(dir, target string) bool {
	fuzzDir := filepath.Dir(dir)
	return filepath.Base(dir) == target && filepath.Base(fuzzDir) == "fuzz" && filepath.Base(filepath.Dir(fuzzDir)) == "testdata"
}

// benchCmd runs the native benchmarks and prints the original's tables
// with our figures beside them.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench")
	benchtime := fs.Duration("benchtime", time.Second, "run each benchmark about this long")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(stderr, "bench", err)
	}
	if len(pos) != 0 || *benchtime <= 0 {
		return usageError(stderr, "bench", fmt.Errorf("want no arguments and a positive --benchtime (got %v)", *benchtime))
	}
	// testing.Benchmark reads the testing package's own flag.
	testing.Init()
	if err := flag.Set("test.benchtime", benchtime.String()); err != nil {
		return usageError(stderr, "bench", err)
	}
	prog := newProgress(stderr, false)
	// The benchmarks run apart, and the table is printed only when all
	// have: an interrupt ends the command at once, and the benchmark
	// going on ends where it stops to look.
	table := make(chan *bytes.Buffer, 1)
	go func() {
		var b bytes.Buffer
		if bench.Table(&b, func(name string) { prog.note(name) }, ctx.Done()) {
			table <- &b
		}
		close(table)
	}()
	select {
	case b, ok := <-table:
		prog.clear()
		if !ok {
			fmt.Fprintln(stderr, "simrun bench: interrupted")
			return exitInterrupted
		}
		stdout.Write(b.Bytes())
		return exitPass
	case <-ctx.Done():
		prog.clear()
		fmt.Fprintln(stderr, "simrun bench: interrupted")
		return exitInterrupted
	}
}
