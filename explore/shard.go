package explore

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
)

// ShardFormat names the format of a shard's result, and its version.
const ShardFormat = "lfsim-shard 1"

// ShardResult is what one shard of an exploration did, as a file records
// it: the configuration that makes shards comparable, every counted run's
// steps and costs, and the shard's first failure. Merge combines the
// results of all shards into the unsharded outcome.
type ShardResult struct {
	Format   string   `json:"format"`
	Scenario string   `json:"scenario"`
	Params   []string `json:"params"`
	Strategy string   `json:"strategy"`
	Seed     uint64   `json:"seed"`
	Depth    int      `json:"depth,omitempty"`
	MaxSteps int      `json:"max_steps"`
	// Runs is the whole exploration's run budget (0: none).
	Runs  int   `json:"runs"`
	Shard Shard `json:"shard"`
	// UnitsPerRun is the units of work of one run (see Stats.Units).
	UnitsPerRun int   `json:"units_per_run,omitempty"`
	ElapsedMS   int64 `json:"elapsed_ms"`
	Interrupted bool  `json:"interrupted,omitempty"`
	// Log is every counted run, in run-number order, encoded by
	// EncodeLog.
	Log string `json:"log"`
	// FailRun and Schedule are the shard's first failure, if any: its
	// run number and its schedule file.
	FailRun  *int          `json:"fail_run,omitempty"`
	Schedule string        `json:"schedule,omitempty"`
	Cover    *sim.Coverage `json:"cover,omitempty"`
}

// NewShardResult records exploration c's outcome out; c.Log must have
// been set, so that out has every run.
func NewShardResult(c Config, out Outcome) (ShardResult, error) {
	if !c.Log {
		return ShardResult{}, errors.New("a shard's result needs the exploration's log of runs (Config.Log)")
	}
	sh := c.Shard
	if sh.Count < 1 {
		sh = Shard{0, 1}
	}
	r := ShardResult{
		Format: ShardFormat, Scenario: c.Scenario.Name, Params: c.Scenario.Set(c.Values),
		Strategy: c.Strategy, Seed: c.Seed, MaxSteps: maxSteps(c.Options), Runs: c.Runs, Shard: sh,
		ElapsedMS: out.Elapsed.Milliseconds(), Interrupted: out.Interrupted, Log: EncodeLog(out.Log), Cover: c.Options.Cover,
	}
	if c.Strategy == PCT {
		r.Depth = c.Depth
	}
	if c.Scenario.Units != nil {
		r.UnitsPerRun = c.Scenario.Units(c.Values)
	}
	if out.Failure != nil {
		run := out.FailRun
		r.FailRun, r.Schedule = &run, string(out.Schedule.Encode())
	}
	return r, nil
}

// EncodeLog writes runs compactly: per run, as unsigned varints, the
// difference from the previous run number, the steps, and the costs.
func EncodeLog(runs []RunStat) string {
	var b []byte
	prev := -1
	for _, r := range runs {
		b = binary.AppendUvarint(b, uint64(r.Run-prev))
		b = binary.AppendUvarint(b, uint64(r.Steps))
		for _, n := range []int64{r.Costs.Atomics, r.Costs.Barriers, r.Costs.Slab, r.Costs.Toggles} {
			b = binary.AppendUvarint(b, uint64(n))
		}
		prev = r.Run
	}
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeLog reads what EncodeLog wrote.
func DecodeLog(s string) ([]RunStat, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	var runs []RunStat
	prev := -1
	for len(b) > 0 {
		var v [6]uint64
		for i := range v {
			n, k := binary.Uvarint(b)
			if k <= 0 || n > 1<<53 {
				return nil, fmt.Errorf("log: run %d is cut short or corrupt", len(runs))
			}
			v[i], b = n, b[k:]
		}
		if v[0] == 0 || v[0] > math.MaxInt32 || prev+int(v[0]) > math.MaxInt32 {
			return nil, fmt.Errorf("log: run numbers not ascending after run %d", prev)
		}
		prev += int(v[0])
		runs = append(runs, RunStat{Run: prev, Steps: int(v[1]), Costs: sim.Costs{Atomics: int64(v[2]), Barriers: int64(v[3]), Slab: int64(v[4]), Toggles: int64(v[5])}})
	}
	return runs, nil
}

// Merged is the exploration that shards' results add up to.
type Merged struct {
	Stats
	Shards int
	// Explored is how far the shards together explored without a gap:
	// every run number below it ran (the run budget, or one past the
	// first failing run, when nothing is missing).
	Explored int
	// Complete is set when the shards together ran every run number of
	// the budget, or every one up to the first failing run: the merged
	// outcome is then the unsharded exploration's.
	Complete bool
	// FailRun and Schedule are the lowest-numbered failing run any shard
	// found, and its schedule; FirstFailure says whether every run below
	// it was explored, so that it is the exploration's first.
	FailRun      int
	Schedule     *schedule.File
	FirstFailure bool
	Cover        *sim.Coverage
	// Missing names the first shard with a run below the budget (or the
	// failure) that it did not run, and that run.
	Missing *MissingRun
}

// MissingRun is a run number that no shard ran.
type MissingRun struct {
	Shard Shard
	Run   int
}

// Merge combines the results of every shard of one exploration (each
// shard once, in any order) into what the unsharded exploration reports:
// the counts of every run up to the first failure, that failure and its
// schedule. Coverage adds up every run the shards ran.
func Merge(rs []ShardResult) (Merged, error) {
	if len(rs) == 0 {
		return Merged{}, errors.New("no shard results to merge")
	}
	first := rs[0]
	n := first.Shard.Count
	seen := make([]bool, max(n, 0))
	logs := make([][]RunStat, len(rs))
	for i, r := range rs {
		if r.Format != ShardFormat {
			return Merged{}, fmt.Errorf("shard result %d: format %q, want %q", i, r.Format, ShardFormat)
		}
		if err := sameExploration(first, r); err != nil {
			return Merged{}, fmt.Errorf("shard %d/%d: %w", r.Shard.Index, r.Shard.Count, err)
		}
		if r.Shard.Index < 0 || r.Shard.Index >= n {
			return Merged{}, fmt.Errorf("shard %d/%d: index out of range", r.Shard.Index, n)
		}
		if seen[r.Shard.Index] {
			return Merged{}, fmt.Errorf("shard %d/%d is given twice", r.Shard.Index, n)
		}
		seen[r.Shard.Index] = true
		if (first.Cover == nil) != (r.Cover == nil) {
			return Merged{}, fmt.Errorf("shard %d/%d: some shards collected coverage and some did not", r.Shard.Index, n)
		}
		l, err := DecodeLog(r.Log)
		if err != nil {
			return Merged{}, fmt.Errorf("shard %d/%d: %w", r.Shard.Index, n, err)
		}
		for _, s := range l {
			if !r.Shard.Contains(s.Run) || (r.Runs > 0 && s.Run >= r.Runs) {
				return Merged{}, fmt.Errorf("shard %d/%d: its log has run %d, which is not its own", r.Shard.Index, n, s.Run)
			}
		}
		if r.FailRun != nil && (len(l) == 0 || l[len(l)-1].Run != *r.FailRun) {
			return Merged{}, fmt.Errorf("shard %d/%d: the failing run %d is not the last of its log", r.Shard.Index, n, *r.FailRun)
		}
		logs[i] = l
	}
	if i := slices.Index(seen, false); i >= 0 {
		return Merged{}, fmt.Errorf("shard %d/%d is missing (%d of %d given)", i, n, len(rs), n)
	}

	m := Merged{Shards: n, FailRun: -1}
	var failing *ShardResult
	for i := range rs {
		if f := rs[i].FailRun; f != nil && (failing == nil || *f < *failing.FailRun) {
			failing = &rs[i]
		}
	}
	// The end of what must have run: the budget, or the first failure.
	end := math.MaxInt
	if first.Runs > 0 {
		end = first.Runs
	}
	if failing != nil {
		end = *failing.FailRun + 1
	}
	m.Explored = end
	for i, r := range rs {
		if miss := firstMissing(r.Shard, logs[i], end); miss < m.Explored {
			m.Explored, m.Missing = miss, &MissingRun{r.Shard, miss}
		}
	}
	m.Complete = m.Missing == nil
	for i, r := range rs {
		for _, s := range logs[i] {
			if s.Run >= end {
				break
			}
			m.Runs++
			m.Steps += int64(s.Steps)
			m.Costs.Add(s.Costs)
			m.Units += int64(r.UnitsPerRun)
		}
		m.Elapsed = max(m.Elapsed, time.Duration(r.ElapsedMS)*time.Millisecond)
		if r.Cover != nil {
			if m.Cover == nil {
				m.Cover = sim.NewCoverage()
			}
			m.Cover.Merge(r.Cover)
		}
	}
	if failing != nil {
		f, err := schedule.Decode([]byte(failing.Schedule))
		if err != nil {
			return Merged{}, fmt.Errorf("shard %d/%d: its failing schedule: %w", failing.Shard.Index, n, err)
		}
		m.FailRun, m.Schedule, m.FirstFailure = *failing.FailRun, f, m.Complete
	}
	return m, nil
}

// firstMissing is the first run number below end of shard sh that its log
// lacks, or end. A log without a bound ends where it ends.
func firstMissing(sh Shard, log []RunStat, end int) int {
	want := sh.Index
	for _, s := range log {
		if want >= end {
			return end
		}
		if s.Run != want {
			return want
		}
		want += sh.Count
	}
	return min(want, end)
}

func sameExploration(a, b ShardResult) error {
	switch {
	case a.Scenario != b.Scenario:
		return fmt.Errorf("scenario %s, not %s", b.Scenario, a.Scenario)
	case !slices.Equal(a.Params, b.Params):
		return fmt.Errorf("parameters %v, not %v", b.Params, a.Params)
	case a.Strategy != b.Strategy || a.Depth != b.Depth:
		return fmt.Errorf("strategy %s (depth %d), not %s (depth %d)", b.Strategy, b.Depth, a.Strategy, a.Depth)
	case a.Seed != b.Seed:
		return fmt.Errorf("seed %d, not %d", b.Seed, a.Seed)
	case a.MaxSteps != b.MaxSteps:
		return fmt.Errorf("max-steps %d, not %d", b.MaxSteps, a.MaxSteps)
	case a.Runs != b.Runs:
		return fmt.Errorf("a budget of %d runs, not %d", b.Runs, a.Runs)
	case a.Shard.Count != b.Shard.Count:
		return fmt.Errorf("one of %d shards, not %d", b.Shard.Count, a.Shard.Count)
	}
	return nil
}
