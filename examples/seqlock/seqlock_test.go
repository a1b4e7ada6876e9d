package seqlock

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/check"
	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/sim"
)

// workload: a writer on CPU0 writes 1, 2, 3 while a reader on CPU1 reads
// three times; a torn pair is a BUG where it is read.
func workload(read func(s *Seqlock, c *sim.Ctx) (uint64, uint64)) check.Workload {
	return check.Workload{CPUs: 2, Build: func(m *sim.Machine) check.Check {
		s := New(m)
		reader := func(c *sim.Ctx) {
			a, b := read(s, c)
			c.BugOn(a != b, "torn read: a=%d b=%d", a, b)
		}
		m.Go("writer", 0, func(c *sim.Ctx) {
			for v := uint64(1); v <= 3; v++ {
				s.Write(c, v)
			}
		})
		m.Go("reader", 1, func(c *sim.Ctx) {
			for range 3 {
				reader(c)
			}
		})
		return nil
	}}
}

func TestSeqlock(t *testing.T) {
	check.Run(t, workload((*Seqlock).Read), check.Runs(5000))
}

func FuzzSeqlock(f *testing.F) { check.Fuzz(f, workload((*Seqlock).Read)) }

// Without the evenness test a reader accepts a pair read in mid-update.
func TestReadUncheckedIsBroken(t *testing.T) {
	out, err := explore.Explore(context.Background(), explore.Config{
		Scenario: workload((*Seqlock).ReadUnchecked).Scenario("SeqlockUnchecked"),
		Strategy: explore.Mix, Seed: 1, Runs: 5000,
	})
	require.NoError(t, err)
	require.NotNil(t, out.Failure, "no failure in %d runs", out.Runs)
	assert.Equal(t, sim.KindBug, out.Failure.Kind)
	assert.Regexp(t, `^seqlock/seqlock_test\.go:\d+$`, out.Failure.Site(), "the reader's BUG_ON")
	t.Logf("found in run %d: %s", out.FailRun, explore.Describe(out.Failure))
}
