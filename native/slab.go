package native

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
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
	id    uint64 // the cache's number on its machine, in its handles' top bits

	mu     sync.Mutex
	free   []uint64 // LIFO, most recently freed first
	live   []bool   // by handle
	made   uint64
	chunks [maxChunks]atomic.Pointer[[]uint64]
}

// A handle is the cache's number above cacheShift and the object's number
// in its cache below, so that one number names an object on the machine,
// as in the simulator: the first cache's objects are 1, 2, 3, ...
const (
	cacheShift = 40
	localMask  = 1<<cacheShift - 1
	maxCaches  = 1 << 10
)

// KmemCacheCreate is kmem_cache_create: objects of words words each.
func (m *Machine) KmemCacheCreate(name string, words int) *KmemCache {
	if words < 1 {
		panic(fmt.Sprintf("native: kmem_cache %s of %d words", name, words))
	}
	id := m.ncaches.Add(1) - 1
	if id >= maxCaches {
		panic(fmt.Sprintf("native: more than %d kmem caches", maxCaches))
	}
	kc := &KmemCache{name: name, words: words, id: id, live: []bool{false}}
	m.caches[id].Store(kc)
	return kc
}

// Object is an allocated object's memory, as the simulator's Object.
type Object struct {
	words []uint64
	h     uint64
}

// Object returns the object a handle names, or nil for 0 or a handle
// no cache of this machine can have handed out. It takes no lock: a
// subject reaches its objects' words through it on every access.
func (m *Machine) Object(h uint64) *Object {
	id := h >> cacheShift
	if h == 0 || id >= maxCaches {
		return nil
	}
	kc := m.caches[id].Load()
	if kc == nil {
		return nil
	}
	i := h&localMask - 1
	if i>>chunkShift >= maxChunks {
		return nil
	}
	ch := kc.chunks[i>>chunkShift].Load()
	if ch == nil {
		return nil
	}
	off := int(i&(chunkObjects-1)) * kc.words
	return &Object{words: (*ch)[off : off+kc.words : off+kc.words], h: h}
}

// Word is the object's word i.
func (o *Object) Word(i int) *Cell { return (*Cell)(unsafe.Pointer(&o.words[i])) }

// Handle is the object's handle.
func (o *Object) Handle() uint64 { return o.h }

// Live returns how many objects are allocated.
func (kc *KmemCache) Live() int {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	return int(kc.made) - len(kc.free)
}

// Words returns the memory of object h.
func (kc *KmemCache) Words(h uint64) []uint64 {
	i := h&localMask - 1
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
		return kc.id<<cacheShift | h
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
	return kc.id<<cacheShift | kc.made
}

// KmemCacheFree is kmem_cache_free: a double free, or a free of something
// this cache never handed out, fails.
func (c *Ctx) KmemCacheFree(kc *KmemCache, handle uint64) {
	h := handle & localMask
	kc.mu.Lock()
	switch {
	case handle>>cacheShift != kc.id || h == 0 || h > kc.made:
		kc.mu.Unlock()
		c.Fail(KindInvalidFree, "kmem_cache_free(%s, #%d): not an object of this cache", kc.name, handle)
	case !kc.live[h]:
		kc.mu.Unlock()
		c.Fail(KindDoubleFree, "kmem_cache_free(%s, #%d): already free", kc.name, handle)
	}
	kc.live[h] = false
	kc.free = append(kc.free, h)
	kc.mu.Unlock()
}
