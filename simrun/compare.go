package simrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/stress"
)

// column is one way of looking for a scenario's failure.
type column struct {
	name  string
	found bool
	first time.Duration // to the first failure, when found
	runs  string
	what  string
}

// compareCmd runs the simulator's exploration, native stress and, for the
// plain-memory 2005 ring, native stress under the race detector, each for
// the same budget, and tabulates what each found and how fast.
func (c *Command) compareCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("compare")
	budget := fs.Duration("budget", 60*time.Second, "time each column may take")
	seed := fs.Uint64("seed", 1, "seed of the exploration and of the stress mix")
	strategy := fs.String("strategy", explore.Random, "the simulator's `strategy`: random or pct")
	race := fs.String("race", "auto", "the go test -race column: `mode` auto (plain-memory subjects only), on or off")
	var set setFlags
	fs.Var(&set, "set", "scenario parameter `key=value` (repeatable)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(stderr, "compare", err)
	}
	if len(pos) != 1 {
		return usageError(stderr, "compare", errors.New("want exactly one scenario name"))
	}
	if *budget <= 0 || (*race != "auto" && *race != "on" && *race != "off") {
		return usageError(stderr, "compare", fmt.Errorf("--budget=%v --race=%s: want a positive budget and auto, on or off", *budget, *race))
	}
	s, err := c.Scenarios.Lookup(pos[0])
	if err != nil {
		return usageError(stderr, "compare", err)
	}
	v, err := s.Values(set)
	if err != nil {
		return usageError(stderr, "compare", err)
	}
	if !slices.Contains(stress.Supported(), s.Name) {
		return usageError(stderr, "compare", fmt.Errorf("%s: stress has no native workload for it (it has %s)", s.Name, strings.Join(stress.Supported(), ", ")))
	}
	fmt.Fprintf(stdout, "%s (%s), budget %v per column, seed %d, simulator strategy %s\n\n", s.Name, s.String(v), *budget, *seed, *strategy)

	// The simulator.
	cfg := explore.Config{Scenario: s, Values: v, Strategy: *strategy, Seed: *seed, Runs: 0, Time: *budget, Depth: 3}
	if err := cfg.Validate(); err != nil {
		return usageError(stderr, "compare", err)
	}
	res, err := explore.Explore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "simrun compare: %v\n", err)
		return exitUsage
	}
	simulated := column{name: "simulator", runs: fmt.Sprintf("%d runs", res.Runs)}
	if res.Failure != nil {
		path := freshName(defaultName(s, res.Schedule.Params, fmt.Sprintf("-compare-seed%d.sched", *seed)), res.Schedule.Encode())
		simulated.found, simulated.first, simulated.runs = true, res.Elapsed, fmt.Sprintf("run %d of %d", res.FailRun, res.Runs)
		simulated.what = fmt.Sprintf("%s on CPU%d: %s", res.Failure.Kind, res.Failure.CPU, res.Failure.Message)
		if err := os.WriteFile(path, res.Schedule.Encode(), 0o644); err != nil {
			fmt.Fprintf(stderr, "simrun compare: cannot save the failing schedule: %v\n", err)
		} else {
			simulated.what += " (replay: simrun replay " + path + " --trace=columns)"
		}
	}

	// Native stress.
	sres, err := stress.Run(ctx, stress.Config{Scenario: s, Values: v, Budget: *budget, Seed: *seed})
	if err != nil {
		return usageError(stderr, "compare", err)
	}
	stressed := column{name: "stress", runs: fmt.Sprintf("%d rounds", sres.Rounds), what: sres.Note}
	if sres.Failure != nil {
		stressed.found, stressed.first, stressed.runs = true, sres.FirstFailure, fmt.Sprintf("round %d of %d", sres.Round, sres.Rounds)
		stressed.what = sres.Failure.Error() + " (not reproducible)"
	}
	cols := []column{simulated, stressed}

	if *race == "on" || (*race == "auto" && strings.HasPrefix(s.Name, "ring2005")) {
		cols = append(cols, raceColumn(ctx, s.Name, set, *budget))
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tfound\tfirst failure\truns\twhat")
	for _, c := range cols {
		found, first := "no", "-"
		if c.found {
			found, first = "yes", roundDuration(c.first).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.name, found, first, c.runs, c.what)
	}
	tw.Flush()
	if ctx.Err() != nil {
		return exitInterrupted
	}
	if simulated.found || stressed.found {
		return exitFailure
	}
	return exitPass
}

// raceColumn builds the stress package's test binary with -race and runs
// its scenario test for the budget, halting at the first data race. It
// needs the go command and the module's source.
func raceColumn(ctx context.Context, name string, set []string, budget time.Duration) column {
	col := column{name: "stress -race"}
	dir, err := os.MkdirTemp("", "simrun-race")
	if err != nil {
		col.what = "not run: " + err.Error()
		return col
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "stress.test")
	build := exec.CommandContext(ctx, "go", "test", "-race", "-c", "-o", bin, "github.com/kernelsim/lfsim/stress")
	if out, err := build.CombinedOutput(); err != nil {
		col.what = "not run: go test -race -c failed (run simrun from the repository, with the go command installed): " + firstLine(out, err)
		return col
	}
	run := exec.CommandContext(ctx, bin, "-test.run=^TestStressScenario$", "-test.v", "-test.timeout=0")
	run.Env = append(os.Environ(), "LFSIM_STRESS_SCENARIO="+name, "LFSIM_STRESS_BUDGET="+budget.String(),
		"LFSIM_STRESS_SET="+strings.Join(set, " "), "GORACE=halt_on_error=1")
	var out bytes.Buffer
	run.Stdout, run.Stderr = &out, &out
	start := time.Now()
	err = run.Run()
	took := time.Since(start)
	text := out.String()
	col.runs = "1 process"
	switch {
	case strings.Contains(text, "WARNING: DATA RACE"):
		col.found, col.first, col.what = true, took, "data race: "+raceSite(text)+" (the race detector stops there, before any crash)"
	case strings.Contains(text, stress.FoundMarker):
		col.found, col.first, col.what = true, took, "crash: "+lineWith(text, stress.FoundMarker)
	case err != nil:
		col.what = "test binary failed: " + firstLine(out.Bytes(), err)
	default:
		col.what = "nothing seen"
	}
	return col
}

// raceSite names the two racing accesses of a race report by their first
// frame outside package native: the subject's line, not the Ctx method.
func raceSite(report string) string {
	lines := strings.Split(report, "\n")
	var sites []string
	for i := 0; i < len(lines) && len(sites) < 2; i++ {
		head := strings.TrimSpace(lines[i])
		access, _, ok := strings.Cut(head, " at 0x")
		if !ok || !strings.HasSuffix(head, ":") {
			continue
		}
		for j := i + 1; j+1 < len(lines) && strings.TrimSpace(lines[j]) != ""; j += 2 {
			fn := strings.TrimSpace(lines[j])
			if strings.HasPrefix(fn, "github.com/kernelsim/lfsim/native.") {
				continue
			}
			loc := strings.Fields(strings.TrimSpace(lines[j+1]))[0]
			if wd, err := os.Getwd(); err == nil {
				if rel, err := filepath.Rel(wd, loc); err == nil && !strings.HasPrefix(rel, "..") {
					loc = rel
				}
			}
			sites = append(sites, fmt.Sprintf("%s in %s at %s", strings.ToLower(access), strings.TrimPrefix(fn, "github.com/kernelsim/lfsim/"), loc))
			break
		}
	}
	return strings.Join(sites, ", ")
}

func lineWith(text, marker string) string {
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, marker); i >= 0 {
			return strings.TrimSpace(line[i:])
		}
	}
	return ""
}

func firstLine(out []byte, err error) string {
	if line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n"); line != "" {
		return line
	}
	return err.Error()
}
