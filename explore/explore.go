// Package explore runs a scenario under many schedules until one fails,
// and replays schedule files. It is what simrun's explore and replay
// commands do, as a library for tests and other tools.
package explore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
)

// Strategies that Explore accepts.
const (
	Random = "random"
	PCT    = "pct"
	// POS is partial order sampling (see sim.POS).
	POS = "pos"
	// Mix is the portfolio, the default: by run number i mod 3, random or
	// POS (in turn), PCT of depth 3, PCT of depth 2 (Depth is ignored). Random
	// walks find shallow races and failures that need many preemptions
	// or interrupts; PCT finds ordering bugs of small depth that random
	// walks reach rarely; POS samples the orders of racing accesses
	// evenly, whatever lies between them. PCT of depth 1 (no change
	// point) is left out: on the known failures it never beat depth 2.
	Mix = "mix"
)

// Config is one exploration.
type Config struct {
	Scenario *scenario.Scenario
	Values   scenario.Values
	Strategy string // Random, PCT, POS or Mix
	Seed     uint64
	// Depth is PCT's bug depth (ignored by Random).
	Depth int
	// Runs and Time bound the exploration; whichever ends first.
	// Zero means no bound of that kind (one of them must be set).
	Runs int
	Time time.Duration
	// Options are the machine settings of every run; with more than one
	// worker, Host is the first worker's and the others get their own.
	Options scenario.Options
	// Workers is how many runs go on at once, each on a machine and a
	// host of its own (0 means 1). The outcome does not depend on it:
	// runs are folded in run-number order, and a failure in run i is
	// reported only once every run below i has finished without one.
	Workers int
	// Shard, when its Count is above 1, explores only the run numbers of
	// that share of the budget, so that Count explorations (on as many
	// machines) together run each of its run numbers once.
	Shard Shard
	// Log keeps every counted run's steps and costs in Outcome.Log: what
	// a shard's result records so that shards merge into the unsharded
	// outcome.
	Log bool
	// Progress, when set, is called with the counts so far each time a
	// batch of runs is folded in; it must be cheap.
	Progress func(Stats)
}

// Stats count what an exploration did.
type Stats struct {
	Runs    int
	Steps   int64
	Elapsed time.Duration
	// Costs add up every run's costs; Units is the number of units of
	// work (alloc+free pairs) those runs did, 0 when the scenario does not
	// count them.
	Costs sim.Costs
	Units int64
}

// PerUnit is a cost per unit of work.
type PerUnit struct {
	Atomics  float64 `json:"atomics"`
	Barriers float64 `json:"barriers"`
	Slab     float64 `json:"slab"`
	Toggles  float64 `json:"toggles"`
}

// PerUnit divides the costs by the units of work, or returns nil when the
// scenario does not count units.
func (s Stats) PerUnit() *PerUnit {
	if s.Units == 0 {
		return nil
	}
	u := float64(s.Units)
	return &PerUnit{float64(s.Costs.Atomics) / u, float64(s.Costs.Barriers) / u, float64(s.Costs.Slab) / u, float64(s.Costs.Toggles) / u}
}

// Outcome is what an exploration found: with a shard, of its runs alone.
type Outcome struct {
	Stats
	// Failure is the first failure found, in run FailRun (0-based); its
	// schedule is Schedule.
	Failure  *sim.Failure
	FailRun  int
	Schedule *schedule.File
	// Interrupted is set when ctx was cancelled before the budget ended.
	// With a Failure, it says that the exploration was interrupted before
	// every run below FailRun had ended: a lower run may fail too, and
	// the counts are those of the runs that ended in order.
	Interrupted bool
	// Log is every counted run, in run-number order, when Config.Log is
	// set.
	Log []RunStat
}

// initialPCTSteps is PCT's guess of a run's length before the first run
// has been measured; later runs use the mean length of earlier runs (see
// calibrationRuns). Guessing long wastes runs (change points drawn past the run's end
// change nothing); the first measured run corrects a short guess.
const initialPCTSteps = 50

// Validate checks the configuration before anything runs.
func (c *Config) Validate() error {
	switch c.Strategy {
	case Random, Mix, POS:
	case PCT:
		if c.Depth < 1 {
			return fmt.Errorf("--depth=%d: PCT needs a depth of at least 1", c.Depth)
		}
	default:
		return fmt.Errorf("unknown strategy %q: want %s, %s, %s or %s", c.Strategy, Mix, Random, PCT, POS)
	}
	if c.Runs < 0 || c.Time < 0 {
		return fmt.Errorf("negative budget")
	}
	if c.Runs == 0 && c.Time == 0 {
		return fmt.Errorf("no budget: give --runs or --time")
	}
	if c.Workers < 0 {
		return fmt.Errorf("--workers=%d: want at least 1", c.Workers)
	}
	if c.Shard.Count > 1 || c.Shard.Index != 0 {
		if c.Shard.Count < 1 || c.Shard.Index < 0 || c.Shard.Index >= c.Shard.Count {
			return fmt.Errorf("shard %d/%d: want an index from 0 to the count less one", c.Shard.Index, c.Shard.Count)
		}
	}
	return nil
}

// Explore runs schedules until the first failure, the budget's end, or
// ctx's cancellation. Run number i always uses the same schedule for the
// same seed, whatever the budget, the workers and the shard: with a run
// budget the outcome is a function of the configuration; only where a
// time budget or a cancellation stops it depends on time.
func Explore(ctx context.Context, c Config) (Outcome, error) {
	if err := c.Validate(); err != nil {
		return Outcome{}, err
	}
	// The runs share one host's goroutines (see sim.Host): the caller's,
	// or one that lives as long as this exploration.
	if c.Options.Host == nil {
		host := sim.NewHost()
		defer host.Close()
		c.Options.Host = host
	}
	e := &explorer{ctx: ctx, c: &c, plan: newPlan(&c), start: time.Now()}
	var out Outcome
	end, run, beyond := e.explore(&out)
	out.Elapsed = time.Since(e.start)
	if end == nil {
		return out, nil
	}
	if end.Err != nil {
		return out, fmt.Errorf("run %d: %w", run, end.Err)
	}
	out.Interrupted = beyond
	r := located(c.Scenario, c.Values, c.Options, *end)
	out.Failure, out.FailRun = r.Failure, run
	out.Schedule = c.file(r, run)
	return out, nil
}

// located returns r, or the same run replayed with source positions when
// r's failure needs them to name its line. Runs without positions, which
// are much faster, know where simulated code failed (BUG_ON, panics) but
// not where a spinning context sits. Failures of the whole machine have
// no line to find.
func located(sc *scenario.Scenario, v scenario.Values, opt scenario.Options, r sim.Result) sim.Result {
	if r.Err != nil || r.Failure == nil || r.Failure.Source != "" || opt.Positions || opt.Trace {
		return r
	}
	switch r.Failure.Kind {
	case sim.KindStepBudget, sim.KindDeadlock, sim.KindWatchdog:
		return r
	}
	opt.Positions, opt.Cover = true, nil
	rr := sc.Run(v, opt, sim.NewReplay(r.Decisions))
	if rr.Err != nil || rr.Failure == nil || rr.Failure.Kind != r.Failure.Kind || rr.Failure.Message != r.Failure.Message {
		return r
	}
	return rr
}

// Run runs scenario s with values v under strategy, as exploration does:
// a failure names its line even when opt asks for no positions.
func Run(s *scenario.Scenario, v scenario.Values, opt scenario.Options, strategy sim.Strategy) sim.Result {
	return located(s, v, opt, s.Run(v, opt, strategy))
}

// Record is how a schedule file records failure f.
func Record(f *sim.Failure) *schedule.Failure {
	if f == nil {
		return nil
	}
	return &schedule.Failure{Kind: f.Kind, Step: f.Step, Message: f.Message, Site: f.Site()}
}

// Matches reports whether failure g is the failure rec recorded: the same
// kind and site, or for a record without a site, the same kind and message.
func Matches(rec *schedule.Failure, g *sim.Failure) bool {
	if rec == nil || g == nil || rec.Kind != g.Kind {
		return false
	}
	if rec.Site == "" {
		return rec.Message == g.Message
	}
	return rec.Site == g.Site()
}

func (c *Config) strategy(run, k int) sim.Strategy {
	seed := sim.RunSeed(c.Seed, run)
	switch {
	case c.Strategy == PCT:
		return sim.NewPCT(seed, c.Depth, k)
	case c.Strategy == POS, c.Strategy == Mix && run%6 == 3:
		return sim.NewPOS(seed)
	case c.Strategy == Mix && run%3 == 1:
		return sim.NewPCT(seed, 3, k)
	case c.Strategy == Mix && run%3 == 2:
		return sim.NewPCT(seed, 2, k)
	}
	return sim.NewRandom(seed)
}

func (c *Config) file(r sim.Result, run int) *schedule.File {
	foundBy := fmt.Sprintf("%s seed=%d run=%d", c.Strategy, c.Seed, run)
	if c.Strategy == PCT {
		foundBy += fmt.Sprintf(" depth=%d", c.Depth)
	}
	return &schedule.File{
		Scenario:  c.Scenario.Name,
		Params:    c.Scenario.Set(c.Values),
		MaxSteps:  maxSteps(c.Options),
		FoundBy:   foundBy,
		Failure:   Record(r.Failure),
		Decisions: r.Tokens(),
	}
}

func maxSteps(o scenario.Options) int {
	if o.MaxSteps == 0 {
		return sim.DefaultMaxSteps
	}
	return o.MaxSteps
}

// Replayed is the result of replaying a schedule file.
type Replayed struct {
	sim.Result
	// Reproduced is set when the run fails the way the file recorded.
	Reproduced bool
}

// ErrWatchdog is returned for a replay the host watchdog stopped: a
// judgement of host time, which says nothing about the schedule.
var ErrWatchdog = errors.New("the host watchdog stopped the replay")

// Replay rebuilds on scenario s the run a schedule file of s describes,
// with the whole trace when trace is set; its failure names its line as
// exploration's does. An error means the file does not describe a run of
// s (another scenario, bad parameters, decisions that do not fit), or the
// host watchdog stopped the replay (ErrWatchdog).
func Replay(s *scenario.Scenario, f *schedule.File, trace bool) (Replayed, error) {
	return ReplayUntil(nil, s, f, trace)
}

// ErrInterrupted is returned for a replay stopped part-way (ReplayUntil):
// it says nothing about the schedule.
var ErrInterrupted = errors.New("the replay was interrupted")

// ReplayUntil is Replay, stopped part-way when stop is closed (with
// ErrInterrupted), as a command does when it is interrupted.
func ReplayUntil(stop <-chan struct{}, s *scenario.Scenario, f *schedule.File, trace bool) (Replayed, error) {
	if s.Name != f.Scenario {
		return Replayed{}, fmt.Errorf("the schedule is for scenario %s, not %s", f.Scenario, s.Name)
	}
	v, err := s.ValuesOf(f.Params)
	if err != nil {
		return Replayed{}, err
	}
	opt := scenario.Options{MaxSteps: f.MaxSteps, Trace: trace, Stop: stop}
	return judge(f, located(s, v, opt, s.Run(v, opt, sim.NewReplayTokens(f.Decisions))))
}

// judge compares the replay r of f with what f recorded.
func judge(f *schedule.File, r sim.Result) (Replayed, error) {
	if errors.Is(r.Err, sim.ErrStopped) {
		return Replayed{Result: r}, fmt.Errorf("%w after %d of the schedule's %d decisions", ErrInterrupted, r.Steps, len(f.Decisions))
	}
	if r.Err != nil {
		return Replayed{Result: r}, fmt.Errorf("schedule does not fit scenario %s: %w", f.Scenario, r.Err)
	}
	ok := Matches(f.Failure, r.Failure)
	if !ok && r.Failure != nil && r.Failure.Kind == sim.KindWatchdog {
		return Replayed{Result: r}, fmt.Errorf("%w after %d of the schedule's %d decisions: %s; replay it again on a less busy host",
			ErrWatchdog, r.Steps, len(f.Decisions), r.Failure.Message)
	}
	if r.Steps != len(f.Decisions) {
		return Replayed{Result: r}, fmt.Errorf("schedule does not fit scenario %s: the run ended after %d of its %d decisions", f.Scenario, r.Steps, len(f.Decisions))
	}
	return Replayed{Result: r, Reproduced: ok}, nil
}

// Describe is the failure in a paragraph for people: kind and message,
// then where it happened.
func Describe(f *sim.Failure) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n  at %s", f.Kind, f.Message, f.Where())
	return b.String()
}
