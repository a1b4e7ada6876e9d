package bench

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kernelsim/lfsim/native"
	"github.com/kernelsim/lfsim/queue/alfnative"
)

// handQueue is the MP enqueue and MC dequeue of alf_queue written by hand
// with sync/atomic, as a Go programmer would without the simulator: the
// reference the generated native port is measured against. It lives in a
// test file on purpose: it is a yardstick, not a second implementation.
type handQueue struct {
	prodHead atomic.Uint32
	_        [60]byte
	prodTail atomic.Uint32
	_        [60]byte
	consHead atomic.Uint32
	_        [60]byte
	consTail atomic.Uint32
	_        [60]byte
	mask     uint32
	ring     []uint64
}

func newHandQueue(size int) *handQueue {
	return &handQueue{mask: uint32(size - 1), ring: make([]uint64, size)}
}

func (q *handQueue) mpEnqueue(vals []uint64) int {
	n := uint32(len(vals))
	var head, next uint32
	for {
		head = q.prodHead.Load()
		if n > q.mask+1+q.consTail.Load()-head {
			return 0
		}
		next = head + n
		if q.prodHead.CompareAndSwap(head, next) {
			break
		}
	}
	for i, v := range vals {
		q.ring[(head+uint32(i))&q.mask] = v
	}
	for q.prodTail.Load() != head {
		runtime.Gosched()
	}
	q.prodTail.Store(next)
	return int(n)
}

func (q *handQueue) mcDequeue(out []uint64) int {
	var head, elems uint32
	for {
		head = q.consHead.Load()
		elems = min(q.prodTail.Load()-head, uint32(len(out)))
		if elems == 0 {
			return 0
		}
		if q.consHead.CompareAndSwap(head, head+elems) {
			break
		}
	}
	for i := range elems {
		out[i] = q.ring[(head+i)&q.mask]
	}
	for q.consTail.Load() != head {
		runtime.Gosched()
	}
	q.consTail.Store(head + elems)
	return int(elems)
}

// TestHandQueueIsAQueue keeps the yardstick honest: FIFO, bulk, full and
// empty as alf_queue has them.
func TestHandQueueIsAQueue(t *testing.T) {
	q := newHandQueue(4)
	if q.mpEnqueue([]uint64{1, 2, 3}) != 3 || q.mpEnqueue([]uint64{4, 5}) != 0 || q.mpEnqueue([]uint64{4}) != 1 {
		t.Fatal("enqueue: want 3 in, 2 refused, 1 in")
	}
	out := make([]uint64, 8)
	if n := q.mcDequeue(out); n != 4 || fmt.Sprint(out[:n]) != "[1 2 3 4]" {
		t.Fatalf("dequeue gave %v", out[:n])
	}
	if q.mcDequeue(out) != 0 {
		t.Fatal("dequeue from empty gave something")
	}
}

// BenchmarkNativeOverHand measures the generated native alf_queue against
// the hand-written one, MP enqueue then MC dequeue of bulk elements on one
// goroutine, alternating between the two every 4096 elements so that both
// see the same machine. It reports each one's ns per element
// (enqueue+dequeue) and native/hand, the ratio the native build is to keep
// at or below 1.15 (bulk 1) and 1.05 (bulk 16).
//
// Measured on a 2-core AMD EPYC VM (go1.26), bulk 16 keeps it (about 0.9:
// the port copies four slots at a time) and bulk 1 does not: about 1.15 to
// 1.3 on an idle machine (1.05 to 1.2 while the other core is busy). The
// hot paths are 135 instructions to this queue's 109 (single-stepped, one
// element), spread over 16 64-byte lines of code to its 8. Function
// placement no longer matters (-ldflags=-funcalign=64 measures the same);
// it did while cmpxchg's result was compared once more after the swap
// (1.3 at 0 bytes modulo 64, 1.5 at 32), which nativegen now writes as
// the compare-and-swap it is. What remains is the port's own code, each
// part a few hundredths, together about 0.2 (measured by taking each out
// of a copy of the generated code): the options' tests (the slot copy's,
// with its call to the simple loop, and the MC tail's), counters behind
// pointers, masked to their width, and the unrolled copy's tests at one
// element.
func BenchmarkNativeOverHand(b *testing.B) {
	for _, bulk := range []int{1, 16} {
		b.Run(fmt.Sprintf("bulk=%d", bulk), func(b *testing.B) {
			m := native.NewMachine(1)
			c := m.CPU(0)
			nq, err := alfnative.New(m, "q", Size, alfnative.Options{})
			if err != nil {
				b.Fatal(err)
			}
			hq := newHandQueue(Size)
			vals, out := values(bulk), make([]uint64, bulk)
			const chunk = 4096
			var tn, th time.Duration
			b.ResetTimer()
			for done := 0; done < b.N; done += chunk {
				start := time.Now()
				for i := 0; i < chunk; i += bulk {
					nq.MPEnqueue(c, vals)
					nq.MCDequeue(c, out)
				}
				mid := time.Now()
				for i := 0; i < chunk; i += bulk {
					hq.mpEnqueue(vals)
					hq.mcDequeue(out)
				}
				tn, th = tn+mid.Sub(start), th+time.Since(mid)
			}
			elems := float64((b.N + chunk - 1) / chunk * chunk)
			b.ReportMetric(float64(tn.Nanoseconds())/elems, "native-ns/elem")
			b.ReportMetric(float64(th.Nanoseconds())/elems, "hand-ns/elem")
			b.ReportMetric(float64(tn)/float64(th), "native/hand")
			b.ReportMetric(0, "ns/op")
		})
	}
}
