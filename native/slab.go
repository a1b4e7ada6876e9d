package native

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// GFP is an allocation's gfp_t; natively every allocation may proceed.
type GFP uint8

// The gfp values of package sim.
const (
	GFPAtomic GFP = iota
	GFPKernel
)

// Objects are kept in chunks so that a handle finds its memory without a
// lock: chunk i holds objects i*chunkObjects+1 .. (i+1)*chunkObjects.
const (
	chunkShift   = 12
	chunkObjects = 1 << chunkShift
	maxChunks    = 1 << 12 // 16M objects per cache
)

// KmemCache is a kmem_cache of fixed-size objects, each some 64-bit words
// of memory, handed out by handle (1, 2, 3, ...; 0 is NULL).
type KmemCache struct {
	name  string
	words int

	mu     sync.Mutex
	free   []uint64 // LIFO, most recently freed first
	live   []bool   // by handle
	made   uint64
	chunks [maxChunks]atomic.Pointer[[]uint64]
}

// KmemCacheCreate is kmem_cache_create: objects of words words each.
func (m *Machine) KmemCacheCreate(name string, words int) *KmemCache {
	if words < 1 {
		panic(fmt.Sprintf("native: kmem_cache %s of %d words", name, words))
	}
	return &KmemCache{name: name, words: words, live: []bool{false}}
}

// Live returns how many objects are allocated.
func (kc *KmemCache) Live() int {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	return int(kc.made) - len(kc.free)
}

// Words returns the memory of object h.
func (kc *KmemCache) Words(h uint64) []uint64 {
	i := h - 1
	ch := *kc.chunks[i>>chunkShift].Load()
	off := int(i&(chunkObjects-1)) * kc.words
	return ch[off : off+kc.words : off+kc.words]
}

// KmemCacheAlloc is kmem_cache_alloc: an object, or 0 when the cache has
// handed out all the objects it can address.
func (c *Ctx) KmemCacheAlloc(kc *KmemCache, gfp GFP) uint64 {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if n := len(kc.free); n > 0 {
		h := kc.free[n-1]
		kc.free = kc.free[:n-1]
		kc.live[h] = true
		return h
	}
	if kc.made == maxChunks*chunkObjects {
		return 0
	}
	if kc.made%chunkObjects == 0 {
		ch := make([]uint64, chunkObjects*kc.words)
		kc.chunks[kc.made>>chunkShift].Store(&ch)
	}
	kc.made++
	kc.live = append(kc.live, true)
	return kc.made
}

// KmemCacheFree is kmem_cache_free: a double free, or a free of something
// this cache never handed out, fails.
func (c *Ctx) KmemCacheFree(kc *KmemCache, h uint64) {
	kc.mu.Lock()
	switch {
	case h == 0 || h > kc.made:
		kc.mu.Unlock()
		c.Fail(KindInvalidFree, "kmem_cache_free(%s, #%d): not an object of this cache", kc.name, h)
	case !kc.live[h]:
		kc.mu.Unlock()
		c.Fail(KindDoubleFree, "kmem_cache_free(%s, #%d): already free", kc.name, h)
	}
	kc.live[h] = false
	kc.free = append(kc.free, h)
	kc.mu.Unlock()
}
