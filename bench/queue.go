// Package bench holds the native benchmarks of the subjects, as functions
// that both `go test -bench` and `simrun bench` run: alf_queue's cost per
// element at bulk 1 to 16 (MPMC and SPSC; one goroutine, or producers and
// consumers on their own goroutines), qmempool's alloc+free patterns, and
// the Go queues and allocators they are compared with.
//
// Every queue is driven through the Queue interface, so every row pays
// the same indirect call per bulk call; the ratio of the native port to a
// hand-written sync/atomic queue is measured apart, with direct calls (see
// the package's tests).
package bench

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kernelsim/lfsim/native"
	"github.com/kernelsim/lfsim/queue/alfnative"
)

// Size is the slots of every queue benchmarked.
const Size = 1024

// Queue is a bulk queue as a benchmark drives it; w is the calling
// worker's number (its CPU id for the alf_queue).
type Queue interface {
	// Enqueue puts all of vals or none, and says which.
	Enqueue(w int, vals []uint64) bool
	// Dequeue takes up to len(out) values and says how many.
	Dequeue(w int, out []uint64) int
}

// closer is a queue whose waiting consumers must be woken at the end.
type closer interface{ Close() }

// AlfMPMC is the native alf_queue through MP enqueue and MC dequeue.
type AlfMPMC struct {
	m *native.Machine
	q *alfnative.Queue
}

// NewAlfMPMC makes an alf_queue of Size slots for workers CPUs.
func NewAlfMPMC(workers int) *AlfMPMC {
	m := native.NewMachine(workers)
	q, err := alfnative.New(m, "q", Size, alfnative.Options{})
	if err != nil {
		panic(err)
	}
	return &AlfMPMC{m: m, q: q}
}

func (a *AlfMPMC) Enqueue(w int, vals []uint64) bool {
	return a.q.MPEnqueue(a.m.CPU(w), vals) == len(vals)
}

func (a *AlfMPMC) Dequeue(w int, out []uint64) int { return a.q.MCDequeue(a.m.CPU(w), out) }

// AlfSPSC is the native alf_queue through SP enqueue and SC dequeue: one
// producer and one consumer at most.
type AlfSPSC struct{ AlfMPMC }

// NewAlfSPSC makes an alf_queue of Size slots for workers CPUs.
func NewAlfSPSC(workers int) *AlfSPSC { return &AlfSPSC{*NewAlfMPMC(workers)} }

func (a *AlfSPSC) Enqueue(w int, vals []uint64) bool {
	return a.q.SPEnqueue(a.m.CPU(w), vals) == len(vals)
}

func (a *AlfSPSC) Dequeue(w int, out []uint64) int { return a.q.SCDequeue(a.m.CPU(w), out) }

// Chan is a buffered Go channel, one element at a time.
type Chan chan uint64

// NewChan makes a channel of Size elements.
func NewChan() Chan { return make(Chan, Size) }

// Enqueue blocks while the channel is full: a channel cannot refuse a
// whole bulk at once.
func (ch Chan) Enqueue(_ int, vals []uint64) bool {
	for _, v := range vals {
		ch <- v
	}
	return true
}

func (ch Chan) Dequeue(_ int, out []uint64) int {
	for i := range out {
		select {
		case out[i] = <-ch:
		default:
			return i
		}
	}
	return len(out)
}

// MutexRing is a ring of Size slots under a sync.Mutex: the lock taken
// once per bulk call.
type MutexRing struct {
	mu         sync.Mutex
	head, tail uint64
	ring       [Size]uint64
}

func (r *MutexRing) Enqueue(_ int, vals []uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if Size-(r.tail-r.head) < uint64(len(vals)) {
		return false
	}
	for _, v := range vals {
		r.ring[r.tail%Size] = v
		r.tail++
	}
	return true
}

func (r *MutexRing) Dequeue(_ int, out []uint64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(uint64(len(out)), r.tail-r.head)
	for i := range n {
		out[i] = r.ring[r.head%Size]
		r.head++
	}
	return int(n)
}

// Single drives q from the calling goroutine: b.N elements, each enqueued
// and dequeued once, bulk at a time. ns/op is the cost per element of one
// enqueue plus one dequeue.
func Single(b *testing.B, q Queue, bulk int) {
	vals, out := values(bulk), make([]uint64, bulk)
	b.ResetTimer()
	for done := 0; done < b.N; done += bulk {
		if !q.Enqueue(0, vals) {
			b.Fatalf("enqueue of %d into an empty queue refused", bulk)
		}
		if n := q.Dequeue(0, out); n != bulk {
			b.Fatalf("dequeue of %d gave %d", bulk, n)
		}
	}
}

// Oversubscribe lets Spread run more workers than the machine has CPUs
// (runtime.NumCPU). It is off by default: a worker is a CPU id of the
// alf_queue's machine, and CPU ids sharing a CPU measure the host's time
// slicing more than the queue (a worker spins on a counter that only a
// descheduled one can move). The package's tests set it with the test
// binary's -oversubscribe flag.
var Oversubscribe bool

// Fits says whether Spread runs workers workers here: no more than the
// CPUs, unless Oversubscribe.
func Fits(workers int) bool { return Oversubscribe || workers <= runtime.NumCPU() }

// Spread drives q from producers and consumers goroutines (workers 0.. are
// the producers, then the consumers): b.N elements in all, enqueued bulk
// at a time and dequeued up to bulk at a time, a worker yielding when its
// queue is full or empty. ns/op is the wall time per element. It skips b
// when the workers do not fit the machine (see Fits).
func Spread(b *testing.B, q Queue, bulk, producers, consumers int) {
	if workers := producers + consumers; !Fits(workers) {
		b.Skipf("%d producers + %d consumers are %d workers (CPU ids), more than the %d CPUs here: "+
			"the default never runs more CPU ids than CPUs (-oversubscribe runs it anyway)",
			producers, consumers, workers, runtime.NumCPU())
	}
	var consumed atomic.Int64
	total := int64(b.N)
	var prod, cons sync.WaitGroup
	b.ResetTimer()
	for p := range producers {
		share := b.N / producers
		if p < b.N%producers {
			share++
		}
		prod.Go(func() {
			vals, w := values(bulk), waiter{}
			for left := share; left > 0; {
				k := min(bulk, left)
				if q.Enqueue(p, vals[:k]) {
					left -= k
				} else {
					w.wait()
				}
			}
		})
	}
	for c := range consumers {
		cons.Go(func() {
			out, w := make([]uint64, bulk), waiter{}
			for consumed.Load() < total {
				if n := q.Dequeue(producers+c, out); n > 0 {
					consumed.Add(int64(n))
				} else {
					w.wait()
				}
			}
		})
	}
	prod.Wait()
	if cl, ok := q.(closer); ok {
		for consumed.Load() < total {
			runtime.Gosched()
		}
		cl.Close()
	}
	cons.Wait()
	b.StopTimer()
	if got := consumed.Load(); got != total {
		b.Fatalf("consumed %d of %d elements", got, total)
	}
}

// waiter spins while a queue is full or empty, yielding to the host
// scheduler every so often: yielding at every miss would measure the Go
// scheduler rather than the queue.
type waiter struct{ misses uint }

func (w *waiter) wait() {
	w.misses++
	if w.misses%64 == 0 {
		runtime.Gosched()
	}
}

// values returns n distinct non-zero values.
func values(n int) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		v[i] = uint64(i + 1)
	}
	return v
}
