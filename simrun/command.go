// Package simrun is the simrun command as a library: explore a scenario's
// schedules until one fails, replay a schedule file step by step, shrink
// it, turn it into a fuzz corpus entry. cmd/simrun runs it on the
// project's own scenarios; a user's command runs it on theirs:
//
//	func main() { simrun.Main(mystack.Scenario()) }
//
// gives every subcommand (list, explore, replay, shrink, corpus; bench and
// compare too, on what they know) for those scenarios.
//
//	simrun list [SCENARIO]
//	simrun explore SCENARIO [--strategy=mix|random|pct|pos] [--seed=N] [--runs=N] [--time=D]
//	                        [--depth=N] [--set key=value ...] [-o FILE] [--json]
//	simrun replay FILE [--trace=lines|columns] [--json]
//
// Exit status: 0 no failure, 1 a failure was found or reproduced, 2 bad
// usage or input, 3 the host watchdog stopped a replay (a judgement of
// host time: no verdict), 4 check ran out of budget before covering its
// bounds (no verdict), 130 interrupted with nothing found.
//
//	simrun check SCENARIO [--preemptions=N] [--interrupts=N] [--failures=N] [--executions=N]
//
// runs every schedule within the bounds (see package exhaustive).
//
//	simrun explore SCENARIO --shard=I/N [--record=FILE]
//	simrun merge FILE...
//
// split an exploration (or a check) over N machines, and add their
// results up to the unsharded answer; --workers sets how many goroutines
// each uses.
package simrun

import (
	"context"
	"fmt"
	"go/token"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"

	"github.com/kernelsim/lfsim/fuzz"
	"github.com/kernelsim/lfsim/scenario"
)

// gcPercent is the command's GOGC unless the environment sets one.
const gcPercent = 400

// Command is simrun with the scenarios it knows and the fuzz targets whose
// corpus files it reads and writes.
type Command struct {
	Scenarios scenario.Catalogue
	Targets   []fuzz.Target
}

// Main runs simrun on the process's arguments with the scenarios added
// with scenario.Register and the given ones, each also a fuzz target named
// Fuzz+its name (the name a Fuzz function of package check gives its
// workload), and exits with its status.
func Main(scenarios ...*scenario.Scenario) {
	c := &Command{Scenarios: scenario.Registered()}
	for _, s := range scenarios {
		if !slices.Contains(c.Scenarios, s) {
			c.Scenarios = append(c.Scenarios, s)
		}
	}
	for _, s := range c.Scenarios {
		if s != nil && token.IsIdentifier("Fuzz"+s.Name) {
			c.Targets = append(c.Targets, fuzz.Target{Name: "Fuzz" + s.Name, Scenario: s})
		}
	}
	c.Main()
}

// Main runs the command on the process's arguments and exits with its
// status.
func (c *Command) Main() {
	if os.Getenv("GOGC") == "" {
		// Runs allocate small machines that die young, and the live heap
		// stays small: collecting a quarter as often costs little memory
		// and gives a worker back the time a collector takes from it
		// (alf-mpmc: 20k -> 29k schedules/s on two workers here).
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := c.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func (c *Command) validate() error {
	if err := c.Scenarios.Validate(); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, t := range c.Targets {
		if t.Scenario == nil || names[t.Name] {
			return fmt.Errorf("fuzz target %q: want a scenario and a name of its own", t.Name)
		}
		names[t.Name] = true
	}
	return nil
}
