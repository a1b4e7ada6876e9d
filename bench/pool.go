package bench

import (
	"fmt"
	"sync"
	"testing"

	"github.com/kernelsim/lfsim/native"
	"github.com/kernelsim/lfsim/pool/qmempoolnative"
)

// ObjectWords is the size of the objects pooled: 256 bytes, an skb head.
const ObjectWords = 32

// Allocators are the ways to get and give back an object that the pool
// benchmarks compare.
var Allocators = []string{"slab", "qmempool-softirq", "qmempool-bh", "sync.Pool", "new"}

// allocator gets and puts objects; an object is a handle for the kernel
// style ones, a pointer for the Go ones.
type allocator struct {
	alloc func(i int) // the i-th object of a burst: allocate and touch
	free  func(i int)
}

// newAllocator sets up the named allocator for bursts of up to n objects.
func newAllocator(name string, n int) (allocator, error) {
	m := native.NewMachine(1)
	c := m.CPU(0)
	kc := m.KmemCacheCreate("skbuff_head_cache", ObjectWords)
	handles := make([]uint64, n)
	switch name {
	case "slab":
		return allocator{
			alloc: func(i int) { handles[i] = c.KmemCacheAlloc(kc, native.GFPAtomic); kc.Words(handles[i])[0] = 1 },
			free:  func(i int) { c.KmemCacheFree(kc, handles[i]) },
		}, nil
	case "qmempool-softirq", "qmempool-bh":
		p, err := qmempoolnative.New(m, qmempoolnative.Config{LocalQ: 64, SharedQ: 1024, Prealloc: 256, Kmem: kc})
		if err != nil {
			return allocator{}, err
		}
		if err := p.Prealloc(c, native.GFPKernel); err != nil {
			return allocator{}, err
		}
		if name == "qmempool-bh" { // task context: Alloc and Free disable bottom halves
			return allocator{
				alloc: func(i int) { handles[i] = p.Alloc(c, native.GFPAtomic); kc.Words(handles[i])[0] = 1 },
				free:  func(i int) { p.Free(c, handles[i]) },
			}, nil
		}
		return allocator{
			alloc: func(i int) { handles[i] = p.AllocSoftirq(c, native.GFPAtomic); kc.Words(handles[i])[0] = 1 },
			free:  func(i int) { p.FreeSoftirq(c, handles[i]) },
		}, nil
	case "sync.Pool":
		pool := sync.Pool{New: func() any { return new([ObjectWords]uint64) }}
		objs := make([]*[ObjectWords]uint64, n)
		return allocator{
			alloc: func(i int) { objs[i] = pool.Get().(*[ObjectWords]uint64); objs[i][0] = 1 },
			free:  func(i int) { pool.Put(objs[i]); objs[i] = nil },
		}, nil
	case "new":
		objs := make([]*[ObjectWords]uint64, n)
		return allocator{
			alloc: func(i int) { objs[i] = new([ObjectWords]uint64); objs[i][0] = 1 },
			free:  func(i int) { objs[i] = nil }, // the garbage collector's job
		}, nil
	}
	return allocator{}, fmt.Errorf("unknown allocator %q: want one of %v", name, Allocators)
}

// PoolBurst runs the named allocator in bursts of burst allocations
// followed by as many frees, on one goroutine (burst 1 is the fast-path
// reuse pattern). ns/op is the cost of one alloc plus one free.
func PoolBurst(b *testing.B, name string, burst int) {
	a, err := newAllocator(name, burst)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += burst {
		for i := range burst {
			a.alloc(i)
		}
		for i := range burst {
			a.free(i)
		}
	}
}
