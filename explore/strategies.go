package explore

import (
	"context"
	"fmt"
	"slices"

	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/sim"
)

// Contender is one strategy measured by Race.
type Contender struct {
	Name     string // as tables show it: "pct d=2"
	Strategy string
	Depth    int
}

// Contenders are every strategy explore offers, PCT at depths 1 to 3.
func Contenders() []Contender {
	return []Contender{
		{"mix", Mix, 0}, {"random", Random, 0}, {"pct d=1", PCT, 1}, {"pct d=2", PCT, 2}, {"pct d=3", PCT, 3}, {"pos", POS, 0},
	}
}

// Standing is how one strategy did over the seeds.
type Standing struct {
	Contender
	// RunsToFailure are, by seed, the runs each needed to find a failure
	// (FailRun+1), or 0 where none was found within the budget.
	RunsToFailure []int
}

// Found counts the seeds that found a failure.
func (s Standing) Found() int {
	n := 0
	for _, r := range s.RunsToFailure {
		if r > 0 {
			n++
		}
	}
	return n
}

// Median is the median of the runs to the first failure, a seed that
// found nothing counting as more than any that did; ok is false when
// that median is such a seed.
func (s Standing) Median() (runs int, ok bool) {
	r := slices.Clone(s.RunsToFailure)
	const none = int(^uint(0) >> 1)
	for i, v := range r {
		if v == 0 {
			r[i] = none
		}
	}
	slices.Sort(r)
	m := r[(len(r)-1)/2]
	return m, m != none
}

// Race explores scenario s with every contender, for seeds 1..seeds and at
// most runs runs each, and says how many runs each needed to find a
// failure: a deterministic measurement, since run i of a seed is always
// the same schedule.
func Race(ctx context.Context, s *scenario.Scenario, v scenario.Values, seeds, runs int, opt scenario.Options, contenders []Contender) ([]Standing, error) {
	if seeds < 1 || runs < 1 {
		return nil, fmt.Errorf("want at least one seed and one run (got %d seeds, %d runs)", seeds, runs)
	}
	if opt.Host == nil {
		host := sim.NewHost()
		defer host.Close()
		opt.Host = host
	}
	var out []Standing
	for _, c := range contenders {
		st := Standing{Contender: c}
		for seed := 1; seed <= seeds; seed++ {
			res, err := Explore(ctx, Config{Scenario: s, Values: v, Strategy: c.Strategy, Depth: c.Depth, Seed: uint64(seed), Runs: runs, Options: opt})
			if err != nil {
				return nil, fmt.Errorf("%s seed %d: %w", c.Name, seed, err)
			}
			if res.Interrupted {
				return nil, ctx.Err()
			}
			n := 0
			if res.Failure != nil {
				n = res.FailRun + 1
			}
			st.RunsToFailure = append(st.RunsToFailure, n)
		}
		out = append(out, st)
	}
	return out, nil
}
