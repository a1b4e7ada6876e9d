package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runOne(t *testing.T, cfg Config, body func(m *Machine) func(c *Ctx)) (*Machine, Result) {
	t.Helper()
	m, err := New(cfg)
	require.NoError(t, err)
	m.Go("t", 0, body(m))
	r := m.Run(NewBytes(nil))
	require.NoError(t, r.Err)
	return m, r
}

func TestAllocatorMisuseIsNamedWhereItHappensGolden(t *testing.T) {
	cases := map[string]struct {
		body func(m *Machine) func(c *Ctx)
		kind string
		msg  string
	}{
		"double free": {func(m *Machine) func(c *Ctx) {
			kc := m.KmemCacheCreate("skbuff_head_cache", 4)
			return func(c *Ctx) {
				h := c.KmemCacheAlloc(kc, GFPAtomic)
				c.KmemCacheFree(kc, h)
				c.KmemCacheFree(kc, h)
			}
		}, KindDoubleFree, "#1 (skbuff_head_cache) freed again; it was freed by task t at step 4"},
		"free of a never-allocated object": {func(m *Machine) func(c *Ctx) {
			return func(c *Ctx) { c.Kfree(42) }
		}, KindInvalidFree, "free of #42, which was never allocated"},
		"free to the wrong cache": {func(m *Machine) func(c *Ctx) {
			a, b := m.KmemCacheCreate("a", 1), m.KmemCacheCreate("b", 1)
			return func(c *Ctx) { c.KmemCacheFree(b, c.KmemCacheAlloc(a, GFPAtomic)) }
		}, KindInvalidFree, "kmem_cache_free(b, #1), but #1 belongs to a"},
		"read after free": {func(m *Machine) func(c *Ctx) {
			return func(c *Ctx) {
				h := c.Kmalloc(2, GFPAtomic)
				c.Store(m.Object(h).Word(1), 7)
				c.Kfree(h)
				c.Load(m.Object(h).Word(1))
			}
		}, KindUseAfterFree, "load of #1[1]: #1 (kmalloc-16) was freed by task t at step 5"},
		"GFP_KERNEL in atomic context": {func(m *Machine) func(c *Ctx) {
			return func(c *Ctx) { c.LocalBhDisable(); c.Kmalloc(1, GFPKernel) }
		}, KindBug, "sleeping function called from invalid context: kmem_cache_alloc(kmalloc-8, GFP_KERNEL)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, r := runOne(t, Config{CPUs: 1}, tc.body)
			require.NotNil(t, r.Failure)
			assert.Equal(t, tc.kind, r.Failure.Kind)
			assert.Contains(t, r.Failure.Message, tc.msg)
			assert.Equal(t, "task t", r.Failure.Context)
		})
	}
}

func TestAllocatorReusesAndReportsLeaks(t *testing.T) {
	var got []uint64
	m, r := runOne(t, Config{CPUs: 1}, func(m *Machine) func(c *Ctx) {
		kc := m.KmemCacheCreate("c", 1)
		return func(c *Ctx) {
			a, b := c.KmemCacheAlloc(kc, GFPKernel), c.KmemCacheAlloc(kc, GFPAtomic)
			c.KmemCacheFree(kc, a)
			got = append(got, a, b, c.KmemCacheAlloc(kc, GFPAtomic)) // most recently freed first
			c.Kfree(0)                                               // kfree(NULL) is fine
		}
	})
	require.Nil(t, r.Failure)
	assert.Equal(t, []uint64{1, 2, 1}, got)
	var leaks []string
	for _, o := range m.Live() {
		leaks = append(leaks, o.String())
	}
	assert.Equal(t, []string{"#1 (c) allocated by task t at step 6", "#2 (c) allocated by task t at step 4"}, leaks)
	assert.Equal(t, int64(5), r.Costs.Slab)
}

// Allocation failure is a decision: the random walk makes some allocations
// fail, within the budget, and replay makes the same ones fail.
func TestAllocationFailureInjection(t *testing.T) {
	setup := func(nulls *int) func(m *Machine) {
		return func(m *Machine) {
			kc := m.KmemCacheCreate("c", 1)
			m.Go("t", 0, func(c *Ctx) {
				for range 20 {
					if h := c.KmemCacheAlloc(kc, GFPAtomic); h == 0 {
						*nulls++
					} else {
						c.KmemCacheFree(kc, h)
					}
				}
			})
		}
	}
	var nulls int
	r := build(t, Config{CPUs: 1, AllocFailures: 3}, setup(&nulls)).Run(NewRandom(7))
	require.Nil(t, r.Failure)
	assert.Positive(t, nulls)
	assert.LessOrEqual(t, nulls, 3)
	assert.Contains(t, r.Tokens(), "f0")

	var again int
	rr := build(t, Config{CPUs: 1, AllocFailures: 3}, setup(&again)).Run(NewReplay(r.Decisions))
	require.NoError(t, rr.Err)
	assert.Equal(t, nulls, again)

	var none int
	build(t, Config{CPUs: 1}, setup(&none)).Run(NewRandom(7))
	assert.Zero(t, none, "no budget, no failures")
}

func TestCostsCount(t *testing.T) {
	_, r := runOne(t, Config{CPUs: 1}, func(m *Machine) func(c *Ctx) {
		x := m.NewCell("x", W32, 0)
		return func(c *Ctx) {
			c.PreemptDisable()
			c.Cmpxchg(x, 0, 1)
			c.Xchg(x, 2)
			c.SmpWmb()
			c.SmpStoreRelease(x, 3)
			c.ReadOnce(x)
			c.PreemptEnable()
		}
	})
	assert.Equal(t, Costs{Atomics: 2, Barriers: 2, Toggles: 2}, r.Costs)
}

// A local_bh_enable that runs pending softirqs is a toggle like any other.
func TestCostsCountBhEnableThatRunsSoftirqs(t *testing.T) {
	m := build(t, Config{CPUs: 1}, func(m *Machine) {
		m.OpenSoftirq(NetRxSoftirq, func(c *Ctx) {})
		m.Go("t", 0, func(c *Ctx) {
			c.LocalBhDisable()
			c.RaiseSoftirq(NetRxSoftirq)
			c.LocalBhEnable() // runs NET_RX here
		})
	})
	r := m.Run(NewBytes(nil))
	require.Nil(t, r.Failure)
	assert.Equal(t, int64(2), r.Costs.Toggles)
}
