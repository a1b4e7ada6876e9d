package explore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
)

// The skb workload crashes the 2005 ring (named), and runs clean on the
// slab and on qmempool used in their intended contexts.
func TestSKBWorkload(t *testing.T) {
	c := config(t, "skb", "pool=ring2005")
	c.Runs = 100
	out, err := Explore(context.Background(), c)
	require.NoError(t, err)
	require.NotNil(t, out.Failure)
	assert.Contains(t, []string{sim.KindPanic, sim.KindOutOfBounds, sim.KindDoubleFree, sim.KindUseAfterFree, "double-owner", "leak", "not-linearizable"}, out.Failure.Kind)
	t.Logf("ring2005 under skb: %v in run %d", out.Failure, out.FailRun)

	runs := 20_000
	if testing.Short() {
		runs = 300
	}
	for _, pool := range []string{"slab", "qmempool"} {
		c := config(t, "skb", "pool="+pool)
		c.Strategy, c.Runs = PCT, runs
		out, err := Explore(context.Background(), c)
		require.NoError(t, err)
		assert.Nil(t, out.Failure, "%s: %v", pool, out.Failure)
		assert.Equal(t, runs, out.Runs)
	}
}

func TestQmempoolFromHardirqIsCaught(t *testing.T) {
	for _, tc := range []struct{ variant, site, msg string }{
		{"softirq", `^alf/alf\.go:\d+$`, "another consumer is active"},
		{"checked", `^(qmempool/qmempool|scenario/skb)\.go:\d+$`, "local_bh_enable() in hardirq context"},
	} {
		c := config(t, "qmempool-hardirq", "variant="+tc.variant)
		c.Runs = 5000
		out, err := Explore(context.Background(), c)
		require.NoError(t, err)
		require.NotNil(t, out.Failure)
		assert.Equal(t, sim.KindBug, out.Failure.Kind)
		assert.Regexp(t, tc.site, out.Failure.Site())
		assert.Contains(t, out.Failure.Message, tc.msg)
		assert.Contains(t, out.Failure.Context+" "+out.Failure.Message, "sockread")
		rep, err := replayFile(out.Schedule, false)
		require.NoError(t, err)
		assert.True(t, rep.Reproduced)
	}
}

// What the checker found in the faithful qmempool. When allocations may
// fail, the refill after a slab failure part-way through a batch of j
// objects enqueues j-1 of them, which BUGs for j <= 1 and leaks one object
// otherwise. Under load, a refill into a sharedq that consumers have
// emptied but not yet released (their consumer.tail still behind) finds no
// space and BUGs: the in-flight reservations of alf_queue meet qmempool's
// assumption that a refill cannot fail. The schedules are kept as
// regression tests.
func TestQmempoolRefillFindings(t *testing.T) {
	for file, want := range map[string]struct{ kind, site, msg string }{
		"qmempool-refill-bug.sched":  {sim.KindBug, `^qmempool/qmempool\.go:\d+$`, "refill after slab failure: sharedq enqueue"},
		"qmempool-refill-leak.sched": {"leak", `^scenario/skb\.go:\d+$`, "neither freed nor in the pool"},
		"qmempool-refill-full.sched": {sim.KindBug, `^qmempool/qmempool\.go:\d+$`, "qmempool: refill: sharedq full"},
		// Two CPUs suffice once a task allocates beside NET_RX (senders=).
		"qmempool-refill-senders.sched": {sim.KindBug, `^qmempool/qmempool\.go:\d+$`, "qmempool: refill: sharedq full"},
	} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", file))
		require.NoError(t, err)
		f, err := schedule.Decode(data)
		require.NoError(t, err)
		rep, err := replayFile(f, false)
		require.NoError(t, err)
		require.True(t, rep.Reproduced, file)
		assert.Equal(t, want.kind, rep.Failure.Kind, file)
		assert.Regexp(t, want.site, rep.Failure.Site(), file)
		assert.Contains(t, rep.Failure.Message, want.msg, file)
	}
}

// The seed's central claim, made visible: one cmpxchg amortised over a
// bulk of 16. Per alloc+free pair, the slab costs two slab calls; the
// qmempool fast path costs no slab call and about 1/16 of an atomic.
func TestCostsPerPair(t *testing.T) {
	perPair := func(set ...string) *PerUnit {
		c := config(t, "skb", append([]string{"cpus=1", "free=softirq", "packets=512", "localq=64", "sharedq=512", "prealloc=256"}, set...)...)
		c.Runs = 5
		out, err := Explore(context.Background(), c)
		require.NoError(t, err)
		require.Nil(t, out.Failure)
		return out.PerUnit()
	}
	slab := perPair("pool=slab", "burst=1")
	assert.Equal(t, PerUnit{Slab: 2}, *slab)
	fast := perPair("pool=qmempool", "burst=1")
	assert.Zero(t, fast.Slab)
	assert.InDelta(t, 1.0/16, fast.Atomics, 0.03)
	assert.Zero(t, fast.Toggles, "softirq context: no bh toggles")
	burst := perPair("pool=qmempool", "burst=256")
	assert.Less(t, burst.Slab, slab.Slab)
	t.Logf("per pair: slab %+v; qmempool fast path %+v; qmempool burst 256 %+v", *slab, *fast, *burst)
}
