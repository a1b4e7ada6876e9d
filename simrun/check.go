package simrun

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"

	"github.com/kernelsim/lfsim/exhaustive"
	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/sim"
)

// checkCmd runs every schedule of a scenario within bounds: a pass is a
// proof for those bounds, a failure is minimal in preemptions.
func (c *Command) checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check")
	preemptions := fs.Int("preemptions", 2, "most preemptions in a schedule (deepened from 0)")
	interrupts := fs.Int("interrupts", 1, "most interrupts fired while something else could run")
	failures := fs.Int("failures", -1, "most injected allocation failures (default: all the scenario allows)")
	executions := fs.Int("executions", 1_000_000, "stop after this many runs (0: no limit): the answer is then incomplete")
	noReduction := fs.Bool("no-reduction", false, "run every schedule, equivalent or not")
	workers := fs.Int("workers", runtime.NumCPU(), "goroutines searching at once, each on a machine of its own (the answer does not depend on it; 1 with --cover)")
	shardFlag := fs.String("shard", "", "search only part I of N of the tree: `I/N`, I a number or the environment variable holding it")
	record := fs.String("record", "", "write the part's result for simrun merge to this `FILE` (default with --shard: SCENARIO-check-partI-of-N.json)")
	rf := addRunFlags(fs, "SCENARIO-check.sched")
	maxSteps, out, asJSON, trace, coverage := rf.maxSteps, rf.out, rf.asJSON, rf.trace, rf.cover
	s, v, err := c.parseRun(fs, rf, args)
	if err != nil {
		return usageError(stderr, "check", err)
	}
	switch {
	case *preemptions < 0 || *interrupts < 0 || *failures < -1:
		return usageError(stderr, "check", fmt.Errorf("--preemptions=%d --interrupts=%d --failures=%d: bounds must not be negative", *preemptions, *interrupts, *failures))
	case *executions < 0:
		return usageError(stderr, "check", fmt.Errorf("--executions=%d: must not be negative", *executions))
	case *workers < 1:
		return usageError(stderr, "check", fmt.Errorf("--workers=%d: want at least 1", *workers))
	}
	if *coverage {
		if flagGiven(fs, "workers") && *workers > 1 {
			return usageError(stderr, "check", fmt.Errorf("--cover collects on one worker: drop --workers=%d", *workers))
		}
		*workers = 1
	}
	var part exhaustive.Part
	recordPath := *record
	if *shardFlag != "" {
		sh, err := parseShard(*shardFlag)
		if err != nil {
			return usageError(stderr, "check", err)
		}
		part = exhaustive.Part{Index: sh.Index, Count: sh.Count}
		if recordPath == "" {
			recordPath = defaultName(s, s.Set(v), fmt.Sprintf("-check-part%d-of-%d.json", part.Index, part.Count))
		}
	} else if recordPath != "" {
		return usageError(stderr, "check", errors.New("--record records a part of the search: give --shard too"))
	}
	if *failures < 0 {
		*failures = 0
		if s.AllocFailures != nil {
			*failures = s.AllocFailures(v)
		}
	}
	cfg := explore.CheckConfig{
		Scenario: s, Values: v, MaxExecutions: *executions, NoReduction: *noReduction,
		Bounds:  exhaustive.Bounds{Preemptions: *preemptions, Interrupts: *interrupts, Failures: *failures},
		Options: scenario.Options{MaxSteps: *maxSteps}, Workers: *workers, Part: part,
	}
	var cv *sim.Coverage
	if *coverage {
		cv = sim.NewCoverage()
		cfg.Options.Cover = cv
		defer writeCover(stdout, cv, s)
	}
	prog := newProgress(stderr, *asJSON)
	cfg.Progress = func(st exhaustive.Stats) {
		prog.line("%d runs (%d pruned) at preemption bound %d", st.Executions, st.Pruned, st.Bound)
	}
	res, err := explore.Check(ctx, cfg)
	prog.clear()
	if err != nil {
		fmt.Fprintf(stderr, "simrun check: %v\n", err)
		return exitUsage
	}
	path := *out
	if path == "" {
		path = defaultName(s, s.Set(v), "-check.sched")
	}
	code := exitPass
	var fj *failureJSON
	if res.Failure != nil {
		code = exitFailure
		fj = saveFailure("check", path, *out != "", res.Schedule, res.Failure, stderr)
		if *asJSON && *trace != "" {
			fj.Trace = failingTrace(ctx, s, res.Schedule)
		}
	} else if res.Interrupted {
		code = exitInterrupted
	} else if !res.Complete && part.Count == 0 {
		code = exitIncomplete
	}
	b := cfg.Bounds
	verdict := verdictOf(res.Result)
	if part.Count > 0 {
		return c.checkPartDone(ctx, cfg, res, recordPath, fj, code, *asJSON, *trace, stdout, stderr)
	}
	if *asJSON {
		json.NewEncoder(stdout).Encode(struct {
			Scenario    string            `json:"scenario"`
			Params      map[string]string `json:"params"`
			Verdict     string            `json:"verdict"`
			Bounds      exhaustive.Bounds `json:"bounds"`
			Bound       int               `json:"preemption_bound_reached"`
			Reduction   bool              `json:"reduction"`
			Executions  int               `json:"executions"`
			Pruned      int               `json:"pruned"`
			Cut         int               `json:"cut"`
			Steps       int64             `json:"steps"`
			Remaining   float64           `json:"estimated_remaining,omitempty"`
			Interrupted bool              `json:"interrupted,omitempty"`
			Spent       *exhaustive.Cost  `json:"failing_schedule_cost,omitempty"`
			Failure     *failureJSON      `json:"failure"`
		}{s.Name, v, verdict, b, res.Bound, !*noReduction, res.Executions, res.Pruned, res.Cut, res.Steps,
			res.Remaining, res.Interrupted, spentOf(res.Result), fj})
		return code
	}
	runs := fmt.Sprintf("%d executions (%d stopped early as equivalent to one explored, %d stopped at the bounds), %d steps", res.Executions, res.Pruned, res.Cut, res.Steps)
	switch {
	case res.Failure != nil:
		fmt.Fprintf(stdout, "FAIL %s (%s)\n", s.Name, s.String(v))
		fmt.Fprintln(stdout, explore.Describe(res.Failure))
		fmt.Fprintf(stdout, "found after %s; the schedule has %d preemptions, %d interrupts, %d allocation failures; with <= %d interrupts and <= %d allocation failures no schedule with fewer preemptions fails\n",
			runs, res.Spent.Preemptions, res.Spent.Interrupts, res.Spent.Failures, b.Interrupts, b.Failures)
		if replayed, ok := c.tellSaved(ctx, fj, *trace, stdout, stderr); ok {
			return replayed
		}
	case res.Complete:
		writePass(stdout, s, v, runs, b, res.Bound, res.Unbounded)
	default:
		est := "unknown"
		if res.Remaining >= 0 {
			est = fmt.Sprintf("about %.3g", res.Remaining)
		}
		upTo := "not complete at any preemption bound"
		if res.Bound > 0 {
			upTo = fmt.Sprintf("complete up to %d preemptions", res.Bound-1)
		}
		why := "the budget ran out"
		if res.Interrupted {
			why = "interrupted"
		}
		fmt.Fprintf(stdout, "INCOMPLETE %s (%s): no failure, but %s after %s; %s; preemption bound %d needs %s more executions\n",
			s.Name, s.String(v), why, runs, upTo, res.Bound, est)
	}
	return code
}

// writePass says what a complete search proved: within the bounds, or
// whatever the preemptions when no schedule was cut by their bound.
func writePass(w io.Writer, s *scenario.Scenario, v scenario.Values, runs string, b exhaustive.Bounds, bound int, unbounded bool) {
	if unbounded {
		fmt.Fprintf(w, "PASS %s (%s): complete: %s; no failure in any schedule with <= %d interrupts and <= %d allocation failures, whatever the preemptions (no schedule needed more than %d)\n",
			s.Name, s.String(v), runs, b.Interrupts, b.Failures, bound)
		return
	}
	fmt.Fprintf(w, "PASS %s (%s): complete: %s; no failure with <= %d preemptions, <= %d interrupts, <= %d allocation failures\n",
		s.Name, s.String(v), runs, b.Preemptions, b.Interrupts, b.Failures)
}

// checkPartDone records a part of a search and says what it did: no
// verdict, which only the merge of every part gives, unless it failed.
func (c *Command) checkPartDone(ctx context.Context, cfg explore.CheckConfig, res explore.Checked, recordPath string, fj *failureJSON, code int, asJSON bool, trace string, stdout, stderr io.Writer) int {
	p, err := explore.NewCheckPart(cfg, res)
	if err == nil {
		var data []byte
		if data, err = json.Marshal(p); err == nil {
			err = os.WriteFile(recordPath, append(data, '\n'), 0o644)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "simrun check: cannot record the part's result: %v\n", err)
		if code == exitPass {
			code = exitUsage
		}
	}
	searched := len(res.Levels) == cfg.Bounds.Preemptions+1 && !slices.ContainsFunc(res.Levels, func(l exhaustive.Level) bool { return l.Units < 0 })
	if code == exitPass && !searched {
		code = exitIncomplete
	}
	if asJSON {
		json.NewEncoder(stdout).Encode(struct {
			Scenario   string       `json:"scenario"`
			Part       string       `json:"part"`
			Searched   bool         `json:"searched"`
			Executions int          `json:"executions"`
			Probes     int          `json:"probes"`
			Steps      int64        `json:"steps"`
			Record     string       `json:"record"`
			Failure    *failureJSON `json:"failure"`
		}{cfg.Scenario.Name, fmt.Sprintf("%d/%d", cfg.Part.Index, cfg.Part.Count), searched, res.Executions, res.Probes, res.Steps, recordPath, fj})
		return code
	}
	runs := fmt.Sprintf("%d executions of its own (%d more to walk past the other parts' units), %d steps", res.Executions, res.Probes, res.Steps)
	switch {
	case res.Failure != nil:
		fmt.Fprintf(stdout, "FAIL %s (%s), in part %d/%d of the search\n", cfg.Scenario.Name, cfg.Scenario.String(cfg.Values), cfg.Part.Index, cfg.Part.Count)
		fmt.Fprintln(stdout, explore.Describe(res.Failure))
		fmt.Fprintf(stdout, "found after %s; whether it is the search's first, simrun merge of every part says\n", runs)
	case searched:
		fmt.Fprintf(stdout, "part %d/%d of the search of %s (%s): no failure in its share of every bound: %s; no verdict until every part is merged\n",
			cfg.Part.Index, cfg.Part.Count, cfg.Scenario.Name, cfg.Scenario.String(cfg.Values), runs)
	default:
		fmt.Fprintf(stdout, "INCOMPLETE part %d/%d of the search of %s: stopped after %s\n", cfg.Part.Index, cfg.Part.Count, cfg.Scenario.Name, runs)
	}
	fmt.Fprintf(stdout, "part recorded in %s\n", recordPath)
	if fj != nil {
		if replayed, ok := c.tellSaved(ctx, fj, trace, stdout, stderr); ok {
			return replayed
		}
	}
	return code
}

// flagGiven reports whether the command line set the named flag.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

func verdictOf(r exhaustive.Result) string {
	switch {
	case r.Failure != nil:
		return "fail"
	case r.Complete:
		return "complete"
	}
	return "incomplete"
}

func spentOf(r exhaustive.Result) *exhaustive.Cost {
	if r.Failure == nil {
		return nil
	}
	return &r.Spent
}
