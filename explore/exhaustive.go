package explore

import (
	"context"
	"fmt"

	"github.com/kernelsim/lfsim/exhaustive"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
)

// CheckConfig is an exhaustive search of one scenario's schedules.
type CheckConfig struct {
	Scenario *scenario.Scenario
	Values   scenario.Values
	// Bounds.Failures cannot exceed what the scenario allows.
	Bounds        exhaustive.Bounds
	MaxExecutions int
	NoReduction   bool
	// Options are the machine settings of every run; with more than one
	// worker, Host is the first worker's and the others get their own.
	Options scenario.Options
	// Workers is how many goroutines search at once (0 means 1); the
	// answer does not depend on it (see exhaustive.SearchOn).
	Workers int
	// Part, when its Count is above 1, searches only that share of the
	// tree, for MergeChecks.
	Part     exhaustive.Part
	Progress func(exhaustive.Stats)
}

// Checked is what an exhaustive search established.
type Checked struct {
	exhaustive.Result
	// Schedule is the failing run's schedule file, when one failed.
	Schedule *schedule.File
}

// Check searches every schedule of the scenario within the bounds (see
// package exhaustive), until ctx is cancelled: a pass is a proof for those
// bounds.
func Check(ctx context.Context, c CheckConfig) (Checked, error) {
	if c.Options.Host == nil {
		host := sim.NewHost()
		defer host.Close()
		c.Options.Host = host
	}
	allowed := 0
	if c.Scenario.AllocFailures != nil {
		allowed = c.Scenario.AllocFailures(c.Values)
	}
	if c.Bounds.Failures > allowed {
		return Checked{}, fmt.Errorf("--failures=%d: scenario %s allows at most %d allocation failures in a run (%s)", c.Bounds.Failures, c.Scenario.Name, allowed, c.Scenario.String(c.Values))
	}
	if c.Options.Cover != nil && c.Workers > 1 {
		return Checked{}, fmt.Errorf("coverage is collected on one worker only: drop --cover or use --workers=1")
	}
	var runs []func(sim.Strategy) sim.Result
	for w := range max(c.Workers, 1) {
		opt := c.Options
		opt.Stop = ctx.Done() // an interrupt ends the run going on too
		if w > 0 {
			opt.Host = sim.NewHost()
			defer opt.Host.Close()
		}
		runs = append(runs, func(st sim.Strategy) sim.Result { return c.Scenario.Run(c.Values, opt, st) })
	}
	res, err := exhaustive.SearchOn(ctx, runs, exhaustive.Config{
		Bounds: c.Bounds, MaxExecutions: c.MaxExecutions, NoReduction: c.NoReduction, Progress: c.Progress, Part: c.Part,
	})
	out := Checked{Result: res}
	if err != nil {
		return out, err
	}
	if res.Failure != nil {
		r := located(c.Scenario, c.Values, c.Options, res.Run)
		out.Run, out.Failure = r, r.Failure
		out.Schedule = &schedule.File{
			Scenario:  c.Scenario.Name,
			Params:    c.Scenario.Set(c.Values),
			MaxSteps:  maxSteps(c.Options),
			FoundBy:   foundByCheck(res.Bound, c.Bounds, res.Executions-1),
			Failure:   Record(r.Failure),
			Decisions: r.Tokens(),
		}
	}
	return out, nil
}

// foundByCheck is the found-by line of a schedule the search found in
// execution run at preemption bound bound.
func foundByCheck(bound int, b exhaustive.Bounds, run int) string {
	return fmt.Sprintf("exhaustive preemptions=%d interrupts=%d failures=%d run=%d", bound, b.Interrupts, b.Failures, run)
}
