package simrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/kernelsim/lfsim/exhaustive"
	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseShard reads --shard=I/N, where I is a number or the name of the
// environment variable that holds it (JOB_COMPLETION_INDEX in a
// Kubernetes Indexed Job, a CI matrix's index).
func parseShard(s string) (explore.Shard, error) {
	index, count, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n < 1 {
		return explore.Shard{}, fmt.Errorf("--shard=%s: want I/N, N a number of shards of at least 1", s)
	}
	from := ""
	if envName.MatchString(index) {
		from = " (from $" + index + ")"
		v, set := os.LookupEnv(index)
		if !set {
			return explore.Shard{}, fmt.Errorf("--shard=%s: the environment variable %s is not set", s, index)
		}
		index = strings.TrimSpace(v)
	}
	i, err := strconv.Atoi(index)
	if err != nil || i < 0 || i >= n {
		return explore.Shard{}, fmt.Errorf("--shard=%s: index %q%s: want a number from 0 to %d", s, index, from, n-1)
	}
	return explore.Shard{Index: i, Count: n}, nil
}

// writeShard records an exploration's result for simrun merge.
func writeShard(path string, cfg explore.Config, res explore.Outcome) error {
	r, err := explore.NewShardResult(cfg, res)
	if err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("cannot record the shard's result: %w", err)
	}
	return nil
}

// missingJSON is the first run number no shard ran.
type missingJSON struct {
	Shard string `json:"shard"`
	Run   int    `json:"run"`
}

// missingUnitJSON is the first unit of a check's tree no part searched.
type missingUnitJSON struct {
	Bound int `json:"bound"`
	Unit  int `json:"unit"`
}

// replayMerged replays the failing schedule a merge found, which must
// fail here as its shard recorded; otherwise it reports the exit status.
func replayMerged(ctx context.Context, s *scenario.Scenario, f *schedule.File, stderr io.Writer) (explore.Replayed, int, bool) {
	rep, err := explore.ReplayUntil(ctx.Done(), s, f, false)
	switch {
	case errors.Is(err, explore.ErrInterrupted):
		fmt.Fprintf(stderr, "simrun merge: the failing schedule: %v\n", err)
		return rep, exitInterrupted, false
	case errors.Is(err, explore.ErrWatchdog):
		fmt.Fprintf(stderr, "simrun merge: the failing schedule: %v\n", err)
		return rep, exitHost, false
	case err != nil:
		return rep, usageError(stderr, "merge", fmt.Errorf("the failing schedule: %w", err)), false
	case !rep.Reproduced:
		return rep, usageError(stderr, "merge", errors.New("the failing schedule does not fail here the way its shard recorded")), false
	}
	return rep, exitPass, true
}

// mergeCmd combines the results explore --shard recorded into the
// unsharded exploration's answer.
func (c *Command) mergeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("merge")
	out := fs.String("o", "", "schedule `FILE` to write the first failure to (default SCENARIO-seedN.sched)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	coverage := fs.Bool("cover", false, "report the shards' coverage (they must have collected it with --cover)")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(stderr, "merge", err)
	}
	if len(paths) == 0 {
		return usageError(stderr, "merge", errors.New("want the shards' result files"))
	}
	if *coverage && *asJSON {
		return usageError(stderr, "merge", errors.New("--cover reports in text only: drop --json"))
	}
	var rs []explore.ShardResult
	var cps []explore.CheckPart
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return usageError(stderr, "merge", err)
		}
		var head struct{ Format string }
		if err := json.Unmarshal(data, &head); err != nil {
			return usageError(stderr, "merge", fmt.Errorf("%s: not a shard's result: %w", p, err))
		}
		var dst any = &explore.ShardResult{}
		if head.Format == explore.CheckPartFormat {
			dst = &explore.CheckPart{}
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			return usageError(stderr, "merge", fmt.Errorf("%s: not a shard's result: %w", p, err))
		}
		switch r := dst.(type) {
		case *explore.ShardResult:
			rs = append(rs, *r)
		case *explore.CheckPart:
			cps = append(cps, *r)
		}
	}
	switch {
	case len(rs) > 0 && len(cps) > 0:
		return usageError(stderr, "merge", errors.New("some files are shards of an exploration and some parts of a check: merge each kind apart"))
	case len(cps) > 0:
		return c.mergeChecks(ctx, cps, *out, *asJSON, *coverage, stdout, stderr)
	}
	m, err := explore.Merge(rs)
	if err != nil {
		return usageError(stderr, "merge", err)
	}
	s, err := c.Scenarios.Lookup(rs[0].Scenario)
	if err != nil {
		return usageError(stderr, "merge", err)
	}
	v, err := s.ValuesOf(rs[0].Params)
	if err != nil {
		return usageError(stderr, "merge", err)
	}
	if *coverage && m.Cover == nil {
		return usageError(stderr, "merge", errors.New("--cover: the shards collected no coverage (explore them with --cover)"))
	}
	code := exitPass
	if !m.Complete {
		code = exitIncomplete
	}
	var fj *failureJSON
	var failure *sim.Failure
	if m.Schedule != nil {
		code = exitFailure
		rep, bad, ok := replayMerged(ctx, s, m.Schedule, stderr)
		if !ok {
			return bad
		}
		path := *out
		if path == "" {
			path = defaultName(s, m.Schedule.Params, fmt.Sprintf("-seed%d.sched", rs[0].Seed))
		}
		failure = rep.Failure
		fj = saveFailure("merge", path, *out != "", m.Schedule, failure, stderr)
		fj.Run = &m.FailRun
	}
	if *asJSON {
		var missing *missingJSON
		if m.Missing != nil {
			missing = &missingJSON{fmt.Sprintf("%d/%d", m.Missing.Shard.Index, m.Missing.Shard.Count), m.Missing.Run}
		}
		json.NewEncoder(stdout).Encode(struct {
			Scenario     string            `json:"scenario"`
			Params       map[string]string `json:"params"`
			Strategy     string            `json:"strategy"`
			Seed         uint64            `json:"seed"`
			Depth        int               `json:"depth,omitempty"`
			Shards       int               `json:"shards"`
			Runs         int               `json:"runs"`
			Steps        int64             `json:"steps"`
			Explored     int               `json:"explored"`
			Complete     bool              `json:"complete"`
			FirstFailure bool              `json:"first_failure,omitempty"`
			Missing      *missingJSON      `json:"missing,omitempty"`
			Costs        sim.Costs         `json:"costs"`
			PerUnit      *explore.PerUnit  `json:"costs_per_unit,omitempty"`
			Failure      *failureJSON      `json:"failure"`
		}{s.Name, v, rs[0].Strategy, rs[0].Seed, rs[0].Depth, m.Shards, m.Runs, m.Steps, m.Explored, m.Complete, m.FirstFailure, missing, m.Costs, m.PerUnit(), fj})
		return code
	}
	stats := fmt.Sprintf("%d runs, %d steps, merged from %d shards", m.Runs, m.Steps, m.Shards)
	label := fmt.Sprintf("%s seed=%d", rs[0].Strategy, rs[0].Seed)
	switch {
	case m.Schedule != nil:
		fmt.Fprintf(stdout, "FAIL %s (%s, %s)\n", s.Name, s.String(v), label)
		fmt.Fprintln(stdout, explore.Describe(failure))
		fmt.Fprintf(stdout, "found in run %d after %s\n", m.FailRun, stats)
	case m.Complete:
		fmt.Fprintf(stdout, "PASS %s: no failure in %s\n", s.Name, stats)
	default:
		fmt.Fprintf(stdout, "INCOMPLETE %s: no failure in %s\n", s.Name, stats)
	}
	if m.Missing != nil {
		what := "no failure below it"
		if m.Schedule != nil {
			what = "so run " + strconv.Itoa(m.FailRun) + " may not be the first failure"
		}
		fmt.Fprintf(stdout, "shard %d/%d did not run run %d: every run below %d was explored, %s\n",
			m.Missing.Shard.Index, m.Missing.Shard.Count, m.Missing.Run, m.Explored, what)
	}
	if fj != nil && fj.Schedule != "" {
		fmt.Fprintf(stdout, "schedule saved to %s\nreplay it: simrun replay %s --trace=columns\n", fj.Schedule, fj.Schedule)
	}
	if pu := m.PerUnit(); pu != nil {
		fmt.Fprintf(stdout, "costs per alloc+free pair: %.2f atomic RMW, %.2f barriers, %.2f slab calls, %.2f bh/preempt/irq toggles\n",
			pu.Atomics, pu.Barriers, pu.Slab, pu.Toggles)
	}
	if *coverage {
		writeCover(stdout, m.Cover, s)
	}
	return code
}

// mergeChecks combines the parts of an exhaustive search into its verdict.
func (c *Command) mergeChecks(ctx context.Context, ps []explore.CheckPart, out string, asJSON, coverage bool, stdout, stderr io.Writer) int {
	if coverage {
		return usageError(stderr, "merge", errors.New("--cover: a check's parts collect no coverage"))
	}
	m, err := explore.MergeChecks(ps)
	if err != nil {
		return usageError(stderr, "merge", err)
	}
	s, err := c.Scenarios.Lookup(ps[0].Scenario)
	if err != nil {
		return usageError(stderr, "merge", err)
	}
	v, err := s.Values(ps[0].Params)
	if err != nil {
		return usageError(stderr, "merge", err)
	}
	code := exitIncomplete
	switch {
	case m.Schedule != nil:
		code = exitFailure
	case m.Complete:
		code = exitPass
	}
	var fj *failureJSON
	var failure *sim.Failure
	if m.Schedule != nil {
		rep, bad, ok := replayMerged(ctx, s, m.Schedule, stderr)
		if !ok {
			return bad
		}
		failure = rep.Failure
		path := out
		if path == "" {
			path = defaultName(s, m.Schedule.Params, "-check.sched")
		}
		fj = saveFailure("merge", path, out != "", m.Schedule, failure, stderr)
	}
	verdict := "incomplete"
	switch {
	case m.Schedule != nil:
		verdict = "fail"
	case m.Complete:
		verdict = "complete"
	}
	b := m.Bounds
	if asJSON {
		var missing *missingUnitJSON
		if m.Missing != nil {
			missing = &missingUnitJSON{m.Missing.Bound, m.Missing.Index}
		}
		json.NewEncoder(stdout).Encode(struct {
			Scenario   string            `json:"scenario"`
			Params     map[string]string `json:"params"`
			Verdict    string            `json:"verdict"`
			Parts      int               `json:"parts"`
			Bounds     exhaustive.Bounds `json:"bounds"`
			Bound      int               `json:"preemption_bound_reached"`
			Unbounded  bool              `json:"unbounded,omitempty"`
			Executions int               `json:"executions"`
			Pruned     int               `json:"pruned"`
			Cut        int               `json:"cut"`
			Steps      int64             `json:"steps"`
			Missing    *missingUnitJSON  `json:"missing_unit,omitempty"`
			Failure    *failureJSON      `json:"failure"`
		}{s.Name, v, verdict, len(ps), b, m.Bound, m.Unbounded, m.Executions, m.Pruned, m.Cut, m.Steps, missing, fj})
		return code
	}
	runs := fmt.Sprintf("%d executions (%d stopped early as equivalent to one explored, %d stopped at the bounds), %d steps, merged from %d parts", m.Executions, m.Pruned, m.Cut, m.Steps, len(ps))
	switch {
	case m.Schedule != nil:
		fmt.Fprintf(stdout, "FAIL %s (%s)\n", s.Name, s.String(v))
		fmt.Fprintln(stdout, explore.Describe(failure))
		fmt.Fprintf(stdout, "found after %s at preemption bound %d\n", runs, m.FailBound)
	case m.Complete:
		writePass(stdout, s, v, runs, b, m.Bound, m.Unbounded)
	default:
		fmt.Fprintf(stdout, "INCOMPLETE %s (%s): no failure in %s\n", s.Name, s.String(v), runs)
	}
	if m.Missing != nil {
		fmt.Fprintf(stdout, "unit %d of preemption bound %d was searched by no part (part %d/%d did not finish its share)\n",
			m.Missing.Index, m.Missing.Bound, m.Missing.Index%len(ps), len(ps))
	}
	if fj != nil && fj.Schedule != "" {
		fmt.Fprintf(stdout, "schedule saved to %s\nreplay it: simrun replay %s --trace=columns\n", fj.Schedule, fj.Schedule)
	}
	return code
}
