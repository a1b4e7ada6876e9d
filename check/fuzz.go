package check

import (
	"testing"

	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/fuzz"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/sim"
)

// Fuzz makes f a fuzz target of workload w: every decision of a run comes
// from the fuzzer's bytes. The schedules Run saved for the same scenario
// seed the corpus, and a failing input fails with the failure and its
// trace; Go keeps it under testdata/fuzz/<FuzzX>/ and plain `go test`
// replays it.
func Fuzz(f *testing.F, w Workload, opts ...Option) {
	f.Helper()
	FuzzScenario(f, w.Scenario(scenarioName(f.Name())), opts...)
}

// FuzzScenario is Fuzz for a scenario of one's own (with parameters,
// given by Set).
func FuzzScenario(f *testing.F, s *scenario.Scenario, opts ...Option) {
	f.Helper()
	c, v, err := setup(s, opts)
	if err != nil {
		f.Fatalf("lfsim: %v", err)
	}
	target := fuzz.Target{Name: f.Name(), Scenario: s, Set: c.set}
	files, err := savedSchedules(c.dir)
	if err != nil {
		f.Fatalf("lfsim: %v", err)
	}
	for _, sf := range files {
		// A saved schedule of other parameters or step budget, or one
		// the code has outgrown, seeds nothing; Run still replays it.
		if data, err := target.Bytes(sf.file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Run as exploration does, so a failure names its line.
		r := explore.Run(s, v, scenario.Options{}, sim.NewBytes(data))
		if r.Err != nil {
			t.Fatalf("lfsim: %s: %v", s.Name, r.Err)
		}
		if r.Failure == nil {
			return
		}
		if *flagTrace != "none" {
			if rr, err := target.Run(data, true); err == nil {
				logTrace(t, rr)
			}
		}
		t.Fatalf("lfsim: %s: %s", s.Name, explore.Describe(r.Failure))
	})
}
