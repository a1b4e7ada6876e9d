package bench

import (
	"flag"
	"fmt"
	"runtime"
	"testing"

	"github.com/Workiva/go-datastructures/queue"
	"github.com/puzpuzpuz/xsync/v4"
)

func init() {
	flag.BoolVar(&Oversubscribe, "oversubscribe", false, "run the producer/consumer benchmarks even with more CPU ids than CPUs")
}

func BenchmarkAlfMPMC(b *testing.B) {
	for _, bulk := range Bulks {
		b.Run(fmt.Sprintf("bulk=%d/1g", bulk), func(b *testing.B) { Single(b, NewAlfMPMC(1), bulk) })
		spread(b, fmt.Sprintf("bulk=%d/2p2c", bulk), func() Queue { return NewAlfMPMC(4) }, bulk, 2, 2)
	}
}

func BenchmarkAlfSPSC(b *testing.B) {
	for _, bulk := range Bulks {
		b.Run(fmt.Sprintf("bulk=%d/1g", bulk), func(b *testing.B) { Single(b, NewAlfSPSC(1), bulk) })
		spread(b, fmt.Sprintf("bulk=%d/1p1c", bulk), func() Queue { return NewAlfSPSC(2) }, bulk, 1, 1)
	}
}

// spread runs Spread of producers + consumers workers twice, as name at
// the run's GOMAXPROCS (the -cpu flag's, else runtime.NumCPU), and as
// name/gomaxprocs=W with GOMAXPROCS set to W, the number of workers (CPU
// ids), for its duration: one P per CPU id. Either skips when the workers
// do not fit the machine's CPUs (see Fits).
func spread(b *testing.B, name string, q func() Queue, bulk, producers, consumers int) {
	workers := producers + consumers
	b.Run(name, func(b *testing.B) { Spread(b, q(), bulk, producers, consumers) })
	b.Run(fmt.Sprintf("%s/gomaxprocs=%d", name, workers), func(b *testing.B) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(workers))
		Spread(b, q(), bulk, producers, consumers)
	})
}

// The other queues, one element at a time (none of them has a bulk
// operation; the mutex ring takes its lock once per bulk, so it also runs
// at 16).
func BenchmarkOthers(b *testing.B) {
	queues := []struct {
		name  string
		bulks []int
		make  func() Queue
	}{
		{"chan", []int{1}, func() Queue { return NewChan() }},
		{"mutex-ring", []int{1, 16}, func() Queue { return new(MutexRing) }},
		{"xsync.MPMCQueue", []int{1}, func() Queue { return xsyncQueue{xsync.NewMPMCQueue[uint64](Size)} }},
		{"datastructures.RingBuffer", []int{1}, func() Queue { return ringBuffer{queue.NewRingBuffer(Size)} }},
	}
	for _, q := range queues {
		for _, bulk := range q.bulks {
			b.Run(fmt.Sprintf("%s/bulk=%d/1g", q.name, bulk), func(b *testing.B) { Single(b, q.make(), bulk) })
			spread(b, fmt.Sprintf("%s/bulk=%d/2p2c", q.name, bulk), q.make, bulk, 2, 2)
		}
	}
}

func BenchmarkPool(b *testing.B) {
	for _, burst := range []int{1, 256} {
		for _, name := range Allocators {
			b.Run(fmt.Sprintf("burst=%d/%s", burst, name), func(b *testing.B) { PoolBurst(b, name, burst) })
		}
	}
}

// xsyncQueue is xsync's MPMCQueue, one element at a time.
type xsyncQueue struct{ q *xsync.MPMCQueue[uint64] }

// Enqueue puts the values one by one: the queue has no bulk operation, so
// a refusal part-way waits for room rather than undo.
func (x xsyncQueue) Enqueue(_ int, vals []uint64) bool {
	for i, v := range vals {
		for !x.q.TryEnqueue(v) {
			if i == 0 {
				return false
			}
		}
	}
	return true
}

func (x xsyncQueue) Dequeue(_ int, out []uint64) int {
	for i := range out {
		v, ok := x.q.TryDequeue()
		if !ok {
			return i
		}
		out[i] = v
	}
	return len(out)
}

// ringBuffer is go-datastructures' RingBuffer, one element at a time.
type ringBuffer struct{ r *queue.RingBuffer }

func (x ringBuffer) Enqueue(_ int, vals []uint64) bool {
	for _, v := range vals {
		if err := x.r.Put(v); err != nil {
			panic(err)
		}
	}
	return true
}

// Dequeue takes what Len promises; Get blocks when another consumer got
// there first, until an element comes or Close disposes of the ring.
func (x ringBuffer) Dequeue(_ int, out []uint64) int {
	n := min(int(x.r.Len()), len(out))
	for i := range n {
		v, err := x.r.Get()
		if err != nil {
			return i
		}
		out[i] = v.(uint64)
	}
	return n
}

func (x ringBuffer) Close() { x.r.Dispose() }
