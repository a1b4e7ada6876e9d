package qmempoolnative

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kernelsim/lfsim/native"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestObjectsAreNeverHandedOutTwice runs the generated pool on two
// goroutines, one per CPU id, in bursts of 1 to 40 (past the per-CPU
// queue, through sharedq and the slab), half in softirq, half from task
// context with bottom halves disabled by the pool. No object is held by
// two callers at once, and at the end every object is in the pool.
func TestObjectsAreNeverHandedOutTwice(t *testing.T) {
	m := native.NewMachine(2)
	kc := m.KmemCacheCreate("obj", 2)
	p, err := New(m, Config{LocalQ: 16, SharedQ: 128, Prealloc: 32, Kmem: kc})
	require.NoError(t, err)
	require.NoError(t, p.Prealloc(m.CPU(0), native.GFPKernel))
	var owner sync.Map // object -> cpu
	var wg sync.WaitGroup
	for cpu := range 2 {
		wg.Go(func() {
			c := m.CPU(cpu)
			held := make([]uint64, 0, 40)
			for round := range 2000 {
				c.Softirq(func(c *native.Ctx) {
					for range 1 + round%40 {
						obj := p.Alloc(c, native.GFPAtomic)
						if prev, taken := owner.LoadOrStore(obj, cpu); taken {
							t.Errorf("object %d handed to CPU%d while CPU%d holds it", obj, cpu, prev)
						}
						held = append(held, obj)
					}
				})
				for _, obj := range held {
					owner.Delete(obj)
					p.Free(c, obj)
				}
				held = held[:0]
			}
			assert.NoError(t, c.Balanced())
		})
	}
	wg.Wait()
	held, err := p.Holding()
	require.NoError(t, err)
	assert.Len(t, held, kc.Live(), "every live object is in the pool")
}
