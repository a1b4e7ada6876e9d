package simrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/sim"
)

// strategiesCmd measures every strategy on one scenario: the median runs
// to the first failure over seeds 1..N.
func (c *Command) strategiesCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("strategies")
	seeds := fs.Int("seeds", 20, "seeds 1..N for each strategy")
	runs := fs.Int("runs", 10_000, "runs per seed at most")
	maxSteps := fs.Int("max-steps", sim.DefaultMaxSteps, "step budget of one run")
	var set setFlags
	fs.Var(&set, "set", "scenario parameter `key=value` (repeatable)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(stderr, "strategies", err)
	}
	s, v, err := c.scenarioArg(pos, set)
	if err != nil {
		return usageError(stderr, "strategies", err)
	}
	if *seeds < 1 || *runs < 1 || *maxSteps < 1 {
		return usageError(stderr, "strategies", fmt.Errorf("--seeds=%d --runs=%d --max-steps=%d: want positive numbers", *seeds, *runs, *maxSteps))
	}
	table, err := explore.Race(ctx, s, v, *seeds, *runs, scenario.Options{MaxSteps: *maxSteps}, explore.Contenders())
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "simrun strategies: interrupted")
		return exitInterrupted
	}
	if err != nil {
		fmt.Fprintf(stderr, "simrun strategies: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s (%s): runs to the first failure over seeds 1..%d, at most %d runs each\n", s.Name, s.String(v), *seeds, *runs)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "strategy\tmedian\tfound\truns by seed")
	for _, st := range table {
		med := fmt.Sprintf("> %d", *runs)
		if m, ok := st.Median(); ok {
			med = fmt.Sprint(m)
		}
		by := make([]string, len(st.RunsToFailure))
		for i, r := range st.RunsToFailure {
			by[i] = "-"
			if r > 0 {
				by[i] = fmt.Sprint(r)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\n", st.Name, med, st.Found(), *seeds, strings.Join(by, " "))
	}
	tw.Flush()
	return exitPass
}
