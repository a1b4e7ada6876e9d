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
// bounds (no verdict), 128 plus the signal's number when SIGINT (130),
// SIGTERM (143) or SIGHUP (129) interrupted it with nothing found. A
// signal stops the run going on at once, not at its end; what was found
// is saved and reported first (a failure explore found, the smallest
// schedule shrink had). A second signal ends the process at once.
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
	"errors"
	"fmt"
	"go/token"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"

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
	ctx, stop := interruptible(context.Background())
	code := c.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalled is why an interrupted command's context ended.
type signalled struct{ sig syscall.Signal }

func (s signalled) Error() string { return "interrupted by " + s.sig.String() }

// interruptible is ctx ended by the first SIGINT, SIGTERM or SIGHUP: each
// command then stops within a few microseconds' worth of its current run
// (see sim.Config.Stop), saves what it found and reports it. A second
// signal ends the process at once, as if simrun had not caught the first.
func interruptible(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			signal.Reset(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
			cancel(signalled{s.(syscall.Signal)})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// interruptedStatus is the exit status of a command that ctx's end
// interrupted with nothing found: 128 plus the signal's number, as a
// shell reports a process the signal ended (130 SIGINT, 143 SIGTERM, 129
// SIGHUP); 130 when the context ended otherwise.
func interruptedStatus(ctx context.Context) int {
	var s signalled
	if errors.As(context.Cause(ctx), &s) {
		return 128 + int(s.sig)
	}
	return exitInterrupted
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
