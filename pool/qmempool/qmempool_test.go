package qmempool

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kernelsim/lfsim/queue/alf"
	"github.com/kernelsim/lfsim/sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewEnforcesTheCreateRules(t *testing.T) {
	m, err := sim.New(sim.Config{CPUs: 2})
	require.NoError(t, err)
	kc := m.KmemCacheCreate("c", 1)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{LocalQ: 16, SharedQ: 32}, "no backing kmem_cache"},
		{Config{LocalQ: 8, SharedQ: 32, Kmem: kc}, "localq size 8"},
		{Config{LocalQ: 24, SharedQ: 32, Kmem: kc}, "localq size 24"},
		{Config{LocalQ: 16, SharedQ: 16, Kmem: kc}, "sharedq size 16"},
		{Config{LocalQ: 16, SharedQ: 32, Prealloc: 33, Kmem: kc}, "prealloc 33"},
	} {
		_, err := New(m, tc.cfg)
		assert.ErrorContains(t, err, tc.want)
	}
	p, err := New(m, Config{LocalQ: 16, SharedQ: 32, Prealloc: 20, Kmem: kc})
	require.NoError(t, err)
	assert.Equal(t, "qmempool: prealloc 20 is not a multiple of 16", p.Warning, "only a warning")
	assert.Len(t, p.localq, 2, "one localq per possible CPU")
}

// alone runs fn with bottom halves disabled on a one-CPU machine and
// returns the machine's result; the pool has localq 16 and sharedq 32.
func alone(t *testing.T, prealloc int, fn func(c *sim.Ctx, p *Pool, kc *sim.KmemCache)) (*sim.Machine, sim.Result) {
	t.Helper()
	m, err := sim.New(sim.Config{CPUs: 1})
	require.NoError(t, err)
	kc := m.KmemCacheCreate("c", 1)
	p, err := New(m, Config{LocalQ: 16, SharedQ: 32, Prealloc: prealloc, Kmem: kc, Debug: true})
	require.NoError(t, err)
	m.Init("create", func(c *sim.Ctx) { require.NoError(t, p.Prealloc(c, sim.GFPKernel)) })
	m.Go("t", 0, func(c *sim.Ctx) {
		c.LocalBhDisable()
		fn(c, p, kc)
		c.LocalBhEnable()
	})
	r := m.Run(sim.NewBytes(nil))
	require.NoError(t, r.Err)
	return m, r
}

// The alloc paths, in order: sharedq bulk into localq, then localq, then
// the slab with its refill of 2 x 16 into sharedq.
func TestAllocPaths(t *testing.T) {
	m, r := alone(t, 32, func(c *sim.Ctx, p *Pool, kc *sim.KmemCache) {
		assert.Equal(t, 32, kc.Live(), "prealloc")
		first := p.AllocSoftirq(c, sim.GFPAtomic)
		assert.NotZero(t, first)
		assert.Equal(t, 15, len(peek(t, p.localq[0])), "a bulk of 16 from sharedq: one returned, 15 to localq")
		assert.Equal(t, 16, len(peek(t, p.sharedq)))
		for range 31 {
			assert.NotZero(t, p.AllocSoftirq(c, sim.GFPAtomic))
		}
		assert.Empty(t, holding(t, p), "32 handed out")
		assert.Equal(t, 32, kc.Live())
		assert.NotZero(t, p.AllocSoftirq(c, sim.GFPAtomic), "from the slab")
		assert.Equal(t, 32+1+2*Bulk, kc.Live(), "1 + 2 x 16 slab allocations")
		assert.Len(t, peek(t, p.sharedq), 2*Bulk, "the refill went to sharedq")
		assert.Empty(t, peek(t, p.localq[0]), "localq is not refilled from the slab")
	})
	require.Nil(t, r.Failure)
	assert.Len(t, m.Live(), 65)
}

// The free paths: into localq; when it is full, this object and 15 from
// localq in one MP enqueue to sharedq; when that is full too, those 16 to
// the slab and then 2 x 16 drained from sharedq to the slab. Destroy then
// returns the rest.
func TestFreePathsAndDestroy(t *testing.T) {
	m, r := alone(t, 0, func(c *sim.Ctx, p *Pool, kc *sim.KmemCache) {
		var objs []uint64
		for range 49 {
			objs = append(objs, c.KmemCacheAlloc(kc, sim.GFPAtomic))
		}
		free := func(n int) {
			for range n {
				p.FreeSoftirq(c, objs[0])
				objs = objs[1:]
			}
		}
		free(16)
		assert.Len(t, peek(t, p.localq[0]), 16, "localq full")
		free(1)
		assert.Len(t, peek(t, p.localq[0]), 1)
		assert.Len(t, peek(t, p.sharedq), 16, "this object and 15 from localq")
		free(15 + 1)
		assert.Len(t, peek(t, p.sharedq), 32, "sharedq full")
		free(15)
		assert.Equal(t, 49, kc.Live(), "nothing back to the slab yet")
		free(1)
		assert.Empty(t, peek(t, p.sharedq), "sharedq full: 16 to the slab, then 2 x 16 drained")
		assert.Len(t, peek(t, p.localq[0]), 1)
		assert.Equal(t, 1, kc.Live())
		p.Destroy(c)
		assert.Empty(t, holding(t, p))
		assert.Zero(t, kc.Live())
	})
	require.Nil(t, r.Failure)
	assert.Empty(t, m.Live())
}

// With task-context calls the pool disables bottom halves itself.
func TestCheckedVariantsToggleBottomHalves(t *testing.T) {
	m, err := sim.New(sim.Config{CPUs: 1})
	require.NoError(t, err)
	kc := m.KmemCacheCreate("c", 1)
	p, err := New(m, Config{LocalQ: 16, SharedQ: 32, Kmem: kc})
	require.NoError(t, err)
	m.ScopeCosts()
	m.Go("t", 0, func(c *sim.Ctx) {
		c.Account(func() { p.Free(c, p.Alloc(c, sim.GFPAtomic)) })
	})
	r := m.Run(sim.NewBytes(nil))
	require.Nil(t, r.Failure)
	assert.Equal(t, int64(4), r.Costs.Toggles, "local_bh_disable/enable around alloc and free")
}

func peek(t *testing.T, q *alf.Queue) []uint64 {
	vals, err := q.Peek()
	require.NoError(t, err)
	return vals
}

func holding(t *testing.T, p *Pool) []uint64 {
	held, err := p.Holding()
	require.NoError(t, err)
	return held
}
