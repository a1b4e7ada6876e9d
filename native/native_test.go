package native

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCmpxchgReturnsTheValueItFound(t *testing.T) {
	m := NewMachine(1)
	c, x := m.CPU(0), m.NewCell("x", W64, 5)
	assert.Equal(t, uint64(5), c.Cmpxchg(x, 5, 7), "swapped: returns old")
	assert.Equal(t, uint64(7), x.Peek())
	assert.Equal(t, uint64(7), c.Cmpxchg(x, 5, 9), "not swapped: returns what it found")
	assert.Equal(t, uint64(7), x.Peek())
}

// TestAtomicsCountUnderContention: four goroutines, four CPU ids, one
// counter incremented by cmpxchg loops.
func TestAtomicsCountUnderContention(t *testing.T) {
	m := NewMachine(4)
	x := m.NewCell("x", W64, 0)
	var wg sync.WaitGroup
	for cpu := range 4 {
		wg.Go(func() {
			c := m.CPU(cpu)
			for range 1000 {
				for range 2 {
					for {
						old := c.ReadOnce(x)
						if c.Cmpxchg(x, old, old+1) == old {
							break
						}
						c.CpuRelax()
					}
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(8000), x.Peek())
}

func TestSpinlockExcludes(t *testing.T) {
	m := NewMachine(2)
	l, x := m.NewSpinlock("l"), m.NewCell("x", W64, 0)
	var wg sync.WaitGroup
	for cpu := range 2 {
		wg.Go(func() {
			c := m.CPU(cpu)
			for range 2000 {
				fl := c.SpinLockIrqsave(l)
				c.Store(x, c.Load(x)+1) // plain: the lock orders it
				c.SpinUnlockIrqrestore(l, fl)
			}
			assert.NoError(t, c.Balanced())
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(4000), x.Peek())
}

// failure runs fn and returns the *Failure it panics with.
func failure(t *testing.T, fn func()) (f *Failure) {
	t.Helper()
	defer func() {
		var ok bool
		f, ok = recover().(*Failure)
		require.True(t, ok, "want a *Failure panic")
	}()
	fn()
	return nil
}

func TestBugOnAndUnbalancedTogglesFail(t *testing.T) {
	m := NewMachine(2)
	c := m.CPU(1)
	f := failure(t, func() { c.BugOn(1 > 0, "queue %s broken", "q") })
	assert.Equal(t, &Failure{Kind: KindBug, CPU: 1, Msg: "queue q broken"}, f)
	assert.Equal(t, "bug on CPU1: queue q broken", f.Error())
	f = failure(t, func() { c.LocalBhEnable() })
	assert.Contains(t, f.Msg, "local_bh_enable without")
	f = failure(t, func() { c.PreemptEnable() })
	assert.Contains(t, f.Msg, "preempt_enable without")
	c.Softirq(func(c *Ctx) { assert.True(t, c.InServingSoftirq()) })
	assert.False(t, c.InServingSoftirq())
}

func TestKmemCache(t *testing.T) {
	m := NewMachine(1)
	c := m.CPU(0)
	kc := m.KmemCacheCreate("k", 4)
	a, b := c.KmemCacheAlloc(kc, GFPKernel), c.KmemCacheAlloc(kc, GFPAtomic)
	require.Equal(t, []uint64{1, 2}, []uint64{a, b})
	kc.Words(b)[3] = 42
	assert.Equal(t, uint64(42), kc.Words(b)[3])
	assert.Len(t, kc.Words(a), 4)
	c.KmemCacheFree(kc, a)
	assert.Equal(t, 1, kc.Live())
	assert.Equal(t, a, c.KmemCacheAlloc(kc, GFPAtomic), "most recently freed first")
	c.KmemCacheFree(kc, a)
	assert.Equal(t, KindDoubleFree, failure(t, func() { c.KmemCacheFree(kc, a) }).Kind)
	assert.Equal(t, KindInvalidFree, failure(t, func() { c.KmemCacheFree(kc, 99) }).Kind)
	// Past one chunk of objects.
	for range chunkObjects + 1 {
		h := c.KmemCacheAlloc(kc, GFPAtomic)
		kc.Words(h)[0] = h
	}
	assert.Equal(t, uint64(chunkObjects), kc.Words(chunkObjects)[0])
}

// The calls a user's subject may make beyond the project's own: softirqs
// run when raised outside bottom halves, or at the local_bh_enable; kmalloc
// objects free back to their cache; a mutex in atomic context is a BUG.
func TestKernelCallsOfUserSubjects(t *testing.T) {
	m := NewMachine(1)
	c := m.CPU(0)
	var ran []string
	m.OpenSoftirq(NetRxSoftirq, func(c *Ctx) { ran = append(ran, fmt.Sprintf("rx serving=%t", c.InServingSoftirq())) })
	c.RaiseSoftirq(NetRxSoftirq)
	assert.Equal(t, []string{"rx serving=true"}, ran, "raised outside bottom halves: runs at once")
	c.LocalBhDisable()
	c.RaiseSoftirq(NetRxSoftirq)
	assert.Len(t, ran, 1, "deferred while bottom halves are off")
	assert.True(t, c.InSoftirq())
	c.LocalBhEnable()
	assert.Len(t, ran, 2, "run at local_bh_enable")

	x := m.NewCell("x", W64, 5)
	assert.Equal(t, uint64(5), c.Xchg(x, 7))
	assert.Equal(t, uint64(4), c.AtomicAddReturn(x, -3))
	assert.Equal(t, uint64(4), c.SmpLoadAcquire(x))

	a, b := c.Kmalloc(3, GFPAtomic), c.Kmalloc(3, GFPAtomic)
	require.NotEqual(t, a, b)
	c.WriteOnce(c.Machine().Object(a).Word(3), 1) // four words: the power-of-two class of three
	assert.Equal(t, uint64(1), m.Object(a).Word(3).Peek())
	assert.Nil(t, m.Object(0))
	c.Kfree(a)
	c.Kfree(0)
	assert.Equal(t, a, c.Kmalloc(4, GFPAtomic), "freed objects come back first")
	f := failure(t, func() { c.Kfree(b); c.Kfree(b) })
	require.NotNil(t, f)
	assert.Equal(t, KindDoubleFree, f.Kind)

	mu := m.NewMutex("mu")
	c.MutexLock(mu)
	c.MutexUnlock(mu)
	c.PreemptDisable()
	f = failure(t, func() { c.MutexLock(mu) })
	require.NotNil(t, f)
	assert.Equal(t, KindBug, f.Kind)
}
