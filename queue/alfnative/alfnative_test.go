package alfnative

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kernelsim/lfsim/native"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestMPMCConservesAndKeepsEachProducersOrder runs the generated queue on
// real goroutines: two producers (MP) and two consumers (MC), narrow ring,
// bulks of 1 to 5. Every value comes out exactly once, and each consumer
// sees each producer's values in increasing order. Under -race it also
// checks that the barriers' mapping to sync/atomic orders the plain slot
// accesses.
func TestMPMCConservesAndKeepsEachProducersOrder(t *testing.T) {
	const producers, consumers, each = 2, 2, 20000
	m := native.NewMachine(producers + consumers)
	q, err := New(m, "q", 8, Options{})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			c := m.CPU(p)
			for next := 0; next < each; {
				k := min(1+next%5, each-next)
				vals := make([]uint64, k)
				for i := range vals {
					vals[i] = uint64(p)<<32 | uint64(next+i+1)
				}
				if q.MPEnqueue(c, vals) == k {
					next += k
				} else {
					c.CpuRelax()
				}
			}
		})
	}
	got := make([][]uint64, consumers)
	var taken sync.WaitGroup
	var total atomic.Int64
	for k := range consumers {
		taken.Go(func() {
			c := m.CPU(producers + k)
			out := make([]uint64, 3)
			for total.Load() < producers*each {
				n := q.MCDequeue(c, out)
				if n == 0 {
					c.CpuRelax()
					continue
				}
				total.Add(int64(n))
				got[k] = append(got[k], out[:n]...)
			}
		})
	}
	wg.Wait()
	taken.Wait()
	seen := map[uint64]bool{}
	for _, vals := range got {
		last := make([]uint64, producers)
		for _, v := range vals {
			require.False(t, seen[v], "value %#x dequeued twice", v)
			seen[v] = true
			p, n := v>>32, v&0xffffffff
			require.Greater(t, n, last[p], "producer %d's values out of order", p)
			last[p] = n
		}
	}
	assert.Len(t, seen, producers*each)
	vals, err := q.Peek()
	require.NoError(t, err)
	assert.Empty(t, vals)
}

func TestSPSCOnTwoGoroutines(t *testing.T) {
	const n = 50000
	m := native.NewMachine(2)
	q, err := New(m, "q", 16, Options{Debug: true})
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		c := m.CPU(0)
		for i := uint64(1); i <= n; {
			if q.SPEnqueue(c, []uint64{i}) == 1 {
				i++
			} else {
				c.CpuRelax()
			}
		}
	})
	c := m.CPU(1)
	out := make([]uint64, 4)
	for want := uint64(1); want <= n; {
		k := q.SCDequeue(c, out)
		for _, v := range out[:k] {
			require.Equal(t, want, v)
			want++
		}
		if k == 0 {
			c.CpuRelax()
		}
	}
	wg.Wait()
}
